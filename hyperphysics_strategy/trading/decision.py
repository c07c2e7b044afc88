"""The entry rule: expected value of the triple-barrier bet, shared by the strategy and
the facade.

A trade entered at a candle is the bet its label describes (:mod:`.barriers`): it exits at
the take-profit barrier, the stop barrier or after ``h`` candles, whichever comes first.
With the calibrated class probabilities ``p_up`` (``buy``), ``p_down`` (``sell``) and
``p_time`` (``neutral``), the take-profit and stop returns ``TP`` and ``SL`` of the trade's
own barriers, the mean return ``m_time`` of time-barrier outcomes on the training rows and
the fee per side ``f``::

    EV_long  = p_up * TP_long  - p_down * SL_long + p_time * m_time - 2 f
    EV_short = p_down * TP_short - p_up * SL_short - p_time * m_time - 2 f

where, for barrier log distances ``d_up`` above and ``d_down`` below the entry price, a
long's ``TP = exp(d_up) - 1`` and ``SL = 1 - exp(-d_down)``; a short's barriers mirror (take
profit ``d_up`` below, stop ``d_down`` above): ``TP = 1 - exp(-d_up)``,
``SL = exp(d_down) - 1``, and its time return is ``-m_time``.

A side enters when its EV exceeds ``margin`` times the trade's volatility over the
horizon, ``sigma * sqrt(h)``; when both sides do (possible only with unequal barrier
widths or a negative margin) the larger EV enters, a tie the long (:func:`entry_signal`,
the one tie-break). The default margin is :class:`~.bet.BetSpec`'s. There is no
probability threshold: where the model shows no edge its probabilities sit at the class
frequencies, the bet's EV is about minus the fees, and the strategy stays flat.
"""

from __future__ import annotations

import numpy as np


def _f(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def long_expected_value(p_up, p_down, p_time, d_up, d_down, m_time, fee) -> np.ndarray:
    """EV of a long, as a fraction of the stake, after the round-trip fee ``2 * fee``."""
    take, stop = np.expm1(_f(d_up)), -np.expm1(-_f(d_down))
    return _f(p_up) * take - _f(p_down) * stop + _f(p_time) * _f(m_time) - 2.0 * _f(fee)


def short_expected_value(p_up, p_down, p_time, d_up, d_down, m_time, fee) -> np.ndarray:
    """EV of a short with mirrored barriers (``d_up``: take-profit distance below the entry,
    ``d_down``: stop distance above); ``m_time`` is the long's time-barrier mean return."""
    take, stop = -np.expm1(-_f(d_up)), np.expm1(_f(d_down))
    return _f(p_down) * take - _f(p_up) * stop - _f(p_time) * _f(m_time) - 2.0 * _f(fee)


def ev_signal(ev, sigma_horizon, margin: float) -> np.ndarray:
    """Boolean mask ``ev > margin * sigma_horizon``; NaN inputs never signal. A negative
    ``margin`` accepts bets of negative expected value (for tests of the exits only)."""
    if not np.isfinite(margin):
        raise ValueError(f"EV margin must be a finite number, got {margin}")
    ev, scale = _f(ev), _f(sigma_horizon)
    with np.errstate(invalid="ignore"):
        return np.isfinite(ev) & np.isfinite(scale) & (ev > margin * scale)


def entry_signal(ev_long, ev_short, sigma_horizon, margin: float) -> np.ndarray:
    """+1 (long), -1 (short) or 0 per row: a side signals by :func:`ev_signal`; when both
    do, the larger EV enters and a tie goes to the long. ``ev_short`` None: longs only."""
    long = ev_signal(ev_long, sigma_horizon, margin)
    out = long.astype(np.int8)
    if ev_short is not None:
        short = ev_signal(ev_short, sigma_horizon, margin)
        with np.errstate(invalid="ignore"):
            out[short & ~(long & (_f(ev_long) >= _f(ev_short)))] = -1
    return out
