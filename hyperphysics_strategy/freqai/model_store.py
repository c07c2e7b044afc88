"""Crash-safe FreqAI model folders: written atomically, verified before unpickling.

FreqAI's ``FreqaiDataDrawer.save_data`` writes ``<data_path>/<name>_model.joblib`` (a
cloudpickle), the metadata json and the pipeline pickles in place: a kill leaves an empty
or half-written model, and one flipped byte makes cloudpickle hand corrupt bytes to
XGBoost's ``__setstate__`` (SIGSEGV). The drawer's methods are wrapped once
(:func:`..compat.drawer.install_crash_safe_saves`, one module per drawer method):

* ``save_data`` writes the whole folder into a hidden staging folder, adds
  ``manifest.json`` (sha256 of each file) last and renames it onto ``data_path``
  (:mod:`..engine.manifest`); ``pair_dictionary.json`` is written only afterwards, so it
  never points at a folder that is not complete.
* ``save_drawer_to_disk`` writes ``pair_dictionary.json`` to a temporary file and renames
  it.
* ``load_data`` verifies the folder against its manifest before cloudpickle reads a byte.
  A corrupt folder is refused with an error naming the file; in live mode the pair is
  reset to "never trained" so FreqAI returns empty predictions for the candle and
  retrains (a model already in memory is kept), in backtesting the error is raised.
* ``purge_old_models`` (keep the newest N model folders per pair) never deletes a folder
  whose backtest predictions are cached in ``backtesting_predictions/``: a later backtest
  over the same range loads those predictions and the folder's metadata with them.

``HyperPhysicsEnsemble.model_exists`` uses :func:`verified_model_folder` so a backtest
retrains a window whose saved model is corrupt instead of loading it.

Given an ``identity`` (:mod:`.model_identity`: the expert set, feature list and label
configuration), ``save_data`` and ``save_metadata`` also write it beside the model, and
``load_data`` in live mode treats a model trained with other ones as it treats a corrupt
one: the pair retrains, with one log line naming what changed.

This module holds the file-level pieces those wrappers share.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import rapidjson
from freqtrade.freqai.data_drawer import METADATA

from hyperphysics_strategy.engine.manifest import (
    CorruptSaveError,
    fsync_dir,
    recover,
    verify_manifest,
)

#: Files of a FreqAI model folder written by a version without manifests (replaceable).
LEGACY_MARKERS = ("*_model.joblib", f"*_{METADATA}.json")


def verified_model_folder(data_path: Path) -> CorruptSaveError | None:
    """``None`` when the model folder matches its manifest, else the error naming the file."""
    data_path = Path(data_path)
    recover(data_path)
    try:
        verify_manifest(data_path)
    except CorruptSaveError as exc:
        return exc
    return None


def write_json_atomic(
    path: Path, obj: Any, default: Any, number_mode: int = rapidjson.NM_NATIVE
) -> None:
    """Write ``obj`` as JSON to ``path`` through a temporary file, fsynced and renamed."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w") as fp:
        rapidjson.dump(obj, fp, default=default, number_mode=number_mode)
        fp.flush()
        os.fsync(fp.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


#: A FreqAI model folder: ``sub-train-<COIN>_<timestamp>``.
MODEL_FOLDER = re.compile(r"^sub-train-(.+)_(\d{10})$")


def cached_prediction(full_path: Path, folder: Path) -> Path | None:
    """The backtest prediction file FreqAI cached for the model folder ``folder``
    (``sub-train-<COIN>_<ts>`` -> ``backtesting_predictions/cb_<coin>_<ts>_prediction.feather``),
    or ``None`` when there is none."""
    match = MODEL_FOLDER.match(folder.name)
    if match is None:
        return None
    coin, stamp = match.groups()
    path = (
        Path(full_path)
        / "backtesting_predictions"
        / f"cb_{coin.lower()}_{stamp}_prediction.feather"
    )
    return path if path.is_file() else None
