"""Reference implementation of Black-Scholes-Merton and Black-76: formulas, units, domain.

Every option formula of ``engine.greeks`` is written here once, on torch tensors
(:func:`greeks_from_inputs`); ``black_scholes`` validates and dispatches to it (GPU,
float32, autograd, ``torch.compile``), and the fused numba kernel ``_fused`` (the CPU
float64 fast path that meets the ``>= 5x`` target of ``benchmarks/perf/bench_risk.py``) computes
the same formulas and is tested against this one on the same inputs
(``tests/test_greeks_properties.py``).  Constants and the input domain are named once here.

Models
------
* **BSM** (Black & Scholes 1973; Merton 1973, continuous dividend yield / carry ``q``)::

      d1 = (ln(S/K) + (r - q + sigma^2/2) T) / (sigma sqrt T),   d2 = d1 - sigma sqrt T
      price = s (S e^-qT N(s d1) - K e^-rT N(s d2)),   s = +1 call, -1 put
      delta = s e^-qT N(s d1)               gamma = e^-qT phi(d1) / (S sigma sqrt T)
      vega  = S e^-qT phi(d1) sqrt T         rho   = s K T e^-rT N(s d2)
      theta = -S e^-qT phi(d1) sigma / (2 sqrt T) - s r K e^-rT N(s d2) + s q S e^-qT N(s d1)
      vanna = -e^-qT phi(d1) d2 / sigma      volga = vega d1 d2 / sigma
      charm = s q e^-qT N(s d1) - e^-qT phi(d1) (2 (r-q) T - d2 sigma sqrt T) / (2 T sigma sqrt T)

  (second-order Greeks as in Haug, *The Complete Guide to Option Pricing Formulas*,
  2nd ed., 2007, ch. 2).
* **Black-76** (Black 1976) on a forward/future ``F`` discounted at ``r``: the BSM formulas
  with ``S = F`` and ``q = r``, except ``rho = dV/dr = -T price`` (the forward is held fixed).

Units
-----
``T`` in years; ``sigma``, ``r``, ``q`` annualised decimals (0.65 = 65 %), continuously
compounded.  delta dV/dS, gamma d2V/dS2; **vega per 1.00 of volatility**
(:func:`vega_per_vol_point` divides by 100); **theta per year** of calendar time, ``-dV/dT``
(:func:`theta_per_day` divides by 365); rho per 1.00 of rate; vanna d2V/dS dsigma; volga
d2V/dsigma2; charm d(delta)/dt per year.

Domain (:data:`DOMAIN`)
-----------------------
spot/forward, strike, volatility > 0; time_to_expiry >= 0; rate, dividend_yield finite.
NaN breaks every rule.

Expiry (``T == 0``)
-------------------
With ``m = s (S - K)``, ``h = 1`` if ``m > 0``, ``0.5`` if ``S == K``, ``0`` otherwise:
``price = max(m, 0)``, ``delta = s h``, ``gamma = vega = vanna = volga = rho = 0``,
``theta = s h (q S - r K)`` (Black-76: ``r max(m, 0)``), ``charm = s h q`` (Black-76:
``s h r``).  Exactly at the strike the true limits of gamma and theta diverge; these are
the finite terms.

Examples
--------
Hull's textbook call (S = K = 100, T = 1, sigma = 0.2, r = 0.05):

>>> import torch
>>> one = lambda x: torch.tensor(x, dtype=torch.float64)
>>> out = greeks_from_inputs(one(100.0), one(100.0), one(1.0), one(0.2), one(0.05), one(0.0),
...                          1.0, ("price", "delta", "vega"), black76=False, expiry=False)
>>> [round(x.item(), 4) for x in out]
[10.4506, 0.6368, 37.524]
>>> round(vega_per_vol_point(37.524), 5), round(theta_per_day(-6.414), 5)
(0.37524, -0.01757)
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = [
    "ALL_GREEKS",
    "DOMAIN",
    "FINITE",
    "FIRST_ORDER",
    "INV_SQRT_2PI",
    "NONNEGATIVE",
    "POSITIVE",
    "RULE_TEXT",
    "SECOND_ORDER",
    "greeks_from_inputs",
    "theta_per_day",
    "vega_per_vol_point",
]

FIRST_ORDER = ("price", "delta", "gamma", "vega", "theta", "rho")
SECOND_ORDER = ("vanna", "volga", "charm")
ALL_GREEKS = FIRST_ORDER + SECOND_ORDER

INV_SQRT_2PI = 0.3989422804014327
"""1 / sqrt(2 pi): the standard normal density is ``INV_SQRT_2PI exp(-x^2/2)``."""

POSITIVE, NONNEGATIVE, FINITE = 0, 1, 2
RULE_TEXT = {
    POSITIVE: "must be > 0 and not NaN",
    NONNEGATIVE: "must be >= 0 and not NaN",
    FINITE: "must be finite (no NaN or inf)",
}
DOMAIN = (
    ("spot", POSITIVE),
    ("strike", POSITIVE),
    ("time_to_expiry", NONNEGATIVE),
    ("volatility", POSITIVE),
    ("rate", FINITE),
    ("dividend_yield", FINITE),
)
"""The inputs in kernel order and the rule each must meet (Black-76 has no dividend_yield)."""


def vega_per_vol_point(vega: Any) -> Any:
    """Vega per 1 volatility point (0.01) from vega per 1.00 of volatility."""
    return vega / 100.0


def theta_per_day(theta: Any, days_per_year: float = 365.0) -> Any:
    """Theta per calendar day from theta per year (default 365 days a year)."""
    return theta / days_per_year


def greeks_from_inputs(
    S: torch.Tensor,
    K: torch.Tensor,
    T: torch.Tensor,
    sig: torch.Tensor,
    r: torch.Tensor,
    q: torch.Tensor,
    s: Any,
    names: tuple[str, ...],
    black76: bool,
    expiry: bool,
) -> list[torch.Tensor]:
    """Price and Greeks ``names`` (a tuple of ``ALL_GREEKS`` names) of European options.

    Torch tensors that broadcast (``s``: +1.0 call / -1.0 put, a float or a tensor); the
    formulas of the module docstring, each shared term (d1, d2, N(s d1), N(s d2), the
    density, the discount factors) computed once.  ``black76``: ``S`` is the forward and
    ``q`` must be ``r``.  ``expiry``: some ``T`` may be 0 (the limits of the docstring are
    returned there).  No validation: ``black_scholes`` validates first.
    """
    want = set(names)
    if expiry:
        live = T > 0
        Te = torch.where(live, T, torch.ones_like(T))
    else:
        Te = T
    sqT = torch.sqrt(Te)
    vst = sig * sqT
    d1 = (torch.log(S / K) + (r - q + 0.5 * sig * sig) * Te) / vst
    d2 = d1 - vst
    Dq = torch.exp(-q * Te)
    out: dict[str, torch.Tensor] = {}
    need_N = bool(want & {"price", "delta", "theta", "rho", "charm"})
    need_pdf = bool(want & {"gamma", "vega", "theta", "vanna", "volga", "charm"})
    scalar_sign = isinstance(s, float)
    if need_N:
        if scalar_sign:
            N1 = torch.special.ndtr(d1 if s > 0 else -d1)
            N2 = torch.special.ndtr(d2 if s > 0 else -d2)
        else:
            N1 = torch.special.ndtr(s * d1)
            N2 = torch.special.ndtr(s * d2)
        SDqN1 = S * Dq * N1
        KDrN2 = K * torch.exp(-r * Te) * N2
        price = s * (SDqN1 - KDrN2)
        if "price" in want:
            out["price"] = price
        if "delta" in want:
            out["delta"] = s * Dq * N1
    if need_pdf:
        pdf = torch.exp(-0.5 * d1 * d1) * INV_SQRT_2PI
        Dq_pdf = Dq * pdf
        if "gamma" in want:
            out["gamma"] = Dq_pdf / (S * vst)
        vega = S * Dq_pdf * sqT
        if "vega" in want:
            out["vega"] = vega
        if "vanna" in want:
            out["vanna"] = -Dq_pdf * d2 / sig
        if "volga" in want:
            out["volga"] = vega * d1 * d2 / sig
    if "theta" in want:
        decay = -S * Dq_pdf * sig / (2.0 * sqT)
        if black76:
            out["theta"] = decay + r * price
        else:
            out["theta"] = decay + s * (q * SDqN1 - r * KDrN2)
    if "rho" in want:
        out["rho"] = -Te * price if black76 else s * Te * KDrN2
    if "charm" in want:
        out["charm"] = s * q * Dq * N1 - Dq_pdf * (2.0 * (r - q) * Te - d2 * vst) / (2.0 * Te * vst)
    if expiry:
        m = s * (S - K)
        h = (m > 0).to(S.dtype) + 0.5 * (S == K).to(S.dtype)
        intrinsic = torch.clamp(m, min=0.0)
        zero = torch.zeros((), dtype=S.dtype, device=S.device)
        limits = {
            "price": intrinsic,
            "delta": s * h,
            "theta": r * intrinsic if black76 else s * h * (q * S - r * K),
            "charm": s * h * q,
        }
        for name in names:
            out[name] = torch.where(live, out[name], limits.get(name, zero))
    return [out[n] for n in names]
