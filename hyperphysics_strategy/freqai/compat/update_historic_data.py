"""Patches ``FreqaiDataDrawer.update_historic_data`` (freqtrade 2026.9): the live date bug.

Candles loaded from disk carry ``date`` as ``datetime64[ms, UTC]``; candles from the
exchange arrive as ``datetime64[us, UTC]`` with another tz object. The drawer's
``update_historic_data`` concatenates both, the column becomes ``object``, and from the
first new candle on every retrain fails while predictions keep using the first model.
:func:`install_history_date_fix` wraps that method so that, under ``dd.history_lock`` (made
re-entrant, held across the append and the fix), every stored ``date`` column is brought
back to ``datetime64[ms, UTC]`` right after the append: the training threads of a live
round (:mod:`..rounds`) read the history under the same lock.
"""

from __future__ import annotations

import functools
import logging
import threading
from typing import Any

from ..history_dates import normalise_date_column
from .fingerprint import Upstream

logger = logging.getLogger(__name__)

UPSTREAM = Upstream(
    "freqtrade.freqai.data_drawer",
    "FreqaiDataDrawer.update_historic_data",
    "2026.9",
    "08877d5f76f6581c452048b9b7edca14a44794031cb597202d3c0f378116de29",
)

_MARK = "_hyperphysics_dates_fixed"


def normalise_history(data_drawer: Any) -> int:
    """Normalise every stored history frame of a FreqAI data drawer; return frames changed."""
    changed = 0
    with data_drawer.history_lock:
        for timeframes in data_drawer.historic_data.values():
            for df in timeframes.values():
                changed += normalise_date_column(df)
    return changed


def install_history_date_fix(data_drawer: Any) -> None:
    """Wrap ``data_drawer.update_historic_data`` once so dates stay datetime64 after appends."""
    if getattr(data_drawer, _MARK, False):
        return
    original = data_drawer.update_historic_data
    # Re-entrant, so that the append (which takes the lock itself) and the fix happen in
    # one hold: a training thread never reads a frame between the two.
    data_drawer.history_lock = threading.RLock()

    @functools.wraps(original)
    def update_historic_data(*args: Any, **kwargs: Any) -> None:
        with data_drawer.history_lock:
            original(*args, **kwargs)
            changed = normalise_history(data_drawer)
        if changed:
            logger.debug("normalised the date column of %d history frames", changed)

    data_drawer.update_historic_data = update_historic_data
    setattr(data_drawer, _MARK, True)
