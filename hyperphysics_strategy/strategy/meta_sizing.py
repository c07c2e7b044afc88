"""``hyperphysics.meta_label``: the strategy's meta-labelling filter and stake sizing (off by
default).

The EV rule proposes bets (``enter_long`` / ``enter_short``); :func:`apply_meta_label` asks a
second classifier (:mod:`hyperphysics_strategy.trading.meta_label`) whether each pays. Its
training bets are the strategy's own earlier entries on the same dataframe, labelled by their
triple-barrier outcome after fees (the label's barriers, exit at the first touch or after
``h`` candles). FreqAI predicts every candle with a model trained before it, so these bets
are out of sample for the primary model, and a bet trains the meta-model only once its
outcome was known before the meta-model's block (``refit_hours``, epoch-anchored) began.

Each entry gets ``hp_meta_p`` (the probability that it pays) and ``hp_meta_size`` (the stake
fraction, :func:`~hyperphysics_strategy.trading.meta_label.bet_size`); an entry with no
meta-model yet, or with a probability at or below the threshold, is dropped.
:class:`MetaSizedStakes` (a mixin of the strategy) scales the stake by ``hp_meta_size``.
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import numpy as np
import pandas as pd

from hyperphysics_strategy.trading.bet import BetSpec
from hyperphysics_strategy.trading.labels import barrier_outcome
from hyperphysics_strategy.trading.meta_label import bet_size, paid, walk_forward_meta_probabilities

from . import features
from .settings import MetaLabelSettings
from .trade_barriers import SIGMA

META_P = "hp_meta_p"  # dataframe: probability that the entry's bet pays
META_SIZE = "hp_meta_size"  # dataframe: the entry's stake fraction
#: (signal column, EV column, barrier side) of each side the meta-model filters
SIDES = (("enter_long", "hp_ev_long", "long"), ("enter_short", "hp_ev_short", "short"))


def meta_features(df: pd.DataFrame, ev: pd.Series, scale: pd.Series, horizon: int) -> np.ndarray:
    """What the meta-model sees at each candle: the primary's three probabilities, its EV in
    units of ``scale`` (sigma * sqrt(h)), the barrier sigma, and the last ``horizon`` candles'
    return in the same units."""
    momentum = np.log(df["close"] / df["close"].shift(horizon)) / scale
    columns = [df[c] for c in features.CLASSES] + [ev / scale, df[SIGMA], momentum]
    x = np.column_stack([np.asarray(c, dtype=np.float64) for c in columns])
    return np.where(np.isfinite(x), x, np.nan)


def block_starts(dates: pd.Series, hours: float) -> np.ndarray:
    """Positions of the first candle of each ``hours`` block, blocks anchored to the epoch."""
    seconds = dates.astype("datetime64[s, UTC]").astype("int64").to_numpy()
    blocks = seconds // max(1, round(hours * 3600))
    return np.flatnonzero(np.r_[True, blocks[1:] != blocks[:-1]])


def apply_meta_label(
    df: pd.DataFrame, settings: MetaLabelSettings, bet: BetSpec, scale: pd.Series
) -> None:
    """Filter and size ``df``'s entries in place (see the module's docstring). A bet's
    outcome is ``bet``'s triple barrier from the signal candle's close, its net return
    after ``bet.fee`` on each side as the walk-forward evaluator counts it."""
    df[META_P] = np.nan
    df[META_SIZE] = np.nan
    starts = block_starts(df["date"], settings.refit_hours)
    positions = np.arange(len(df))
    for signal, ev, side in SIDES:
        if signal not in df.columns or ev not in df.columns:
            continue
        bets = np.flatnonzero(df[signal].to_numpy() == 1)
        outcome, bad = barrier_outcome(df, bet.horizon, bet.vol_window, bet.k_up, bet.k_down, side)
        sign = 1.0 if side == "long" else -1.0
        net = np.exp(sign * outcome.log_return) * (1 - bet.fee) / (1 + bet.fee) - 1
        labels = paid(np.where(bad, np.nan, net))
        x = meta_features(df, df[ev], scale, bet.horizon)
        p = walk_forward_meta_probabilities(
            x[bets], labels[bets], positions[bets], bets + outcome.candles[bets], starts,
            min_bets=settings.min_bets,
        )  # fmt: skip
        size = bet_size(p, settings.threshold)
        df.iloc[bets, df.columns.get_loc(META_P)] = p
        df.iloc[bets, df.columns.get_loc(META_SIZE)] = size
        dropped = bets[~(size > 0)]  # no meta-model yet (NaN) or not worth it
        df.iloc[dropped, df.columns.get_loc(signal)] = 0
        if "enter_tag" in df.columns:
            df.iloc[dropped, df.columns.get_loc("enter_tag")] = None


def scaled_stake(row: pd.Series | None, stake: float, min_stake: float | None) -> float:
    """``stake`` times the signal candle's ``hp_meta_size`` (unchanged without one); 0, which
    makes freqtrade skip the entry, when the scaled stake falls below ``min_stake``."""
    size = float(row.get(META_SIZE, math.nan)) if row is not None else math.nan
    if not math.isfinite(size):
        return stake
    scaled = stake * size
    return 0.0 if min_stake is not None and scaled < min_stake else scaled


class MetaSizedStakes:
    """``custom_stake_amount`` of the next class in the strategy's bases (the VaR-budget
    stake), scaled by :func:`scaled_stake` when ``hyperphysics.meta_label`` is on. A mixin:
    it reads the strategy's ``settings`` and ``_last_row``."""

    def custom_stake_amount(self, *args: Any, **kwargs: Any) -> float:
        """freqtrade's arguments, by keyword (as freqtrade passes them) or by position."""
        base = super().custom_stake_amount  # type: ignore[misc]
        stake = base(*args, **kwargs)
        if not self.settings.meta_label.enabled:
            return stake
        given = inspect.signature(base).bind(*args, **kwargs).arguments
        return scaled_stake(self._last_row(given["pair"]), stake, given.get("min_stake"))
