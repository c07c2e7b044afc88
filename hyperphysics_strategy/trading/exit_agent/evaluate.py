"""Trades of the entry rule exited by the barriers alone or by an exit policy, and their
judgement: expectancy after fees +- s.e., hit shares per exit reason, deflated Sharpe.

Trades of one series never overlap: after an entry at signal candle ``t`` the next entry
may come on a signal candle at or after the candle the trade exited on, so a policy that
exits earlier may also take more trades. Barrier exits are the policy that always holds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from hyperphysics_strategy.trading.sharpe import deflated_sharpe_ratio, sharpe_ratio

from .episodes import AGENT, REASONS, Episodes

#: ``observations -> P(exit)``; None: barrier exits only.
Policy = Callable[[np.ndarray], np.ndarray] | None


def exit_decisions(episodes: Episodes, policy: Policy, threshold: float = 0.5) -> np.ndarray:
    """Per row: the trade exits at this step (a barrier, or the policy's exit)."""
    if policy is None or episodes.obs.shape[0] == 0:
        return episodes.forced.copy()
    acting = ~episodes.forced
    wants = np.zeros(episodes.forced.size, dtype=bool)
    if acting.any():
        wants[acting] = np.asarray(policy(episodes.obs[acting]))[:, -1] > threshold
    return episodes.forced | wants


def simulate(episodes: Episodes, policy: Policy, threshold: float = 0.5) -> pd.DataFrame:
    """The non-overlapping trades of ``episodes`` under ``policy``: one row per trade with
    ``entry_index``, ``exit_index`` (the candle it exits on), ``net`` (net return after
    fees) and ``reason`` (a name of :data:`~.episodes.REASONS`)."""
    columns = ["entry_index", "exit_index", "net", "reason"]
    if len(episodes) == 0:
        return pd.DataFrame(columns=columns).astype({"net": float})
    exits = exit_decisions(episodes, policy, threshold)
    rows = np.flatnonzero(exits)
    first = rows[np.r_[True, episodes.episode[rows][1:] != episodes.episode[rows][:-1]]]
    exit_row = np.full(len(episodes), -1)
    exit_row[episodes.episode[first]] = first
    out, free = [], -1
    for e, t in enumerate(episodes.entry_index):
        if t < free or exit_row[e] < 0:
            continue
        r = exit_row[e]
        reason = int(episodes.reason[r]) if episodes.forced[r] else AGENT
        net = episodes.reward[r] if episodes.forced[r] else episodes.exit_reward[r]
        free = int(t + 1 + episodes.step[r])
        out.append((int(t), free, float(net), REASONS[reason]))
    return pd.DataFrame(out, columns=columns)


def summary_row(name: str, trades: pd.DataFrame) -> dict[str, object]:
    """``name``'s trades, expectancy in bp +- s.e., Sharpe per trade and reason shares."""
    net = trades["net"].to_numpy(dtype=np.float64)
    n = net.size
    mean = float(net.mean()) if n else math.nan
    se = float(net.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    row: dict[str, object] = {
        "exits": name,
        "trades": n,
        "bp_per_trade": 1e4 * mean,
        "bp_se": 1e4 * se,
        "sharpe_per_trade": sharpe_ratio(net),
    }
    counts = trades["reason"].value_counts()
    for reason in REASONS:
        row[reason] = float(counts.get(reason, 0) / n) if n else math.nan
    return row


def judge(results: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One :func:`summary_row` per exit rule (``name -> trades``), same order."""
    return pd.DataFrame([summary_row(name, trades) for name, trades in results.items()])


def beats_barriers(policy_net, barrier_net) -> bool:
    """True when the policy's expectancy exceeds the barriers' by more than one standard
    error of the difference (the rule ``auto`` uses); False with fewer than two trades."""
    a = np.asarray(policy_net, dtype=np.float64)
    b = np.asarray(barrier_net, dtype=np.float64)
    if a.size < 2 or b.size < 2:
        return False
    se = math.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    return bool(a.mean() - b.mean() > se)


def deflated(chosen_net, trial_nets) -> tuple[float, float, float]:
    """``(DSR, SR, SR0)`` of the chosen rule's trades, counting every rule (agent, seed)
    tried (:func:`~hyperphysics_strategy.trading.sharpe.deflated_sharpe_ratio`)."""
    return deflated_sharpe_ratio(chosen_net, [sharpe_ratio(n) for n in trial_nets])
