"""What a FreqAI model was trained with, recorded beside it and compared before reuse.

A model folder trained with another expert set, feature list or label configuration used
to be reused without a word after the config changed. The FreqAI model now hands the data
drawer an ``identity(dk, saving)`` (``HyperPhysicsEnsemble.model_identity``): ``{"experts":
[...], "features": [...], "labels": {...}}``. The crash-safe saves (:mod:`.model_store`)
write it to ``hyperphysics_model.json`` in the folder (under the manifest; also beside the
metadata of a backtest window saved without its model). Before a saved model or a window's
saved backtest predictions are reused, :func:`saved_model_change` compares it with what
the model would train with now; a difference retrains, with one log line (per folder)
naming which of the three changed. A value not known at that moment (``None``: live mode
loads before the strategy has computed its features) is not compared; a folder without
the file (an older version's) is retrained once.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: What the model was trained with, beside it in the folder (written with the manifest).
IDENTITY_FILE = "hyperphysics_model.json"
_IDENTITY = "_hyperphysics_identity"
_LOGGED = "_hyperphysics_retrain_logged"
#: Set on a data kitchen: the feature columns of the frame FreqAI is about to train on.
CURRENT_FEATURES = "hyperphysics_current_features"
#: ``identity(dk, saving)``: ``{"experts": [...], "features": [...], "labels": {...}}``.
Identity = Callable[[Any, bool], dict[str, Any]]
_WHAT = {"experts": "expert set", "features": "feature list", "labels": "label configuration"}


def note_features(dk: Any, frame: Any) -> None:
    """Record on ``dk`` the feature columns (FreqAI's: names with ``%``) of the frame it is
    about to train on, for the comparison before a saved model is reused."""
    setattr(dk, CURRENT_FEATURES, [c for c in frame.columns if "%" in c])


def _differs(saved: Any, now: Any) -> bool:
    if now is None:  # not known now: not compared
        return False
    if isinstance(now, dict) and isinstance(saved, dict):
        return any(_differs(saved.get(k), v) for k, v in now.items())
    return saved != now


def _describe(key: str, saved: Any, now: Any) -> str:
    if key == "features" and isinstance(saved, list) and isinstance(now, list):
        added = [f for f in now if f not in saved]
        removed = [f for f in saved if f not in now]
        if not added and not removed:
            return f"the same {len(now)} features in another order"
        return f"{len(saved)} features, now {len(now)}: added {added[:3]}, removed {removed[:3]}"
    if isinstance(saved, dict) and isinstance(now, dict):
        keys = [k for k, v in now.items() if _differs(saved.get(k), v)]
        return "; ".join(f"{k} {saved.get(k)!r}, now {now[k]!r}" for k in keys)
    return f"saved {saved!r}, now {now!r}"


def saved_model_change(data_drawer: Any, dk: Any, folder: Path | None = None) -> str | None:
    """Why the saved model in ``folder`` (default ``dk.data_path``) must not be reused:
    another expert set, feature list or label configuration than the model's now; else
    ``None`` (also when the drawer was installed without an ``identity``)."""
    identity = getattr(data_drawer, _IDENTITY, None)
    if identity is None:
        return None
    path = Path(dk.data_path if folder is None else folder) / IDENTITY_FILE
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return f"{path.name} is missing or unreadable (saved by an older version)"
    now = identity(dk, False)
    for key, what in _WHAT.items():
        if _differs(saved.get(key), now.get(key)):
            return (
                f"it was trained with another {what} ({_describe(key, saved.get(key), now[key])})"
            )
    return None


def set_identity(data_drawer: Any, identity: Identity | None) -> None:
    setattr(data_drawer, _IDENTITY, identity)
    setattr(data_drawer, _LOGGED, set())


def log_once(data_drawer: Any, folder: Path, message: str, *args: Any) -> None:
    """Log ``message`` once per model folder (a window prepared ahead is checked twice)."""
    logged = getattr(data_drawer, _LOGGED, None)
    if logged is None or str(folder) not in logged:
        logger.warning(message, *args)
        if logged is not None:
            logged.add(str(folder))
