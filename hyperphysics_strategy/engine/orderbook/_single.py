"""Single-snapshot kernel of ``HyperbolicOrderBook.update``: one numba pass, float64 scalars.

``snapshot_features`` checks that a book is clean (both sides non-empty and at most
``max_levels`` deep, every price and size positive and finite, bids strictly descending and
asks strictly ascending in log-distance from the mid, best bid below best ask) and computes
every numeric feature of ``features.FEATURE_COLUMNS[4:]`` in that order, from the same
formulas (and the same one-pass / second-pass choice for the dispersion) as the batch path
and the reference functions of ``geometry`` (tests/test_orderbook_geometry.py compares them);
``update`` zips the result into its dict.  A book that is not clean returns ``NEEDS_CLEANING``
and ``update`` runs ``cleaning.clean_side`` first, then this kernel on the cleaned levels.

Without numba (e.g. a minimal GPU image) the functions run as plain Python with the same
results. ``cache=True``: the first call in a fresh environment compiles (~2 s) and writes
the machine code to ``__pycache__``; later processes load it in milliseconds.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .geometry import LOG_CLIP, ONE_PASS_MIN, fit_tol

try:
    from numba import njit
except ImportError:  # without numba the same functions run as plain Python: exact, slower

    def njit(*_args, **_kwargs):
        return lambda fn: fn


OK = 0
NEEDS_CLEANING = 1  # not clean as received: clean it, then call again
OVERFLOW = 2  # sizes or prices whose sums overflow float64

# params layout
P_INV_DELTA, P_HALF_SQRT_C, P_HMAX, P_LAMBDA_MAX, P_SQRT_C = range(5)
N_PARAMS = 5
N_OUT = 34  # len(FEATURE_COLUMNS) - 4 (valid, reason, n_bid, n_ask are set by the caller)
# the float64 stability constants of the reference (numba freezes them at compile time)
_LOG_CLIP = LOG_CLIP
_TOL = fit_tol(torch.float64)
_ONE_PASS = ONE_PASS_MIN[torch.float64]


@njit(cache=True, error_model="numpy")
def _side(P, w, cos, sin, lmid, sgn, prm, acc, hsh):
    """Per-level pass over one side: radial coordinate h, 2 sinh h and the weighted sums.

    Returns False when the side is not strictly monotone away from the mid.  ``acc``
    receives (W, D1, D5, D10, sum w 2sinh(2h) cos, ... sin, sum w (h-h0), sum w (y-y0),
    sum w (h-h0)^2, sum w (y-y0)^2, sum w (h-h0)(y-y0), sum w (2 sinh h)^2, h0, y0);
    ``hsh`` the per-level 2 sinh h (for the dispersion's second pass).
    """
    inv_delta, half_sc, hmax = prm[P_INV_DELTA], prm[P_HALF_SQRT_C], prm[P_HMAX]
    acc[:] = 0.0
    xprev = 0.0
    h0 = 0.0
    y0 = 0.0
    for k in range(P.shape[0]):
        x = sgn * (math.log(P[k]) - lmid) * inv_delta
        if not (x > xprev and x < math.inf):
            return False
        xprev = x
        h = min(half_sc * math.log(x + 1.0), hmax)
        e = math.exp(h)
        ei = 1.0 / e
        s = e - ei  # 2 sinh h
        sa = s * (e + ei)  # 2 sinh 2h
        wk = w[k]
        y = math.log(wk)
        if k == 0:
            h0, y0 = h, y
        hc, yc = h - h0, y - y0
        hsh[k] = s
        acc[0] += wk
        if k < 1:
            acc[1] += wk
        if k < 5:
            acc[2] += wk
        if k < 10:
            acc[3] += wk
        acc[4] += wk * sa * cos[k]
        acc[5] += wk * sa * sin[k]
        acc[6] += wk * hc
        acc[7] += wk * yc
        acc[8] += wk * hc * hc
        acc[9] += wk * yc * yc
        acc[10] += wk * hc * yc
        acc[11] += wk * s * s
    acc[12] = h0
    acc[13] = y0
    return True


@njit(cache=True, error_model="numpy")
def _side_features(acc, hsh, w, cos, sin, prm, out, o, geo):
    """Hyperbolic features of one side from its sums (see docs/orderbook.md).

    Writes hdist, centroid_x, centroid_y, dispersion, rho0, lambda, decay_rate, fit_r2 to
    ``out[o:o + 8]`` and the centroid's half-distance terms (sinh, cosh, ux, uy) to ``geo``.
    """
    sc = prm[P_SQRT_C]
    W = acc[0]
    a0m1 = 0.5 * acc[11] / W  # mean cosh(a) - 1 = mean 2 sinh^2 h
    ax = 0.5 * acc[4] / W
    ay = 0.5 * acc[5] / W
    nl2m1 = max(a0m1 * (a0m1 + 2.0) - (ax * ax + ay * ay), 0.0)
    nl = math.sqrt(1.0 + nl2m1)
    m0 = (1.0 + a0m1) / nl
    mx, my = ax / nl, ay / nl
    msp = math.sqrt(mx * mx + my * my)
    ch = math.sqrt(0.5 * (1.0 + m0))
    sh = msp / (2.0 * ch)
    if msp > 0:
        ux, uy = mx / msp, my / msp
    else:
        ux, uy = 1.0, 0.0
    kk = 1.0 / (sc * (1.0 + m0))
    # mean cosh(dist to centroid) = nl -> mean sinh^2(half) = (nl - 1)/2; the one-pass
    # value cancels for tight clusters far from the origin: then take the second pass
    if nl2m1 >= _ONE_PASS * (1.0 + a0m1) ** 2:
        ms = 0.5 * nl2m1 / (nl + 1.0)
    else:
        bx, by = sh * ux, sh * uy
        tot = 0.0
        for k in range(w.shape[0]):
            s2 = hsh[k]
            c2 = math.sqrt(s2 * s2 + 4.0)
            vx = s2 * cos[k] * ch - c2 * bx
            vy = s2 * sin[k] * ch - c2 * by
            tot += (vx * vx + vy * vy) * w[k]
        ms = tot * 0.25 / W
    # weighted log-linear LSQ of y = ln(size) on h (then rescaled to d = 2h/sqrt(c))
    swh, swy, swhh, swyy, swhy = acc[6], acc[7], acc[8], acc[9], acc[10]
    hbar, ybar = swh / W, swy / W
    sxx = swhh - swh * hbar
    syy = swyy - swy * ybar
    sxy = swhy - swh * ybar
    if sxx > _TOL * swhh:
        beta = sxy / sxx
        r2 = 1.0 if syy <= _TOL * swyy else min(sxy * sxy / (sxx * syy), 1.0)
    else:
        beta, r2 = 0.0, 0.0
    lrho0 = min(max(acc[13] + ybar - beta * (acc[12] + hbar), -_LOG_CLIP), _LOG_CLIP)
    rate = -beta * 0.5 * sc
    out[o] = 2.0 / sc * math.asinh(sh)
    out[o + 1] = mx * kk
    out[o + 2] = my * kk
    out[o + 3] = 2.0 / sc * math.asinh(math.sqrt(ms))
    out[o + 4] = math.exp(lrho0)
    out[o + 5] = 1.0 / max(rate, 1.0 / prm[P_LAMBDA_MAX])
    out[o + 6] = rate
    out[o + 7] = r2
    geo[0], geo[1], geo[2], geo[3] = sh, ch, ux, uy


@njit(cache=True, error_model="numpy")
def snapshot_features(b, a, trig, prm, work, out):
    """Features of one snapshot into ``out`` (N_OUT,); returns OK / NEEDS_CLEANING / OVERFLOW.

    ``b``/``a``: (n, 2) [price, size] rows, best first; ``trig``: (4, max_levels) cos and
    sin of the bid angles then of the ask angles; ``prm``: the P_* parameters; ``work``:
    scratch of shape (4, max(18, max_levels)).
    """
    nb, na = b.shape[0], a.shape[0]
    L = trig.shape[1]
    if nb == 0 or na == 0 or nb > L or na > L:
        return NEEDS_CLEANING
    tot = 0.0
    for side in (b, a):
        for k in range(side.shape[0]):
            p, q = side[k, 0], side[k, 1]
            if not (p > 0.0 and q > 0.0):  # also False for NaN
                return NEEDS_CLEANING
            tot += p + q
    if not tot < math.inf:
        return NEEDS_CLEANING
    bb, qb1, ba, qa1 = b[0, 0], b[0, 1], a[0, 0], a[0, 1]
    if not bb < ba:
        return NEEDS_CLEANING
    lmid = 0.5 * (math.log(bb) + math.log(ba))  # disk origin: the log (geometric) mid
    acc_b, acc_a = work[0, :14], work[1, :14]
    hsh_b, hsh_a = work[2, :nb], work[3, :na]
    if not _side(b[:, 0], b[:, 1], trig[0], trig[1], lmid, -1.0, prm, acc_b, hsh_b):
        return NEEDS_CLEANING
    if not _side(a[:, 0], a[:, 1], trig[2], trig[3], lmid, 1.0, prm, acc_a, hsh_a):
        return NEEDS_CLEANING
    Wb, Wa = acc_b[0], acc_a[0]
    if not (Wb + Wa) < math.inf:
        return OVERFLOW
    mid = 0.5 * (bb + ba)
    spread = ba - bb
    micro = (bb * qa1 + ba * qb1) / (qb1 + qa1)
    out[0] = mid
    out[1] = spread
    out[2] = spread / mid * 1e4
    out[3] = micro
    out[4] = (micro - mid) / mid * 1e4
    for j in range(4):  # imbalance at depths 1, 5, 10, all; then the depths per side
        db, da = acc_b[(j + 1) % 4], acc_a[(j + 1) % 4]  # acc: W, D1, D5, D10
        out[5 + j] = (db - da) / (db + da)
        out[9 + j] = db
        out[13 + j] = da
    geo_b, geo_a = work[0, 14:18], work[1, 14:18]
    _side_features(acc_b, hsh_b, b[:, 1], trig[0], trig[1], prm, out, 18, geo_b)
    _side_features(acc_a, hsh_a, a[:, 1], trig[2], trig[3], prm, out, 26, geo_a)
    shb, chb, ubx, uby = geo_b[0], geo_b[1], geo_b[2], geo_b[3]
    sha, cha, uax, uay = geo_a[0], geo_a[1], geo_a[2], geo_a[3]
    vx = shb * cha * ubx - chb * sha * uax
    vy = shb * cha * uby - chb * sha * uay
    out[17] = 2.0 / prm[P_SQRT_C] * math.asinh(math.sqrt(vx * vx + vy * vy))
    return OK


def make_params(inv_delta: float, sqrt_c: float, hmax: float, lambda_max: float) -> np.ndarray:
    prm = np.empty(N_PARAMS)
    prm[P_INV_DELTA] = inv_delta
    prm[P_HALF_SQRT_C] = 0.5 * sqrt_c
    prm[P_HMAX] = hmax
    prm[P_LAMBDA_MAX] = lambda_max
    prm[P_SQRT_C] = sqrt_c
    return prm
