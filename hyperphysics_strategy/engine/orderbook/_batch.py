"""Vectorised batch kernel of ``HyperbolicOrderBook.batch`` (the fast path of ``batch``).

One chunk of snapshots at a time, on numpy (CPU) or torch (any device) through the
``_backend`` adapters.  It computes the quantities of the reference functions in
``geometry`` (Einstein midpoint, distances, Lorentzian dispersion, decay fit) from running
sums over the levels, without building the Poincaré points: the radial coordinate
``h = sqrt(c) d / 2`` and ``2 sinh h``, ``2 cosh h`` per level are all it needs.
``tests/test_orderbook_geometry.py`` checks it against ``geometry`` on the same books.
"""

from __future__ import annotations

import math

import numpy as np

from . import cleaning
from .columns import DEPTHS, FEATURE_COLUMNS, SIDE_HYP
from .geometry import LOG_CLIP, ONE_PASS_MIN, fit_tol, radial_cap


def batch_consts(xp, book) -> dict:
    """Constants of the batch kernel for ``book`` in the backend ``xp``."""
    L = book.max_levels
    trig_a = np.stack((np.cos(book._phi_ask), np.sin(book._phi_ask)), axis=1)
    trig_b = np.stack((np.cos(book._theta_bid), np.sin(book._theta_bid)), axis=1)
    return {
        "trig_b": xp.const(trig_b),
        "trig_a": xp.const(trig_a),
        "cos_b": xp.const(trig_b[:, 0]),
        "sin_b": xp.const(trig_b[:, 1]),
        "cos_a": xp.const(trig_a[:, 0]),
        "sin_a": xp.const(trig_a[:, 1]),
        "L": L,
        "hmax": radial_cap(book.dtype),
        "umax": math.exp(2.0 * radial_cap(book.dtype) / book.sqrt_c),
        "depth_mat": xp.const(np.arange(L)[:, None] < np.array([*DEPTHS, L])[None, :]),
        "tol": fit_tol(book.dtype),
        "one_pass": ONE_PASS_MIN[book.dtype],
        "sqrt_c": book.sqrt_c,
        "delta": book.delta,
        "lambda_max": book.lambda_max,
    }


def batch_chunk(xp, k: dict, b, a) -> dict:
    """Every feature of a chunk of snapshots ``b``/``a`` (n, L, 2), as backend arrays."""
    L = k["L"]
    bp, bq, nb, fb, ok_b = cleaning.clean_side(
        xp, xp.asarray(b[..., 0]), xp.asarray(b[..., 1]), True, L
    )
    ap, aq, na, fa, ok_a = cleaning.clean_side(
        xp, xp.asarray(a[..., 0]), xp.asarray(a[..., 1]), False, L
    )
    reason = fb | fa
    reason = reason | xp.to_int(nb == 0) * cleaning.EMPTY_BID
    reason = reason | xp.to_int(na == 0) * cleaning.EMPTY_ASK
    bb, ba = bp[:, 0], ap[:, 0]
    crossed = ~(bb < ba) & (nb > 0) & (na > 0)
    reason = reason | xp.to_int(crossed) * cleaning.CROSSED
    valid = (reason & cleaning.INVALID_MASK) == 0
    mid = (bb + ba) * 0.5
    spread = ba - bb
    qb1, qa1 = bq[:, 0], aq[:, 0]
    micro = (bb * qa1 + ba * qb1) / (qb1 + qa1)
    # disk origin: the log (geometric) mid; levels enter through p / gmid (no cancellation)
    inv_gmid = xp.reciprocal(xp.sqrt(bb * ba))[:, None]
    res = {
        "valid": valid,
        "reason": reason,
        "n_bid": nb,
        "n_ask": na,
        "mid": mid,
        "spread": spread,
        "spread_bps": spread / mid * 1e4,
        "microprice": micro,
        "microprice_bps": (micro - mid) / mid * 1e4,
    }
    # cumulative depth within 1, 5, 10 and all levels: one small matmul per side
    dep_b = bq @ k["depth_mat"][: bq.shape[1]]
    dep_a = aq @ k["depth_mat"][: aq.shape[1]]
    depth_b = [dep_b[:, j] for j in range(4)]
    depth_a = [dep_a[:, j] for j in range(4)]
    for name, x, z in zip((*DEPTHS, "all"), depth_b, depth_a, strict=True):
        res[f"imbalance_{name}"] = (x - z) / (x + z)
    for name, x in zip((*DEPTHS, "all"), depth_b, strict=True):
        res[f"bid_depth_{name}"] = x
    for name, x in zip((*DEPTHS, "all"), depth_a, strict=True):
        res[f"ask_depth_{name}"] = x
    side_b = side_batch(xp, k, bp, bq, depth_b[-1], inv_gmid, True, ok_b)
    side_a = side_batch(xp, k, ap, aq, depth_a[-1], inv_gmid, False, ok_a)
    sc = k["sqrt_c"]
    vx = side_b["sh"] * side_a["ch"] * side_b["ux"] - side_b["ch"] * side_a["sh"] * side_a["ux"]
    vy = side_b["sh"] * side_a["ch"] * side_b["uy"] - side_b["ch"] * side_a["sh"] * side_a["uy"]
    res["centroid_distance"] = xp.asinh(xp.sqrt(vx * vx + vy * vy)) * (2.0 / sc)
    for prefix, side in (("bid", side_b), ("ask", side_a)):
        for name in SIDE_HYP:
            res[f"{prefix}_{name}"] = side[name]
    if not bool(valid.all()):
        nan = float("nan")
        for name in FEATURE_COLUMNS[4:]:
            res[name] = xp.where(valid, res[name], nan)
    return res


def side_batch(xp, k: dict, P, w, W, inv_gmid, is_bid: bool, all_ok: bool) -> dict:
    """Per-side hyperbolic features of a chunk: P, w (T, L) cleaned prices and sizes."""
    sc = k["sqrt_c"]
    n = P.shape[1]
    cos = k["cos_b" if is_bid else "cos_a"][:n]
    sin = k["sin_b" if is_bid else "sin_a"][:n]
    trig = k["trig_b" if is_bid else "trig_a"][:n]
    # radial coordinate h = sqrt(c) d / 2 with d = ln(1 + |ln(p/gmid)| / delta)
    h = P * inv_gmid
    h = xp.log_(h)
    h *= (-1.0 if is_bid else 1.0) / k["delta"]
    h += 1.0
    if sc == 1.0:  # e^h = sqrt(1 + x/delta): cheaper than exp
        h = xp.clamp_max_(h, k["umax"])
        e = xp.sqrt(h)
        h = xp.log_(h)
        h *= 0.5
    else:
        h = xp.log_(h)
        h *= 0.5 * sc
        h = xp.clamp_max_(h, k["hmax"])
        e = xp.exp_(h * 1.0)
    ei = xp.reciprocal(e)
    S = e - ei  # 2 sinh h
    C = ei
    C += e  # 2 cosh h
    Sw = S * w
    a0m1 = xp.rowdot(Sw, S) * 0.5 / W  # mean (cosh a - 1) = mean 2 sinh^2 h
    Sw *= C  # w 2 sinh(a)
    axy = (Sw @ trig) * 0.5
    ax = axy[:, 0] / W
    ay = axy[:, 1] / W
    nl2m1 = xp.clamp_min(a0m1 * (a0m1 + 2.0) - (ax * ax + ay * ay), 0.0)
    nl = xp.sqrt(nl2m1 + 1.0)
    m0 = (a0m1 + 1.0) / nl
    mx, my = ax / nl, ay / nl
    msp = xp.sqrt(mx * mx + my * my)
    ch = xp.sqrt((m0 + 1.0) * 0.5)
    sh = msp / (ch * 2.0)
    safe = xp.where(msp > 0, msp, 1.0)
    ux = xp.where(msp > 0, mx / safe, 1.0)
    uy = xp.where(msp > 0, my / safe, 0.0)
    kk = 1.0 / (sc * (m0 + 1.0))
    # dispersion: one pass (mean sinh^2(d_i/2) = (nl - 1)/2) where it is well conditioned,
    # the arsinh-form second pass on the rows where it would cancel
    ms = nl2m1 * 0.5 / (nl + 1.0)
    risky = nl2m1 < k["one_pass"] * (a0m1 + 1.0) * (a0m1 + 1.0)
    if bool(risky.any()):
        r = xp.nonzero(risky)
        Sr, Cr, wr = S[r], C[r], w[r]
        vx = Sr * cos
        vx *= ch[r][:, None]
        vx -= Cr * (sh * ux)[r][:, None]
        vy = Sr * sin
        vy *= ch[r][:, None]
        vy -= Cr * (sh * uy)[r][:, None]
        vx *= vx
        vy *= vy
        vx += vy
        ms[r] = xp.rowdot(vx, wr) * 0.25 / W[r]
    disp = xp.asinh(xp.sqrt(ms)) * (2.0 / sc)
    # weighted log-linear least squares, centred on the best level for precision
    h0 = h[:, :1]
    hc = h - h0
    y = xp.log(w) if all_ok else xp.log(xp.where(w > 0, w, 1.0))
    y0 = y[:, :1] * 1.0  # a copy: y is shifted in place next
    y -= y0
    wh = w * hc
    swh = xp.rowsum(wh)
    swhh = xp.rowdot(wh, hc)
    swy = xp.rowdot(w, y)
    swyy = xp.rowdot(w * y, y)
    swhy = xp.rowdot(wh, y)
    hbar, ybar = swh / W, swy / W
    sxx = swhh - swh * hbar
    syy = swyy - swy * ybar
    sxy = swhy - swh * ybar
    tol = k["tol"]
    fit = sxx > tol * swhh
    beta = xp.where(fit, sxy / xp.where(fit, sxx, 1.0), 0.0)
    flat_y = syy <= tol * swyy
    r2 = xp.where(
        fit,
        xp.where(flat_y, 1.0, xp.clamp_max(sxy * sxy / xp.where(fit, sxx * syy, 1.0), 1.0)),
        0.0,
    )
    lrho0 = y0[:, 0] + ybar - beta * (h0[:, 0] + hbar)
    lrho0 = xp.clamp_max(xp.clamp_min(lrho0, -LOG_CLIP), LOG_CLIP)
    rate = beta * (-0.5 * sc)
    lam = 1.0 / xp.clamp_min(rate, 1.0 / k["lambda_max"])
    return {
        "hdist": xp.asinh(sh) * (2.0 / sc),
        "centroid_x": mx * kk,
        "centroid_y": my * kk,
        "dispersion": disp,
        "rho0": xp.exp_(lrho0),
        "lambda": lam,
        "decay_rate": rate,
        "fit_r2": r2,
        "sh": sh,
        "ch": ch,
        "ux": ux,
        "uy": uy,
    }
