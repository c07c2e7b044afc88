"""What a walk-forward scores: the search's objectives and the report's columns.

The trade statistics are the evaluator's (:class:`~..walkforward.TradeStats`); the log-loss
is the model's on every test row minus that of each test block's own class frequencies (a
prior that knows the block: below 0 only where the model beats it).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ..walkforward import Evaluation, TradeStats
from .folds import timeframe_seconds
from .meta import meta_filtered
from .spec import TrialSpec

#: the objectives, in Optuna's order, and their directions
OBJECTIVES = ("net_bp_per_trade", "relative_log_loss", "trades")
DIRECTIONS = ("maximize", "minimize", "maximize")
#: the net expectancy Optuna is told for a trial without trades (it needs a number)
NO_TRADES_BP = -1e4
COLUMNS = {"buy": 2, "neutral": 1, "sell": 0}
PROBA = {"buy": "p_up", "neutral": "p_time", "sell": "p_down"}


@dataclass(frozen=True)
class Score:
    trades: int
    net_bp_per_trade: float  # mean net return per trade after fees, in basis points
    se_bp: float  # its standard error
    sharpe: float  # per trade; NaN below two trades
    upper: float  # share of trades that exited at the take-profit barrier
    lower: float  # ... at the stop
    time: float  # ... at the time barrier
    relative_log_loss: float  # model log-loss minus the block prior's, per test row

    def objectives(self) -> tuple[float, float, float]:
        bp = self.net_bp_per_trade if self.trades else NO_TRADES_BP
        ll = self.relative_log_loss if math.isfinite(self.relative_log_loss) else 1.0
        return bp, ll, float(self.trades)

    def to_dict(self) -> dict[str, float | None]:
        return {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in asdict(self).items()
        }


def relative_log_loss(pred) -> float:
    """Mean log-loss of the probabilities minus that of each (pair, fold) block's class
    frequencies, over every test row."""
    if len(pred) == 0:
        return float("nan")
    codes = pred["label"].to_numpy().astype(np.int64)
    p = np.column_stack([pred[PROBA[c]].to_numpy() for c in ("sell", "neutral", "buy")])
    model = -np.log(np.clip(p[np.arange(len(codes)), codes], 1e-12, 1.0))
    block = pred.groupby(["pair", "fold"], sort=False)["label"]
    freq = np.ones(len(pred))
    for _, idx in block.groups.items():
        c = codes[pred.index.get_indexer(idx)]
        counts = np.bincount(c, minlength=3)
        freq[pred.index.get_indexer(idx)] = counts[c] / len(c)
    return float(np.mean(model + np.log(freq)))


def rule_trades(ev: Evaluation, spec: TrialSpec) -> pd.DataFrame:
    """The trial's trades: the EV rule's at its margin, less the bets the meta-label filter
    drops when the trial uses it."""
    tr = ev.trades(ev.bet.margin)
    return meta_filtered(ev, tr, timeframe_seconds(spec.timeframe)) if spec.meta_label else tr


def score(ev: Evaluation, trades: pd.DataFrame) -> Score:
    """Score ``trades`` taken on ``ev``'s predictions."""
    st = TradeStats.of(trades)
    return Score(
        trades=st.trades,
        net_bp_per_trade=1e4 * st.mean,
        se_bp=1e4 * st.se,
        sharpe=st.sharpe,
        upper=st.upper,
        lower=st.lower,
        time=st.time,
        relative_log_loss=relative_log_loss(ev.predictions),
    )
