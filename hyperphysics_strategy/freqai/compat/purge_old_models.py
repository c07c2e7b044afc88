"""Replaces ``FreqaiDataDrawer.purge_old_models`` (freqtrade 2026.9): keep cached windows.

FreqAI keeps the newest ``purge_old_models`` model folders of each coin (``True``: 2) in
the identifier's folder and deletes the older ones. The replacement does the same, except
that it never deletes a folder whose backtest predictions are cached in
``backtesting_predictions/``: a later backtest over the same range loads those predictions
and the folder's metadata with them.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

from ..model_store import MODEL_FOLDER, cached_prediction
from .fingerprint import Upstream

logger = logging.getLogger(__name__)

UPSTREAM = Upstream(
    "freqtrade.freqai.data_drawer",
    "FreqaiDataDrawer.purge_old_models",
    "2026.9",
    "d87816a2c855986f40c470528b363996d215b8773af04c3ebbc435e940964809",
)


def purge_old_model_folders(full_path: Path, num_keep: int | bool) -> list[Path]:
    """FreqAI's ``purge_old_models``: keep the newest ``num_keep`` model folders of each coin
    (``True``: 2) and delete the older ones, except those whose backtest predictions are
    cached. Returns the deleted folders."""
    if not num_keep:
        return []
    keep = 2 if isinstance(num_keep, bool) else int(num_keep)
    by_coin: dict[str, list[tuple[int, Path]]] = {}
    for folder in Path(full_path).iterdir():
        match = MODEL_FOLDER.match(folder.name)
        if match is not None and folder.is_dir():
            by_coin.setdefault(match.group(1), []).append((int(match.group(2)), folder))
    deleted = []
    for folders in by_coin.values():
        for _, folder in sorted(folders)[: max(0, len(folders) - keep)]:
            prediction = cached_prediction(full_path, folder)
            if prediction is not None:
                logger.info(
                    "FreqAI purge: keeping %s, its predictions are cached in %s", folder, prediction
                )
                continue
            logger.info("Freqai purging old model file %s", folder)
            shutil.rmtree(folder)
            deleted.append(folder)
    return deleted


def install_purge_guard(data_drawer: Any) -> None:
    """Make the drawer's ``purge_old_models`` spare model folders with cached predictions."""

    def purge_old_models() -> None:
        purge_old_model_folders(
            data_drawer.full_path, data_drawer.freqai_info.get("purge_old_models", 0)
        )

    data_drawer.purge_old_models = purge_old_models
