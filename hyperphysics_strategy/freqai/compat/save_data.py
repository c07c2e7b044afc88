"""Wraps ``FreqaiDataDrawer.save_data`` (freqtrade 2026.9): a model folder committed whole.

FreqAI's ``save_data`` writes the model, its metadata json and the pipeline pickles into
``dk.data_path`` in place, then saves ``pair_dictionary.json`` (``save_drawer_to_disk``)
and records the folder in ``pair_dict``. The wrapper points ``dk.data_path`` at a staging
folder for the call (:func:`..engine.manifest.staged_directory`: manifest last, one
rename), holds the pair dictionary back until the folder is committed, rewrites the
metadata json with the real folder's path, and records the model identity beside it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from freqtrade.freqai.data_drawer import METADATA, METADATA_NUMBER_MODE

from hyperphysics_strategy.engine.manifest import staged_directory

from ..model_identity import IDENTITY_FILE, Identity
from ..model_store import LEGACY_MARKERS, write_json_atomic
from .fingerprint import Upstream

UPSTREAM = Upstream(
    "freqtrade.freqai.data_drawer",
    "FreqaiDataDrawer.save_data",
    "2026.9",
    "452afb851db111f3297f14fd422242c34d2d10a49dbfb3bdd20abf6c05074d02",
)


def staged_save_data(
    data_drawer: Any, identity: Identity | None, save_drawer_to_disk: Callable[[], None]
) -> Callable[[Any, str, Any], None]:
    """The drawer's ``save_data``, committing the model folder by one rename;
    ``save_drawer_to_disk``: the drawer's (atomic) pair-dictionary save."""
    original = data_drawer.save_data

    @functools.wraps(original)
    def save_data(model: Any, coin: str, dk: Any) -> None:
        final = Path(dk.data_path)
        deferred: list[bool] = []
        with staged_directory(final, markers=LEGACY_MARKERS) as staging:
            dk.data_path = staging
            # FreqAI saves pair_dictionary.json inside save_data: hold it until the commit
            data_drawer.save_drawer_to_disk = lambda: deferred.append(True)
            try:
                original(model, coin, dk)
            finally:
                dk.data_path = final
                data_drawer.save_drawer_to_disk = save_drawer_to_disk
            # the metadata FreqAI just wrote names the staging folder: name the real one
            dk.data["data_path"] = str(final)
            write_json_atomic(
                staging / f"{dk.model_filename}_{METADATA}.json",
                dk.data,
                data_drawer.np_encoder,
                METADATA_NUMBER_MODE,
            )
            if identity is not None:
                write_json_atomic(staging / IDENTITY_FILE, identity(dk, True), None)
        data_drawer.pair_dict[coin]["data_path"] = str(final)
        if deferred:
            save_drawer_to_disk()

    return save_data
