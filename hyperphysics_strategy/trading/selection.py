"""Choosing a rule on one period and judging the choice by every rule tried.

Each candidate is a bet's walk-forward (:class:`~.walkforward.Evaluation`) with an entry
margin. The first period (rows dated before ``split``) chooses: the best mean net return
per trade among candidates with at least ``min_trades`` trades there. The choice is then
judged over the whole walk-forward by the deflated Sharpe ratio (:mod:`.sharpe`), which
counts every candidate's per-trade Sharpe ratio.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .sharpe import deflated_sharpe_ratio, sharpe_ratio
from .walkforward import Evaluation


@dataclass(frozen=True)
class Selection:
    """The outcome of :func:`select`. ``chosen`` is the index into ``candidates`` (None: no
    candidate traded ``min_trades`` times in the first period, stay flat); ``trial_sharpes``
    holds every candidate's per-trade Sharpe ratio over the whole walk-forward (NaN below
    two trades); ``dsr``, ``sharpe`` and ``sr0`` (the expected best Sharpe ratio of no
    skill) are NaN unless the chosen rule made more than two trades."""

    candidates: tuple[tuple[Evaluation, float], ...]
    chosen: int | None
    trial_sharpes: tuple[float, ...]
    trades: int
    dsr: float
    sharpe: float
    sr0: float


def select(
    candidates: Sequence[tuple[Evaluation, float]],
    split: pd.Timestamp,
    min_trades: int = 30,
) -> Selection:
    """Choose among ``(evaluation, margin)`` candidates on the rows before ``split``, and
    deflate the choice's Sharpe ratio by all of them over the whole walk-forward."""
    candidates = tuple(candidates)
    if not candidates:
        raise ValueError("need at least one candidate rule to choose from")
    best, chosen = -np.inf, None
    for i, (ev, margin) in enumerate(candidates):
        first = (ev.predictions["date"] < split).to_numpy()
        tr = ev.trades(margin, first)
        if len(tr) >= min_trades and tr["net"].mean() > best:
            best, chosen = tr["net"].mean(), i
    sharpes, chosen_net = [], None
    for i, (ev, margin) in enumerate(candidates):
        net = ev.trades(margin)["net"].to_numpy()
        sharpes.append(sharpe_ratio(net) if net.size > 1 else float("nan"))
        if i == chosen:
            chosen_net = net
    nan = float("nan")
    dsr = sr = sr0 = nan
    if chosen_net is not None and chosen_net.size > 2:
        dsr, sr, sr0 = deflated_sharpe_ratio(chosen_net, sharpes)
    n = 0 if chosen_net is None else int(chosen_net.size)
    return Selection(candidates, chosen, tuple(sharpes), n, dsr, sr, sr0)
