"""Replaces ``FreqaiDataDrawer.save_drawer_to_disk`` (freqtrade 2026.9): ``pair_dictionary.json``.

FreqAI writes the pair dictionary in place under ``save_lock``; a kill mid-write leaves a
truncated file that the next start cannot read. The replacement writes the same JSON
(the drawer's ``np_encoder``, rapidjson's native numbers) to a temporary file and renames it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..model_store import write_json_atomic
from .fingerprint import Upstream

UPSTREAM = Upstream(
    "freqtrade.freqai.data_drawer",
    "FreqaiDataDrawer.save_drawer_to_disk",
    "2026.9",
    "b9614d0bada318fb9ea061fba439e7f323e99a2bc99be51fe48f487c579b7de7",
)


def atomic_save_drawer_to_disk(data_drawer: Any) -> Callable[[], None]:
    """The drawer's ``save_drawer_to_disk``, written atomically."""

    def save_drawer_to_disk() -> None:
        with data_drawer.save_lock:
            write_json_atomic(
                data_drawer.pair_dictionary_path, data_drawer.pair_dict, data_drawer.np_encoder
            )

    return save_drawer_to_disk
