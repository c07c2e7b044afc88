"""The meta-label filter as a search option: the primary's bets kept by a meta-model.

Uses the package's meta-labelling (``trading/meta_label.py``, López de Prado): each bet of a
test block gets the probability that it pays from a model fitted only on the bets resolved
before that block began (the primary's earlier out-of-fold bets); a bet at or below 1/2 is
dropped. The first block (no earlier bets) and a block with too few keep every bet. The
trades left are the primary's non-overlapping ones minus the dropped (a dropped bet frees no
candle for another: the filter only removes).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import meta_label as ml
from ..walkforward import Evaluation

FEATURES = ("p_up", "p_down", "p_time", "ev_long", "sigma")


def meta_filtered(ev: Evaluation, trades: pd.DataFrame, timeframe_seconds: int) -> pd.DataFrame:
    """``trades`` (of ``ev``) without the bets the meta-model expects not to pay."""
    if trades.empty:
        return trades
    entered = pd.to_datetime(trades["date"]).to_numpy("datetime64[ns]").astype(np.int64)
    resolved = entered + trades["candles"].to_numpy(np.int64) * timeframe_seconds * 10**9
    starts = ev.predictions.groupby(["pair", "fold"])["date"].min()
    starts = np.unique(pd.to_datetime(starts).to_numpy("datetime64[ns]").astype(np.int64))
    p = ml.walk_forward_meta_probabilities(
        trades[list(FEATURES)].to_numpy(np.float64),
        ml.paid(trades["net"].to_numpy()),
        entered,
        resolved,
        starts,
    )
    return trades[~(p <= 0.5)]
