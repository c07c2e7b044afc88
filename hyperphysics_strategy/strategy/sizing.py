"""Position size from a VaR budget and stop-loss distance from Expected Shortfall.

Pure functions, so the rules are testable without a bot.

VaR budget: a position of value ``s`` has a one-day 99% VaR of ``s * v`` (``v`` the
one-day VaR as a fraction of position value). Keeping it within a fraction ``f`` of the
wallet ``W`` gives ``s = f * W / v``, clamped to the exchange's and freqtrade's limits.

ES stop: the stop sits ``m * ES * sqrt(h)`` below the entry price (above for shorts),
with ``ES`` the one-candle 99% Expected Shortfall at entry, ``h`` the holding horizon in
candles (the label horizon) and ``m`` a multiplier, clamped to ``[floor, cap]``. A move
beyond it is worse than the average of the worst 1% of moves over the horizon, which
says the trade's thesis is wrong rather than noisy.
"""

from __future__ import annotations

import math


def var_budget_stake(
    wallet: float,
    var_1d: float,
    budget_fraction: float,
    min_stake: float | None,
    max_stake: float,
) -> float | None:
    """Stake whose one-day VaR is ``budget_fraction`` of ``wallet``; None when undefined.

    Returns ``None`` (caller keeps freqtrade's proposed stake) when the VaR is unknown
    (warm-up) or not positive. Returns 0 when even ``min_stake`` would exceed the budget,
    which tells freqtrade to skip the entry.
    """
    if not 0 < budget_fraction <= 1:
        raise ValueError(f"VaR budget fraction must be in (0, 1], got {budget_fraction}")
    if not (math.isfinite(var_1d) and var_1d > 0 and wallet > 0):
        return None
    stake = budget_fraction * wallet / var_1d
    stake = min(stake, max_stake)
    if min_stake is not None and stake < min_stake:
        return 0.0
    return stake


def es_stop_distance(
    es_one_candle: float, horizon_candles: int, multiplier: float, floor: float, cap: float
) -> float | None:
    """Stop distance as a positive fraction of the entry price; None when ES is unknown."""
    if not 0 < floor <= cap < 1:
        raise ValueError(f"need 0 < floor <= cap < 1, got floor={floor}, cap={cap}")
    if not (math.isfinite(es_one_candle) and es_one_candle > 0):
        return None
    distance = multiplier * es_one_candle * math.sqrt(max(1, horizon_candles))
    return min(max(distance, floor), cap)
