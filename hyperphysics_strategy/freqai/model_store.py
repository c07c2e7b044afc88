"""Crash-safe FreqAI model folders: written atomically, verified before unpickling.

FreqAI's ``FreqaiDataDrawer.save_data`` writes ``<data_path>/<name>_model.joblib`` (a
cloudpickle), the metadata json and the pipeline pickles in place: a kill leaves an empty
or half-written model, and one flipped byte makes cloudpickle hand corrupt bytes to
XGBoost's ``__setstate__`` (SIGSEGV). We wrap the drawer's methods once:

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

``install_purge_guard`` replaces the drawer's ``purge_old_models`` (keep the newest N model
folders per pair) with one that never deletes a folder whose backtest predictions are
cached in ``backtesting_predictions/``: a later backtest over the same range loads those
predictions and the folder's metadata with them.

``HyperPhysicsEnsemble.model_exists`` uses :func:`verified_model_folder` so a backtest
retrains a window whose saved model is corrupt instead of loading it.

Given an ``identity`` (:mod:`.model_identity`: the expert set, feature list and label
configuration), ``save_data`` and ``save_metadata`` also write it beside the model, and
``load_data`` in live mode treats a model trained with other ones as it treats a corrupt
one: the pair retrains, with one log line naming what changed.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any

import rapidjson
from freqtrade.freqai.data_drawer import METADATA, METADATA_NUMBER_MODE

from hyperphysics_strategy.engine.manifest import (
    CorruptSaveError,
    fsync_dir,
    recover,
    staged_directory,
    verify_manifest,
)

from .model_identity import IDENTITY_FILE, Identity, saved_model_change, set_identity

logger = logging.getLogger(__name__)

_MARK = "_hyperphysics_crash_safe"
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


def _write_json_atomic(
    path: Path, obj: Any, default: Any, number_mode: int = rapidjson.NM_NATIVE
) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w") as fp:
        rapidjson.dump(obj, fp, default=default, number_mode=number_mode)
        fp.flush()
        os.fsync(fp.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def install_crash_safe_saves(data_drawer: Any, identity: Identity | None = None) -> None:
    """Wrap ``save_data``, ``load_data`` and ``save_drawer_to_disk`` of a FreqAI data drawer;
    with ``identity``, record it beside each saved model and compare it before reuse."""
    if getattr(data_drawer, _MARK, False):
        return
    set_identity(data_drawer, identity)
    original_save_metadata = data_drawer.save_metadata
    original_save = data_drawer.save_data
    original_load = data_drawer.load_data

    def save_drawer_to_disk() -> None:
        with data_drawer.save_lock:
            _write_json_atomic(
                data_drawer.pair_dictionary_path, data_drawer.pair_dict, data_drawer.np_encoder
            )

    @functools.wraps(original_save)
    def save_data(model: Any, coin: str, dk: Any) -> None:
        final = Path(dk.data_path)
        deferred: list[bool] = []
        with staged_directory(final, markers=LEGACY_MARKERS) as staging:
            dk.data_path = staging
            # FreqAI saves pair_dictionary.json inside save_data: hold it until the commit
            data_drawer.save_drawer_to_disk = lambda: deferred.append(True)
            try:
                original_save(model, coin, dk)
            finally:
                dk.data_path = final
                data_drawer.save_drawer_to_disk = save_drawer_to_disk
            # the metadata FreqAI just wrote names the staging folder: name the real one
            dk.data["data_path"] = str(final)
            _write_json_atomic(
                staging / f"{dk.model_filename}_{METADATA}.json",
                dk.data,
                data_drawer.np_encoder,
                METADATA_NUMBER_MODE,
            )
            if identity is not None:
                _write_json_atomic(staging / IDENTITY_FILE, identity(dk, True), None)
        data_drawer.pair_dict[coin]["data_path"] = str(final)
        if deferred:
            save_drawer_to_disk()

    @functools.wraps(original_load)
    def load_data(coin: str, dk: Any) -> Any:
        info = data_drawer.pair_dict.get(coin) or {}
        from_memory = dk.live and coin in data_drawer.model_dictionary
        if info.get("model_filename") and not from_memory:
            path = Path(info["data_path"]) if dk.live else Path(dk.data_path)
            problem = verified_model_folder(path)
            if problem is not None and not dk.live:
                raise problem
            change = saved_model_change(data_drawer, dk, path) if problem is None else None
            if problem is not None:
                logger.error(
                    "FreqAI model for %s refused: %s. Its predictions stay empty until it "
                    "is retrained.",
                    coin,
                    problem,
                )
            elif change:
                logger.warning("HyperPhysics %s: retraining %s: %s", coin, path.name, change)
            if problem is not None or change:
                data_drawer.pair_dict[coin] = dict(data_drawer.empty_pair_dict)
                data_drawer.meta_data_dictionary.pop(coin, None)
                save_drawer_to_disk()
                return None
        return original_load(coin, dk)

    @functools.wraps(original_save_metadata)
    def save_metadata(dk: Any) -> None:  # a backtest window saved without its model
        original_save_metadata(dk)
        if identity is not None:
            _write_json_atomic(Path(dk.data_path) / IDENTITY_FILE, identity(dk, True), None)

    data_drawer.save_data = save_data
    data_drawer.save_metadata = save_metadata
    data_drawer.load_data = load_data
    data_drawer.save_drawer_to_disk = save_drawer_to_disk
    setattr(data_drawer, _MARK, True)


_MODEL_FOLDER = re.compile(r"^sub-train-(.+)_(\d{10})$")


def cached_prediction(full_path: Path, folder: Path) -> Path | None:
    """The backtest prediction file FreqAI cached for the model folder ``folder``
    (``sub-train-<COIN>_<ts>`` -> ``backtesting_predictions/cb_<coin>_<ts>_prediction.feather``),
    or ``None`` when there is none."""
    match = _MODEL_FOLDER.match(folder.name)
    if match is None:
        return None
    coin, stamp = match.groups()
    path = (
        Path(full_path)
        / "backtesting_predictions"
        / f"cb_{coin.lower()}_{stamp}_prediction.feather"
    )
    return path if path.is_file() else None


def purge_old_model_folders(full_path: Path, num_keep: int | bool) -> list[Path]:
    """FreqAI's ``purge_old_models``: keep the newest ``num_keep`` model folders of each coin
    (``True``: 2) and delete the older ones, except those whose backtest predictions are
    cached. Returns the deleted folders."""
    if not num_keep:
        return []
    keep = 2 if isinstance(num_keep, bool) else int(num_keep)
    by_coin: dict[str, list[tuple[int, Path]]] = {}
    for folder in Path(full_path).iterdir():
        match = _MODEL_FOLDER.match(folder.name)
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
