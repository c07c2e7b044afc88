"""What a walk-forward's trades and predictions score: the search's objectives and the report's
columns (trades, net bp per trade with its standard error, Sharpe per trade, exit shares per
barrier, log-loss relative to the class prior)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from hyperphysics_strategy.ensemble.barriers import BUY, NEUTRAL, SELL
from hyperphysics_strategy.ensemble.sharpe import sharpe_ratio

#: the objectives, in Optuna's order, and their directions
OBJECTIVES = ("net_bp_per_trade", "relative_log_loss", "trades")
DIRECTIONS = ("maximize", "minimize", "maximize")


@dataclass(frozen=True)
class Score:
    trades: int
    net_bp_per_trade: float  # mean net return per trade after fees, in basis points
    se_bp: float  # its standard error
    sharpe: float  # per trade; NaN below two trades
    upper: float  # share of trades that exited at the take-profit barrier
    lower: float  # ... at the stop
    time: float  # ... at the time barrier
    relative_log_loss: float  # model log-loss minus the training prior's, per test row

    def objectives(self) -> tuple[float, float, float]:
        """The search's objectives (a trial without trades scores -inf bp... as a number Optuna
        can rank: -1e4 bp)."""
        bp = self.net_bp_per_trade if self.trades else -1e4
        return bp, self.relative_log_loss, float(self.trades)

    def to_dict(self) -> dict[str, float]:
        return {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in asdict(self).items()
        }


def score(pred: pd.DataFrame, trades: pd.DataFrame) -> Score:
    """Score the trades ``trades`` taken on the predictions ``pred``."""
    net = trades["net"].to_numpy(np.float64) if len(trades) else np.zeros(0)
    n = int(net.size)
    labels = trades["label"].to_numpy() if n else np.zeros(0)
    rel = float(np.mean(pred["ll_model"] - pred["ll_prior"])) if len(pred) else float("nan")
    return Score(
        trades=n,
        net_bp_per_trade=float(1e4 * net.mean()) if n else float("nan"),
        se_bp=float(1e4 * net.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan"),
        sharpe=sharpe_ratio(net),
        upper=float(np.mean(labels == BUY)) if n else float("nan"),
        lower=float(np.mean(labels == SELL)) if n else float("nan"),
        time=float(np.mean(labels == NEUTRAL)) if n else float("nan"),
        relative_log_loss=rel,
    )
