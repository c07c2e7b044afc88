"""Black-Scholes-Merton and Black-76 prices and Greeks on arrays (numpy or torch): the API.

The formulas, units, input domain and expiry limits are in ``formulas`` (the reference);
this module converts and validates the inputs and picks the path that computes them.

Inputs / outputs
----------------
numpy (or plain floats) in -> numpy out (float64); torch in -> torch out on the same device
with the same floating dtype (float32 works; float64 recommended).  Arguments broadcast.
``spot``/``forward`` and ``strike`` are positional; everything else is keyword-only, so
``time_to_expiry`` and ``volatility`` cannot be swapped (the keywords, their units and
defaults: ``terms``).  ``validate=True`` raises ``ValueError`` naming the first argument
outside ``formulas.DOMAIN`` (or shapes that do not broadcast).  Deep in/out of the money
the formulas saturate (N -> 0/1, the density underflows to 0) without NaN.

Performance
-----------
CPU float64 without autograd (numpy in, or CPU float64 tensors that do not require grad):
one fused numba kernel (``_fused``) computes the shared terms (d1, d2, N(s d1), N(s d2),
the density, the discount factors) once per option and writes every output in the same
pass; it vectorises (AVX2) thanks to its own exp/log/N(x) (N to ~2e-15 relative, down to
the underflow of the lower tail) and splits large inputs over a small thread pool.  The
first call in a fresh environment compiles it (~5 s per variant: BSM / Black-76, first /
second order, scalar or array rate, dividend yield, option type), then it is loaded from
the on-disk cache (``__pycache__``) in milliseconds.
Everything else (GPU, float32, autograd, ``compile=True``) runs the reference
``formulas.greeks_from_inputs``: one
pass over shared terms, large CPU inputs in cache-sized chunks.  ``compile=True`` on the
``*_greeks`` functions uses ``torch.compile`` (needs a C++ compiler on CPU / Triton on GPU;
the first call per dtype/device compiles, ~15 s on CPU).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Unpack

import torch

from . import _paths
from ._backend import broadcast_sign, check, prepare
from .formulas import (
    ALL_GREEKS,
    DOMAIN,
    FIRST_ORDER,
    SECOND_ORDER,
    theta_per_day,
    vega_per_vol_point,
)
from .terms import ArrayLike, Black76Greeks, Black76Price, BSMGreeks, BSMPrice, takes

__all__ = [
    "FIRST_ORDER",
    "SECOND_ORDER",
    "bsm_price",
    "bsm_delta",
    "bsm_gamma",
    "bsm_vega",
    "bsm_theta",
    "bsm_rho",
    "bsm_vanna",
    "bsm_volga",
    "bsm_charm",
    "bsm_greeks",
    "black76_price",
    "black76_delta",
    "black76_gamma",
    "black76_vega",
    "black76_theta",
    "black76_rho",
    "black76_vanna",
    "black76_volga",
    "black76_charm",
    "black76_greeks",
    "vega_per_vol_point",
    "theta_per_day",
]


def _greeks(names: tuple[str, ...], black76: bool, kw: dict[str, Any]) -> dict[str, Any]:
    """The body of every public function: ``names`` from the bound arguments ``kw`` (the
    underlying under ``spot``), in the caller's kind."""
    args = {name: kw[name] for name, _ in DOMAIN if name in kw}
    rules = {name: rule for name, rule in DOMAIN if name in args}
    try:
        p = prepare(args)
        s = broadcast_sign(p, kw["option_type"], p.dtype)
        on_cpu64 = p.device.type == "cpu" and p.dtype == torch.float64
        if _paths.has_fused() and on_cpu64 and not (kw["compile"] or _paths.needs_grad(p, black76)):
            # the kernel checks the full-size inputs while it computes (no extra passes)
            t = p.tensors
            q = t["rate"] if black76 else t["dividend_yield"]
            ins = (t["spot"], t["strike"], t["time_to_expiry"], t["volatility"], t["rate"], q)
            res, flags = _paths.run_fused(p, ins, s, names, black76)
            if kw["validate"]:
                check(p.tensors, rules, known_bad=flags)
            return {n: p.wrap(x) for n, x in zip(names, res, strict=True)}
        if kw["validate"]:
            check(p.tensors, rules)
    except ValueError as exc:
        if black76:
            raise ValueError(str(exc).replace("spot", "forward")) from None
        raise
    res = _paths.run(p, s, names, black76, kw["compile"])
    return {n: p.wrap(x) for n, x in zip(names, res, strict=True)}


def _check_names(names: Sequence[str] | None, second_order: bool) -> tuple[str, ...]:
    if names is None:
        return ALL_GREEKS if second_order else FIRST_ORDER
    names = tuple(names)
    bad = [n for n in names if n not in ALL_GREEKS]
    if bad:
        raise ValueError(f"unknown Greek(s) {bad}; choose from {ALL_GREEKS}")
    return names


@takes(BSMGreeks, "spot", "strike")
def bsm_greeks(spot: ArrayLike, strike: ArrayLike, **kw: Unpack[BSMGreeks]) -> dict[str, Any]:
    """Price and Greeks of European options under BSM, all in one pass (the hot path).

    Returns a dict with ``price, delta, gamma, vega, theta, rho`` (plus ``vanna, volga,
    charm`` when ``second_order``; or exactly ``greeks`` when given).  Units: vega per 1.00
    vol, theta per year, rho per 1.00 rate (see the module docstring).
    """
    names = _check_names(kw["greeks"], kw["second_order"])
    return _greeks(names, False, {"spot": spot, "strike": strike, **kw})


@takes(Black76Greeks, "forward", "strike")
def black76_greeks(
    forward: ArrayLike, strike: ArrayLike, **kw: Unpack[Black76Greeks]
) -> dict[str, Any]:
    """Price and Greeks of options on a forward/future (Black-76), one pass.

    ``delta``/``gamma`` are with respect to the forward; ``rho = -T * price`` (the forward
    is held fixed); vega per 1.00 vol, theta per year.
    """
    names = _check_names(kw["greeks"], kw["second_order"])
    return _greeks(names, True, {"spot": forward, "strike": strike, **kw})


_UNITS = {
    "price": "option value, in the units of spot/strike",
    "delta": "dV/dS",
    "gamma": "d2V/dS2",
    "vega": "dV/dsigma per 1.00 of volatility (divide by 100 for per vol point)",
    "theta": "dV/dt per year of calendar time (divide by 365 for per day)",
    "rho": "dV/dr per 1.00 of rate",
    "vanna": "d2V/dS dsigma per 1.00 of volatility",
    "volga": "d2V/dsigma2 per 1.00 of volatility squared (vomma)",
    "charm": "d(delta)/dt per year of calendar time",
}


def _one(black76: bool, name: str) -> Any:
    """The public function of one output: ``bsm_<name>`` or ``black76_<name>``."""
    underlying, spec = ("forward", Black76Price) if black76 else ("spot", BSMPrice)

    def fn(strike: ArrayLike, **kw: Any) -> Any:
        kw["spot"] = kw.pop(underlying)
        return _greeks((name,), black76, {"strike": strike, "compile": False, **kw})[name]

    model = "Black-76" if black76 else "BSM"
    fn.__name__ = fn.__qualname__ = f"{'black76' if black76 else 'bsm'}_{name}"
    fn.__doc__ = (
        f"{model} {name} of European options ({_UNITS[name]}); arrays in, same kind out. "
        "See the module docstring for conventions, validation and the T=0 limits."
    )
    return takes(spec, underlying, "strike")(fn)


(
    bsm_price,
    bsm_delta,
    bsm_gamma,
    bsm_vega,
    bsm_theta,
    bsm_rho,
    bsm_vanna,
    bsm_volga,
    bsm_charm,
    black76_price,
    black76_delta,
    black76_gamma,
    black76_vega,
    black76_theta,
    black76_rho,
    black76_vanna,
    black76_volga,
    black76_charm,
) = (_one(black76, name) for black76 in (False, True) for name in ALL_GREEKS)
