"""How a bet ends: the names of its exits and of its entries.

A trade is the triple-barrier bet (:mod:`.barriers`): it ends at the take-profit barrier, at
the stop (the lower barrier of a long, or the ES stop the strategy also keeps), at the time
barrier ``h`` candles after entry, or otherwise (the static stoploss cap, the end of a
backtest). These are the kinds a backtest's exits are sorted into, in the order they are
printed, with their labels.
"""

from __future__ import annotations

#: The exit reason the strategy gives freqtrade at the time barrier (``custom_exit``).
TIME_BARRIER = "time_barrier"
#: The entry tags of the EV rule's two sides.
ENTER_LONG, ENTER_SHORT = "ev_long", "ev_short"

#: Exit kinds in the order they are printed, with their labels. ``other``: the static
#: stoploss cap, freqtrade's force exit at the end of the backtest, anything else.
EXIT_KINDS = {
    "take_profit": "take-profit (upper barrier)",
    "lower_barrier": "stop at the lower barrier",
    "es_stop": "stop at the ES stop",
    TIME_BARRIER: "time barrier",
    "other": "other",
}
