"""Triple-barrier targets (López de Prado, *Advances in Financial Machine Learning*, ch. 3).

For each candle ``t`` with close ``c_t`` and trailing volatility ``sigma_t`` (the standard
deviation of one-candle log returns over the candles up to and including ``t``, so known
when ``t`` closes), three barriers are fixed:

- upper: ``c_t * exp(+d_up)``, lower: ``c_t * exp(-d_down)``, with the log distances
  ``d_up = k_up * sigma_t * sqrt(h)`` and ``d_down = k_down * sigma_t * sqrt(h)``;
- time: ``h`` candles ahead.

The class is the barrier that the highs and lows of candles ``t+1 .. t+h`` touch first:
``buy`` (code 2) the upper, ``sell`` (code 0) the lower, ``neutral`` (code 1) neither
before the time barrier. Codes follow
:data:`~hyperphysics_strategy.ensemble.labels.DEFAULT_CLASSES`.

*Both in one candle.* A candle's high and low do not say which came first. The label
takes the side's stop: for a long (``side="long"``) a candle touching both barriers
counts as ``sell``, the lower barrier; for a short (``side="short"``, barriers mirrored)
as ``buy``. This is the outcome a backtest of the bet must also assume, so labels never
credit a take-profit the candle may not have paid.

*Shorts mirror.* For ``side="short"`` the take-profit lies ``k_up`` below and the stop
``k_down`` above: the upper barrier sits at ``d_down`` and the lower at ``d_up``. Classes
keep naming the price direction (``buy`` = upper touched first).

*No label past the data.* Candles whose horizon runs past the last candle, and candles
whose volatility is not yet defined (warm-up) or not positive, get no label (NaN).

Vectorised with :func:`numpy.lib.stride_tricks.sliding_window_view`: for each candle the
``h`` following highs (lows) are compared with its barrier and the first touch is an
``argmax`` over that window; rows are processed in blocks to bound memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

SELL, NEUTRAL, BUY = 0, 1, 2
SIDES = ("long", "short")
_BLOCK_CELLS = 1 << 22  # rows x horizon compared per block (~4 MB of booleans)
_QUANTUM = 1e-8  # integer unit of log returns in trailing_sigma


@dataclass(frozen=True)
class BarrierOutcome:
    """Per-candle result of :func:`triple_barrier`; NaN where the label is undefined.

    - ``label``: 0 (``sell``), 1 (``neutral``), 2 (``buy``) as float (NaN = no label);
    - ``candles``: candles from ``t`` to the exit, 1..h (``h`` at the time barrier);
    - ``log_return``: the price's log return from ``c_t`` to the exit: ``+upper``
      distance, ``-lower`` distance, or ``log(c_{t+h} / c_t)`` at the time barrier
      (a short earns its negative);
    - ``upper``, ``lower``: the barriers' log distances from ``c_t`` (both positive).
    """

    label: np.ndarray
    candles: np.ndarray
    log_return: np.ndarray
    upper: np.ndarray
    lower: np.ndarray


def trailing_sigma(close: np.ndarray, window: int) -> np.ndarray:
    """Standard deviation (ddof 1) of one-candle log returns over the trailing ``window``
    candles.

    Entry ``t`` uses the returns ending at candles ``t-window+1 .. t`` (so it is known when
    candle ``t`` closes); NaN until ``window`` returns exist. A value must not depend on
    where the data starts (``freqtrade recursive-analysis`` compares runs with different
    startup candles), which floating-point running sums do not guarantee. So the returns
    are counted in integer units of ``1e-8`` (a millionth of a basis point): integer
    running sums are exact, every window's sums are exact, and the variance follows from
    them by the same float operations whatever the first candle. A window holding a
    return too large for its int64 sums (above ~1.79 in log over 288 candles, a 6x jump)
    is computed from its own returns instead, which depends on nothing outside it either.
    """
    close = np.asarray(close, dtype=np.float64).ravel()
    if window < 2:
        raise ValueError(f"volatility window must be >= 2 candles, got {window}")
    if close.size and not (np.isfinite(close).all() and (close > 0).all()):
        raise ValueError("close prices must be finite and positive")
    out = np.full(close.size, np.nan)
    r = np.diff(np.log(close))  # r[i-1] = return ending at candle i
    if r.size < window:
        return out
    # a window's sum of squares must fit int64: larger returns are handled apart
    big = np.abs(r) > math.sqrt(2.0**62 / window) * _QUANTUM
    q = np.rint(np.where(big, 0.0, r) / _QUANTUM).astype(np.int64)
    zero = np.zeros(1, dtype=np.int64)
    c1 = np.concatenate((zero, np.cumsum(q)))
    c2 = np.concatenate((zero, np.cumsum(q * q)))  # may wrap; window differences are exact
    s1 = (c1[window:] - c1[:-window]).astype(np.float64)
    s2 = (c2[window:] - c2[:-window]).astype(np.float64)
    var = np.maximum(s2 - s1 * s1 / window, 0.0) / (window - 1)
    out[window:] = np.sqrt(var) * _QUANTUM
    if big.any():  # the windows holding a big return: from their own returns
        nb = np.concatenate(([0], np.cumsum(big)))
        rows = np.flatnonzero(nb[window:] - nb[:-window]) + window
        windows = sliding_window_view(r, window)[rows - window]
        out[rows] = np.std(np.rint(windows / _QUANTUM), axis=1, ddof=1) * _QUANTUM
    return out


def valid_trailing_sigma(close: np.ndarray, window: int) -> np.ndarray:
    """:func:`trailing_sigma` of a close series that may hold bad closes (NaN, infinite,
    zero or negative): NaN on those rows, and for the others each bad close counts as the
    last valid close before it (its return is 0, the next return spans the gap); all NaN
    when no close is valid."""
    c = np.asarray(close, dtype=np.float64).ravel()
    bad = ~(np.isfinite(c) & (c > 0))
    if bad.all():
        return np.full(c.size, np.nan)
    idx = np.where(bad, 0, np.arange(c.size))
    np.maximum.accumulate(idx, out=idx)  # the last valid close at or before each row
    filled = c[idx]
    first = int(np.argmin(bad))
    filled[:first] = c[first]  # before the first valid close: the first one
    return np.where(bad, np.nan, trailing_sigma(filled, window))


def horizon_sigma(sigma: np.ndarray, horizon: int) -> np.ndarray:
    """``sigma * sqrt(h)``: a one-candle volatility over the ``horizon`` candles of the bet."""
    _check(horizon, 1.0, 1.0)
    return np.asarray(sigma, dtype=np.float64) * np.sqrt(horizon)


def barrier_distances(
    sigma: np.ndarray, horizon: int, k_up: float, k_down: float
) -> tuple[np.ndarray, np.ndarray]:
    """Log distances ``(k_up * sigma * sqrt(h), k_down * sigma * sqrt(h))`` of the
    take-profit and stop barriers of a long (a short swaps their directions)."""
    _check(horizon, k_up, k_down)
    scale = horizon_sigma(sigma, horizon)
    return k_up * scale, k_down * scale


def _check(horizon: int, k_up: float, k_down: float) -> None:
    if int(horizon) != horizon or horizon < 1:
        raise ValueError(f"barrier horizon must be a whole number >= 1 candle, got {horizon}")
    if not (np.isfinite(k_up) and k_up > 0 and np.isfinite(k_down) and k_down > 0):
        raise ValueError(f"barrier multipliers must be positive, got k_up={k_up}, k_down={k_down}")


def _first_touch(path: np.ndarray, level: np.ndarray, horizon: int, above: bool) -> np.ndarray:
    """For each row ``t < len(level)``: the first ``j`` in 1..h with ``path[t+j]`` at or
    beyond ``level[t]`` (``>=`` when ``above``, else ``<=``); ``h + 1`` when none."""
    m = level.shape[0]
    out = np.full(m, horizon + 1, dtype=np.int64)
    windows = sliding_window_view(path[1:], horizon)  # windows[t] = path[t+1 : t+1+h]
    block = max(1, _BLOCK_CELLS // horizon)
    for lo in range(0, m, block):  # blocks of rows, not candles one by one
        hi = min(m, lo + block)
        lvl = level[lo:hi, None]
        hit = windows[lo:hi] >= lvl if above else windows[lo:hi] <= lvl
        first = hit.argmax(axis=1)
        touched = hit[np.arange(hi - lo), first]
        out[lo:hi] = np.where(touched, first + 1, horizon + 1)
    return out


def triple_barrier(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    sigma: np.ndarray,
    horizon: int,
    k_up: float,
    k_down: float,
    side: str = "long",
) -> BarrierOutcome:
    """Triple-barrier outcome of every candle (see the module docstring for the rules)."""
    _check(horizon, k_up, k_down)
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    high, low, close, sigma = (
        np.asarray(a, dtype=np.float64).ravel() for a in (high, low, close, sigma)
    )
    n = close.size
    if not (high.size == low.size == sigma.size == n):
        raise ValueError(
            f"high, low, close and sigma must have one value per candle, got lengths "
            f"{high.size}, {low.size}, {n}, {sigma.size}"
        )
    nan = np.full(n, np.nan)
    take, stop = barrier_distances(sigma, horizon, k_up, k_down)
    up_d, down_d = (take, stop) if side == "long" else (stop, take)
    m = n - horizon  # candles whose horizon lies inside the data
    if m <= 0:
        return BarrierOutcome(nan, nan.copy(), nan.copy(), up_d, down_d)

    ok = np.isfinite(sigma[:m]) & (sigma[:m] > 0)
    upper = np.where(ok, close[:m] * np.exp(up_d[:m]), np.inf)
    lower = np.where(ok, close[:m] * np.exp(-down_d[:m]), -np.inf)
    t_up = _first_touch(high, upper, horizon, above=True)
    t_down = _first_touch(low, lower, horizon, above=False)

    both = (t_up == t_down) & (t_up <= horizon)
    up_first = (t_up < t_down) | (both & (side == "short"))
    down_first = (t_down < t_up) | (both & (side == "long"))
    code = np.where(up_first, BUY, np.where(down_first, SELL, NEUTRAL)).astype(np.float64)
    candles = np.where(up_first, t_up, np.where(down_first, t_down, horizon)).astype(np.float64)
    time_ret = np.log(close[horizon:] / close[:m])
    ret = np.where(up_first, up_d[:m], np.where(down_first, -down_d[:m], time_ret))

    label, n_candles, log_ret = nan.copy(), nan.copy(), nan.copy()
    label[:m] = np.where(ok, code, np.nan)
    n_candles[:m] = np.where(ok, candles, np.nan)
    log_ret[:m] = np.where(ok, ret, np.nan)
    return BarrierOutcome(label, n_candles, log_ret, up_d, down_d)


def time_barrier_mean_return(outcome: BarrierOutcome, side: str = "long") -> float:
    """Mean return of the rows that ended at the time barrier (NaN when none): the long's
    ``c_{t+h} / c_t - 1``, or for ``side="short"`` the short's ``1 - c_{t+h} / c_t``."""
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, got {side!r}")
    at_time = outcome.label == NEUTRAL
    if not at_time.any():
        return float("nan")
    gain = np.expm1(outcome.log_return[at_time])
    return float(np.mean(gain if side == "long" else -gain))


def mean_time_return(close: np.ndarray, at_time: np.ndarray, horizon: int) -> float:
    """Mean long return ``c_{t+h} / c_t - 1`` over the candles ``t`` that ``at_time`` marks
    (the time-barrier outcomes of a label column); NaN when none has ``t + h`` in the data."""
    close = np.asarray(close, dtype=np.float64).ravel()
    at_time = np.asarray(at_time, dtype=bool).ravel()
    if at_time.size != close.size:
        raise ValueError(f"need one flag per candle, got {at_time.size} for {close.size}")
    _check(horizon, 1.0, 1.0)
    m = close.size - horizon
    if m <= 0:
        return float("nan")
    gain = close[horizon:] / close[:m] - 1.0
    pick = at_time[:m] & np.isfinite(gain)
    return float(gain[pick].mean()) if pick.any() else float("nan")
