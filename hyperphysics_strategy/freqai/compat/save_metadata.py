"""Wraps ``FreqaiDataDrawer.save_metadata`` (freqtrade 2026.9): a window saved without its model.

A backtest that does not save models (``save_backtest_models`` false) still saves each
window's metadata json; the wrapper writes the model identity beside it, so that the
window's cached predictions are reused only with the same expert set, features and labels.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..model_identity import IDENTITY_FILE, Identity
from ..model_store import write_json_atomic
from .fingerprint import Upstream

UPSTREAM = Upstream(
    "freqtrade.freqai.data_drawer",
    "FreqaiDataDrawer.save_metadata",
    "2026.9",
    "ba882b93603a477e047e6b7bc2aeeca71a91bb365245ba76d39631b5de4d5b30",
)


def identity_save_metadata(data_drawer: Any, identity: Identity) -> Callable[[Any], None]:
    """The drawer's ``save_metadata``, with ``identity`` written beside the metadata."""
    original = data_drawer.save_metadata

    @functools.wraps(original)
    def save_metadata(dk: Any) -> None:
        original(dk)
        write_json_atomic(Path(dk.data_path) / IDENTITY_FILE, identity(dk, True), None)

    return save_metadata
