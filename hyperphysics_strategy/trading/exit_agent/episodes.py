"""Trades of the entry rule as exit episodes: what an exit policy sees and what it earns.

An episode is one long trade entered at the close of a signal candle ``t`` (freqtrade
fills at the next candle's open, the same price up to the gap) with the barriers of the
bet (:class:`~hyperphysics_strategy.trading.bet.BetSpec`) fixed from that candle's sigma:
take-profit and stop at its distances above and below the entry, time barrier after ``h``
candles. Step ``s``
(``0 .. h-1``) is candle ``t+1+s``:

1. the barriers are hard limits: when its low reaches the stop the trade exits at the
   stop (at the open when the candle opened beyond it), else when its high reaches the
   take-profit it exits there (a candle touching both counts as the stop, as freqtrade
   checks its stop first); at step ``h-1`` with no touch it exits at the close (the time
   barrier, freqtrade's exit at the next open);
2. otherwise the policy sees the observation at the candle's close and either holds or
   exits at that close.

Every exit earns the trade's net return after fees, freqtrade's profit ratio
``exit (1 - fee) / (entry (1 + fee)) - 1`` (:func:`net_return`). Nothing in an observation
comes from a candle after its step (:func:`observe`; the causality test appends candles).

The observation (:data:`OBS_COLUMNS`) is the same function live (the strategy's
``custom_exit``) and here: the unrealised log return in barrier units (``sigma x sqrt(h)``
at entry), the time spent against the horizon, the up/down probabilities now and their
change since entry, volatility and one-day VaR now against entry, and the order-book
imbalance and centroid distance when the candles carry them (else 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..barriers import horizon_sigma
from ..bet import BetSpec

#: What a policy sees at a step, in this order.
OBS_COLUMNS = (
    "ret_sigma",
    "time_frac",
    "p_up",
    "p_down",
    "dp_up",
    "dp_down",
    "vol_ratio",
    "var_ratio",
    "ob_imbalance",
    "ob_centroid",
)
#: Candle columns the observation reads when present (probabilities, VaR, order book).
OPTIONAL = {
    "p_up": "buy",
    "p_down": "sell",
    "var": "hp_var_99_1d",
    "ob_imbalance": "hp_ob_imbalance_5",
    "ob_centroid": "hp_ob_centroid_distance",
}
REQUIRED = ("open", "high", "low", "close", "hp_sigma")
#: How an episode ended (``Episodes.reason``); ``agent`` only in evaluations.
REASONS = ("take_profit", "stop", "time_barrier", "agent")
TAKE, STOP, TIME, AGENT = range(4)
CLIP = 10.0


def net_return(entry: np.ndarray | float, exit_price: np.ndarray | float, fee: float):
    """freqtrade's profit ratio of a long after ``fee`` on each side."""
    return np.asarray(exit_price) * (1 - fee) / (np.asarray(entry) * (1 + fee)) - 1


def observe(
    close, entry, sigma0, horizon: int, step, p_up, p_down, p_up0, p_down0, sigma, var, var0,
    ob_imbalance, ob_centroid,
) -> np.ndarray:  # fmt: skip
    """Observation rows (``(..., len(OBS_COLUMNS))``) from values known at the step's close;
    arguments broadcast. NaN inputs (no probability, VaR or book yet) read as 0, every entry
    is clipped to +-10."""
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = horizon_sigma(sigma0, horizon)
        parts = [
            np.log(np.asarray(close, dtype=np.float64) / entry) / scale,
            (np.asarray(step, dtype=np.float64) + 1) / horizon,
            p_up,
            p_down,
            np.asarray(p_up, dtype=np.float64) - p_up0,
            np.asarray(p_down, dtype=np.float64) - p_down0,
            np.asarray(sigma, dtype=np.float64) / sigma0 - 1,
            np.asarray(var, dtype=np.float64) / var0 - 1,
            ob_imbalance,
            ob_centroid,
        ]
        out = np.stack(np.broadcast_arrays(*[np.asarray(p, dtype=np.float64) for p in parts]), -1)
    return np.clip(np.nan_to_num(out, nan=0.0, posinf=CLIP, neginf=-CLIP), -CLIP, CLIP)


def candle_arrays(candles: pd.DataFrame) -> dict[str, np.ndarray]:
    """The float columns episodes read (optional ones NaN when absent); raises ``ValueError``
    naming a missing required column."""
    missing = [c for c in REQUIRED if c not in candles.columns]
    if missing:
        raise ValueError(f"exit episodes need candle columns {missing} (have {list(candles)})")
    out = {c: candles[c].to_numpy(dtype=np.float64) for c in REQUIRED}
    for key, column in OPTIONAL.items():
        present = column in candles.columns
        out[key] = (
            candles[column].to_numpy(np.float64) if present else np.full(len(candles), np.nan)
        )
    return out


@dataclass(frozen=True)
class Episodes:
    """Episodes of one candle series, one row per (episode, step) while the trade is open.

    ``entry_index``: signal candle of each episode; per row: ``episode``, ``step``, ``obs``
    (the observation at the step's close, meaningful where not ``forced``),
    ``exit_reward`` (the net return of exiting at this close), ``forced`` (a barrier ends
    the trade at this step, before the policy acts), ``reward`` (the forced exit's net
    return, else ``exit_reward``) and ``reason`` (the forced exit's reason, else ``AGENT``).
    """

    entry_index: np.ndarray
    episode: np.ndarray
    step: np.ndarray
    obs: np.ndarray
    exit_reward: np.ndarray
    forced: np.ndarray
    reward: np.ndarray
    reason: np.ndarray

    def __len__(self) -> int:
        return int(self.entry_index.size)

    def rows_of(self, episode: int) -> np.ndarray:
        return np.flatnonzero(self.episode == episode)

    def select(self, keep: np.ndarray) -> Episodes:
        """The episodes whose flag in ``keep`` (one per episode) is true, renumbered."""
        keep = np.asarray(keep, dtype=bool)
        rows = keep[self.episode]
        renumber = np.cumsum(keep) - 1
        columns = ("step", "obs", "exit_reward", "forced", "reward", "reason")
        return Episodes(
            entry_index=self.entry_index[keep],
            episode=renumber[self.episode[rows]],
            **{name: getattr(self, name)[rows] for name in columns},
        )


def build_episodes(candles: pd.DataFrame, entries: np.ndarray, bet: BetSpec) -> Episodes:
    """Episodes of ``bet`` (its horizon, barriers and fee; the margin plays no part) for the
    signal candles ``entries`` (positions into ``candles``); entries whose horizon is not
    all in ``candles`` yet, or without a positive sigma, are left out (appending candles
    adds episodes, it never changes one)."""
    horizon, fee = bet.horizon, bet.fee
    a = candle_arrays(candles)
    n = len(candles)
    t = np.asarray(entries, dtype=np.int64)
    t = t[(t >= 0) & (t + horizon < n)]
    t = t[np.isfinite(a["hp_sigma"][t]) & (a["hp_sigma"][t] > 0)]
    steps = np.arange(horizon)
    c = t[:, None] + 1 + steps[None, :]  # candle of each step
    entry = a["close"][t][:, None]
    d_up, d_down = bet.distances(a["hp_sigma"][t][:, None])
    take, stop = entry * np.exp(d_up), entry * np.exp(-d_down)
    stop_hit = a["low"][c] <= stop
    take_hit = a["high"][c] >= take
    time_hit = np.zeros_like(stop_hit)
    time_hit[:, -1] = True
    forced_any = stop_hit | take_hit | time_hit
    last = forced_any.argmax(axis=1)  # the first forced step (the time barrier at the latest)
    keep = steps[None, :] <= last[:, None]
    forced = keep & (steps[None, :] == last[:, None])
    reason = np.where(stop_hit, STOP, np.where(take_hit, TAKE, np.where(time_hit, TIME, AGENT)))
    reason = np.where(forced, reason, AGENT)
    price = np.where(
        reason == STOP,
        np.minimum(a["open"][c], stop),
        np.where(reason == TAKE, np.maximum(a["open"][c], take), a["close"][c]),
    )
    exit_reward = net_return(entry, a["close"][c], fee)
    reward = np.where(forced, net_return(entry, price, fee), exit_reward)
    sigma0 = a["hp_sigma"][t][:, None]
    obs = observe(
        a["close"][c], entry, sigma0, horizon, steps[None, :], a["p_up"][c], a["p_down"][c],
        a["p_up"][t][:, None], a["p_down"][t][:, None], a["hp_sigma"][c], a["var"][c],
        a["var"][t][:, None], a["ob_imbalance"][c], a["ob_centroid"][c],
    )  # fmt: skip
    episode = np.broadcast_to(np.arange(t.size)[:, None], c.shape)
    return Episodes(
        entry_index=t,
        episode=episode[keep],
        step=np.broadcast_to(steps, c.shape)[keep],
        obs=obs[keep].astype(np.float32),
        exit_reward=exit_reward[keep],
        forced=forced[keep],
        reward=reward[keep],
        reason=reason[keep],
    )


def optimal_stop_labels(episodes: Episodes) -> np.ndarray:
    """Per row: 1 where exiting at this close earns at least the best later exit of the same
    trade (every later close the policy could pick, or the forced exit), else 0. Forced rows
    are 0 (the policy does not act there)."""
    label = np.zeros(episodes.episode.size, dtype=np.int64)
    best_later = -np.inf
    for i in range(episodes.episode.size - 1, -1, -1):
        if episodes.forced[i]:  # the last row of its episode
            best_later = episodes.reward[i]
            continue
        label[i] = int(episodes.exit_reward[i] >= best_later)
        best_later = max(best_later, episodes.exit_reward[i])
    return label


def concat_episodes(parts: list[Episodes], keys: list[np.ndarray]) -> Episodes:
    """The episodes of several series as one set, renumbered in the order of ``keys`` (one
    per episode of each part, e.g. the entry dates: so the last episodes are the latest,
    whatever their series). ``entry_index`` keeps each episode's position in its own series."""
    key = np.concatenate([np.asarray(k) for k in keys]) if keys else np.array([])
    if key.size != sum(len(p) for p in parts):
        raise ValueError(f"{key.size} keys for {sum(len(p) for p in parts)} episodes")
    order = np.argsort(key, kind="stable")
    new_id = np.empty(order.size, dtype=np.int64)
    new_id[order] = np.arange(order.size)
    offsets = np.cumsum([0] + [len(p) for p in parts])
    episode = np.concatenate([new_id[p.episode + o] for p, o in zip(parts, offsets, strict=False)])
    rows = np.argsort(episode, kind="stable")  # rows of an episode stay in step order
    columns = {
        name: np.concatenate([getattr(p, name) for p in parts])[rows]
        for name in ("step", "obs", "exit_reward", "forced", "reward", "reason")
    }
    entry = np.concatenate([p.entry_index for p in parts])[order]
    return Episodes(entry_index=entry, episode=episode[rows], **columns)
