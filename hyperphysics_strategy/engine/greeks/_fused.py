"""Fused numba kernel: price and Greeks of BSM / Black-76 options in one pass (CPU, float64).

The fast path of the formulas in ``formulas`` (the reference), kept because it meets the
``>= 5x`` target of ``benchmarks/perf/bench_risk.py``; tested against the reference on the same
inputs.  The numpy (and CPU float64 torch, without autograd) path of ``black_scholes`` runs
here: one loop over the options computes d1, d2, the discount factors, N(d1), N(d2) and the density
once and writes every output, with no temporaries.  ``greeks_into`` splits the loop over
a few threads for large inputs (a plain thread pool: the compiled loop releases the GIL).

The loop vectorises (AVX2: 4 options per instruction) because its transcendental functions
are written here in plain arithmetic instead of calls to the C library:

* ``_exp``: ``2^k e^r`` with ``k = round(x / ln 2)``, ``|r| <= ln(2)/2`` (Cody-Waite split
  of ln 2) and the degree-13 Taylor polynomial of ``e^r`` (truncation < 5e-18); ``2^k``
  is built from its exponent bits, in two factors so that results down to the subnormal
  range and overflow to inf come out right.
* ``_log``: ``e ln 2 + ln m`` with ``m`` in [sqrt(1/2), sqrt(2)), ``ln m = 2 atanh(f)``,
  ``f = (m - 1)/(m + 1)``, odd series to ``f^23`` (truncation < 1e-18 relative).
* ``_ncdf``: ``N(x) = T`` for ``x < 0`` and ``1 - T`` otherwise, with the tail
  ``T = exp(-x^2/2) erfcx(|x|/sqrt 2) / 2``; ``erfcx(z) = exp(z^2) erfc(z)`` is a
  23-term Chebyshev series in ``t = (z - 4)/(z + 4)`` over ``0 <= z <= 27`` (beyond, the
  tail underflows to 0), fitted here to erfcx computed with mpmath at 50 digits
  (largest neglected coefficient 4e-19).  The tail keeps full relative precision deep in
  the lower tail (no ``1 - erf`` cancellation); ``exp(-x^2/2)`` is shared with the density.

Measured against mpmath, ``_ncdf`` is within ~3e-15 relative of N(x) everywhere down to
the underflow at x ~ -38;
``_exp``/``_log`` stay within 2 ulp (tests/test_greeks_properties.py checks all three).

``cache=True``: the compiled machine code is written next to this file (``__pycache__``)
on the first call, ~12 s per type signature on a 2-core machine; later processes load it in
milliseconds.  Below ``_paths._FILL_BELOW`` options every input comes as an array (one
signature per variant); larger calls may pass floats (one signature per combination).
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

from .formulas import DOMAIN, FINITE, INV_SQRT_2PI, NONNEGATIVE, POSITIVE

__all__ = ["INPUTS", "N_OUT", "greeks_into", "ncdf", "vexp", "vlog"]

INPUTS = tuple(name for name, _ in DOMAIN)
"""Bit j of ``greeks_into``'s result: input j held an invalid value (NaN or out of domain)."""
# the rule of each input (formulas.DOMAIN), frozen into the compiled kernel
_R_S, _R_K, _R_T, _R_SIG, _R_R, _R_Q = (rule for _, rule in DOMAIN)

N_OUT = 9  # price, delta, gamma, vega, theta, rho, vanna, volga, charm
PARALLEL_MIN = 1 << 15  # options per thread below which one thread is faster

_INV_SQRT2 = 0.7071067811865476
_LOG2E = 1.4426950408889634
_LN2_HI = 0.6931467056274414  # ln 2 with the low 32 mantissa bits zero: k * _LN2_HI is exact
_LN2_LO = 4.7493250390316726e-07  # ln 2 - _LN2_HI (mpmath, 40 digits)
_SQRT2 = 1.4142135623730951
_TINY = 2.2250738585072014e-308  # smallest normal float64
_TWO54 = 18014398509481984.0

# erfcx(z) = sum_k _CX[k] u^k, u = (t - _CX_MID) * _CX_INVH, t = (z - 4) / (z + 4), z <= 27:
# the 25-term Chebyshev interpolant of erfcx over t in [-1, 23/31] (mapped to u in [-1, 1]),
# converted to the power basis in 50-digit arithmetic (the coefficients stay below 0.3, so
# Horner's rule loses nothing: 2.5e-15 worst relative error, checked in double).
_CX_MID = -0.12903225806451613  # (23/31 - 1) / 2
_CX_INVH = 1.1481481481481481  # 2 / (23/31 + 1)
_CX = (
    0.17445461693784686,
    -0.2828442858795722,
    0.22354311245051917,
    -0.1536013639978661,
    0.09123348978387198,
    -0.046283765539712515,
    0.019615138352863604,
    -0.006653806476239357,
    0.0016361862710671609,
    -0.00019861910967740553,
    -3.9346536767450656e-05,
    2.3854230049272237e-05,
    -2.794475177483319e-06,
    -1.2516260707764047e-06,
    4.415834853269588e-07,
    4.240899888037989e-08,
    -4.422441296379215e-08,
    1.7743949823609352e-10,
    4.235293228953462e-09,
    -2.1573692444666502e-10,
    -4.2115140893231074e-10,
    2.5097189525784653e-11,
    4.04214730168011e-11,
    -1.4990475930290846e-12,
    -2.6490208676543026e-12,
)
(
    _C0,
    _C1,
    _C2,
    _C3,
    _C4,
    _C5,
    _C6,
    _C7,
    _C8,
    _C9,
    _C10,
    _C11,
    _C12,
    _C13,
    _C14,
    _C15,
    _C16,
    _C17,
    _C18,
    _C19,
    _C20,
    _C21,
    _C22,
    _C23,
    _C24,
) = _CX


# ----------------------------------------------------------------------------- bit casts
@intrinsic
def _f2i(typingctx, x):
    if x != types.float64:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def _i2f(typingctx, x):
    if x != types.int64:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


# ----------------------------------------------------------------------------- elementary
@njit(inline="always", error_model="numpy")
def _exp(x):
    xc = x if x > -746.0 else -746.0  # NaN -> -746, restored below
    xc = xc if xc < 710.0 else 710.0
    k = math.floor(xc * _LOG2E + 0.5)
    r = (xc - k * _LN2_HI) - k * _LN2_LO
    r2 = r * r
    r4 = r2 * r2
    p0 = (1.0 + r) + (0.5 + r * (1.0 / 6.0)) * r2
    p1 = (1.0 / 24.0 + r * (1.0 / 120.0)) + (1.0 / 720.0 + r * (1.0 / 5040.0)) * r2
    p2 = (1.0 / 40320.0 + r * (1.0 / 362880.0)) + (1.0 / 3628800.0 + r * (1.0 / 39916800.0)) * r2
    p3 = 1.0 / 479001600.0 + r * (1.0 / 6227020800.0)
    p = (p0 + p1 * r4) + (p2 + p3 * r4) * (r4 * r4)
    ki = np.int64(k)
    k1 = ki >> 1
    k2 = ki - k1
    y = p * _i2f((k1 + 1023) << 52) * _i2f((k2 + 1023) << 52)
    return y if x == x else x


@njit(inline="always", error_model="numpy")
def _log(x):
    sub = x < _TINY
    xs = x * _TWO54 if sub else x
    bits = _f2i(xs)
    e = ((bits >> 52) & 0x7FF) - 1023
    m = _i2f((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)  # in [1, 2)
    big = m > _SQRT2
    m = 0.5 * m if big else m
    ef = np.float64(e) + (1.0 if big else 0.0) - (54.0 if sub else 0.0)
    f = (m - 1.0) / (m + 1.0)
    s = f * f
    s2 = s * s
    s4 = s2 * s2
    p0 = (2.0 / 3.0 + s * (2.0 / 5.0)) + (2.0 / 7.0 + s * (2.0 / 9.0)) * s2
    p1 = (2.0 / 11.0 + s * (2.0 / 13.0)) + (2.0 / 15.0 + s * (2.0 / 17.0)) * s2
    p2 = (2.0 / 19.0 + s * (2.0 / 21.0)) + s2 * (2.0 / 23.0)
    lm = f * (2.0 + s * ((p0 + p1 * s4) + p2 * (s4 * s4)))
    y = ef * _LN2_HI + (lm + ef * _LN2_LO)
    y = y if x > 0.0 else (-math.inf if x == 0.0 else math.nan)
    return y if x < math.inf else x


@njit(inline="always", error_model="numpy")
def _erfcx(z):
    """exp(z^2) erfc(z) for 0 <= z <= 27 (Horner sum of the fitted polynomial)."""
    u = ((z - 4.0) / (z + 4.0) - _CX_MID) * _CX_INVH
    # Estrin's scheme: a shallow dependency chain (6 steps, not 24) keeps the pipes busy
    u2 = u * u
    u4 = u2 * u2
    u8 = u4 * u4
    a0 = (_C0 + _C1 * u) + (_C2 + _C3 * u) * u2
    a1 = (_C4 + _C5 * u) + (_C6 + _C7 * u) * u2
    a2 = (_C8 + _C9 * u) + (_C10 + _C11 * u) * u2
    a3 = (_C12 + _C13 * u) + (_C14 + _C15 * u) * u2
    a4 = (_C16 + _C17 * u) + (_C18 + _C19 * u) * u2
    a5 = (_C20 + _C21 * u) + (_C22 + _C23 * u) * u2
    lo = (a0 + a1 * u4) + (a2 + a3 * u4) * u8
    hi = (a4 + a5 * u4) + _C24 * u8
    return lo + hi * (u8 * u8)


@njit(inline="always", error_model="numpy")
def _gauss(x):
    """exp(-x^2/2) without the rounding of x^2: x = xh + xl with xh of 26 bits (xh^2 exact)."""
    xh = _i2f(_f2i(x) & -0x8000000)
    d = -0.5 * ((x - xh) * (x + xh))
    return _exp(-0.5 * (xh * xh)) * (1.0 + d * (1.0 + d * (0.5 + d * (1.0 / 6.0))))


@njit(inline="always", error_model="numpy")
def _ncdf_g(x, g):
    """N(x) given ``g = exp(-x^2/2)`` (shared with the density)."""
    z = abs(x) * _INV_SQRT2
    z = z if z < 27.0 else 27.0  # beyond: g underflows; NaN stays NaN through g
    tail = 0.5 * g * _erfcx(z)
    return tail if x < 0.0 else 1.0 - tail


# ----------------------------------------------------------------------------- element access
def _at(a, i):  # pragma: no cover - replaced by the overload inside numba
    return a if np.ndim(a) == 0 else a[i]


@overload(_at, inline="always")
def _at_impl(a, i):
    if isinstance(a, types.Float):
        return lambda a, i: a
    return lambda a, i: a[i]


@njit(inline="always", error_model="numpy")
def _ok(rule, x):
    """``x`` meets ``rule`` (a ``formulas`` rule constant; the branch folds away)."""
    if rule == POSITIVE:
        return x > 0.0
    if rule == NONNEGATIVE:
        return x >= 0.0
    return abs(x) < math.inf if rule == FINITE else False


@njit(inline="always", error_model="numpy")
def _one(out, i, S, K, T, sig, r, q, s, b76, second):
    # validity (formulas.DOMAIN; NaN fails every rule), one bit per input in INPUTS order
    bad = (
        (0 if _ok(_R_S, S) else 1)
        | (0 if _ok(_R_K, K) else 2)
        | (0 if _ok(_R_T, T) else 4)
        | (0 if _ok(_R_SIG, sig) else 8)
        | (0 if _ok(_R_R, r) else 16)
        | (0 if _ok(_R_Q, q) else 32)
    )
    live = T > 0.0
    Te = T if live else 1.0
    sqT = math.sqrt(Te)
    vst = sig * sqT
    d1 = (_log(S / K) + (r - q + 0.5 * sig * sig) * Te) / vst
    d2 = d1 - vst
    Dq = _exp(-q * Te)
    KDr = K * _exp(-r * Te)
    g1 = _gauss(d1)
    g2 = _gauss(d2)
    N1 = _ncdf_g(s * d1, g1)
    N2 = _ncdf_g(s * d2, g2)
    DqN1 = Dq * N1
    SDqN1 = S * DqN1
    KDrN2 = KDr * N2
    price = s * (SDqN1 - KDrN2)
    Dq_pdf = Dq * g1 * INV_SQRT_2PI
    vega = S * Dq_pdf * sqT
    decay = -S * Dq_pdf * sig / (2.0 * sqT)
    theta = decay + r * price if b76 else decay + s * (q * SDqN1 - r * KDrN2)
    rho = -Te * price if b76 else s * Te * KDrN2
    # T == 0: the limits documented in black_scholes
    m = s * (S - K)
    h = (1.0 if m > 0.0 else 0.0) + (0.5 if S == K else 0.0)
    intrinsic = m if m > 0.0 else 0.0
    out[0, i] = price if live else intrinsic
    out[1, i] = s * DqN1 if live else s * h
    out[2, i] = Dq_pdf / (S * vst) if live else 0.0
    out[3, i] = vega if live else 0.0
    out[4, i] = theta if live else (r * intrinsic if b76 else s * h * (q * S - r * K))
    out[5, i] = rho if live else 0.0
    if second:
        out[6, i] = -Dq_pdf * d2 / sig if live else 0.0
        out[7, i] = vega * d1 * d2 / sig if live else 0.0
        charm = s * q * DqN1 - Dq_pdf * (2.0 * (r - q) * Te - d2 * vst) / (2.0 * Te * vst)
        out[8, i] = charm if live else s * h * q
    return bad


@njit(inline="always", error_model="numpy")
def _elem(out, i, S, K, T, sig, r, q, s, b76, second):
    qi = _at(r, i) if b76 else _at(q, i)
    return _one(out, i, _at(S, i), _at(K, i), _at(T, i), _at(sig, i), _at(r, i), qi, _at(s, i),
         b76, second)  # fmt: skip


_JIT = {"cache": True, "error_model": "numpy", "fastmath": {"contract"}}


def _make_loop(b76: bool, second: bool):
    """The option loop over ``start:stop`` with ``b76``/``second`` frozen as compile-time
    constants: with runtime flags LLVM does not vectorise it (3-4x slower)."""

    def loop(S, K, T, sig, r, q, s, out, start, stop):
        bad = 0
        for j in range(stop - start):
            # an unsigned index: no negative-index wraparound, which blocks vectorisation
            bad |= _elem(out, np.uint64(start + j), S, K, T, sig, r, q, s, b76, second)
        return bad

    name = f"{'b76' if b76 else 'bsm'}_{9 if second else 6}"
    loop.__name__ = loop.__qualname__ = f"_greeks_{name}"  # one cache file per variant
    return njit(nogil=True, **_JIT)(loop)


_LOOPS = {
    (b76, second): _make_loop(b76, second) for b76 in (False, True) for second in (False, True)
}
_THREADS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
_pool: list[ThreadPoolExecutor] = []


def greeks_into(out, S, K, T, sig, r, q, s, b76: bool) -> int:
    """Fill ``out`` (6 or 9, n) with price, delta, gamma, vega, theta, rho (+ vanna, volga,
    charm when it has 9 rows).  Each input is a float or a contiguous float64 (n,) array;
    ``s`` is +1.0 (call) / -1.0 (put) or such an array; ``q`` is ignored when ``b76``.
    Returns the ``INPUTS`` bit mask of inputs that held an invalid value.

    Large inputs are split into slices run on a small thread pool (the loop releases the
    GIL); no OpenMP runtime is involved, so nothing spins against torch's own threads.
    """
    fn = _LOOPS[(bool(b76), out.shape[0] == N_OUT)]
    n = out.shape[1]
    workers = min(_THREADS or 1, n // PARALLEL_MIN)
    if workers <= 1:
        return fn(S, K, T, sig, r, q, s, out, 0, n)
    if not _pool:
        _pool.append(ThreadPoolExecutor(max_workers=workers, thread_name_prefix="greeks"))
    parts = 4 * workers  # more slices than threads: a thread slowed by others lags less
    cuts = [n * j // parts for j in range(parts + 1)]
    jobs = [
        _pool[0].submit(fn, S, K, T, sig, r, q, s, out, cuts[j], cuts[j + 1]) for j in range(parts)
    ]
    bad = 0
    for job in jobs:
        bad |= job.result()
    return bad


@njit(**_JIT)
def _map(kind, x, out):
    for i in range(x.shape[0]):
        v = x[i]
        if kind == 0:
            out[i] = _exp(v)
        elif kind == 1:
            out[i] = _log(v)
        else:
            out[i] = _ncdf_g(v, _gauss(v))


def vexp(x: np.ndarray) -> np.ndarray:
    """The kernel's exp on a float64 array (for tests)."""
    x = np.ascontiguousarray(x, dtype=np.float64).ravel()
    out = np.empty_like(x)
    _map(0, x, out)
    return out


def vlog(x: np.ndarray) -> np.ndarray:
    """The kernel's natural log on a float64 array (for tests)."""
    x = np.ascontiguousarray(x, dtype=np.float64).ravel()
    out = np.empty_like(x)
    _map(1, x, out)
    return out


def ncdf(x: np.ndarray) -> np.ndarray:
    """The kernel's standard normal CDF on a float64 array (for tests)."""
    x = np.ascontiguousarray(x, dtype=np.float64).ravel()
    out = np.empty_like(x)
    _map(2, x, out)
    return out
