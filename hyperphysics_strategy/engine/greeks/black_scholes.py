"""Black-Scholes-Merton and Black-76 prices and Greeks on arrays (numpy or torch): the API.

The formulas, units, input domain and expiry limits are in ``formulas`` (the reference);
this module converts and validates the inputs and picks the path that computes them.

Inputs / outputs
----------------
numpy (or plain floats) in -> numpy out (float64); torch in -> torch out on the same device
with the same floating dtype (float32 works; float64 recommended).  Arguments broadcast.
``spot``/``forward`` and ``strike`` are positional; everything else is keyword-only, so
``time_to_expiry`` and ``volatility`` cannot be swapped.  ``option_type`` is
``"call"``/``"put"`` or a boolean array (True = call) or an array of ``"call"``/``"put"``
strings or of +1/-1.  ``validate=True`` raises ``ValueError`` naming the first argument
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
from typing import Any

import torch

from . import _paths
from ._backend import Prepared, broadcast_sign, check, prepare
from .formulas import (
    ALL_GREEKS,
    DOMAIN,
    FIRST_ORDER,
    SECOND_ORDER,
    theta_per_day,
    vega_per_vol_point,
)

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


def _compute(
    names: tuple[str, ...],
    *,
    black76: bool,
    spot: Any,
    strike: Any,
    time_to_expiry: Any,
    volatility: Any,
    rate: Any,
    dividend_yield: Any,
    option_type: Any,
    validate: bool,
    use_compile: bool = False,
    spot_name: str = "spot",
) -> tuple[Prepared, list[torch.Tensor]]:
    args = {
        "spot": spot,
        "strike": strike,
        "time_to_expiry": time_to_expiry,
        "volatility": volatility,
        "rate": rate,
    }
    if not black76:
        args["dividend_yield"] = dividend_yield
    rules = {name: rule for name, rule in DOMAIN if name in args}
    try:
        p = prepare(args)
        s = broadcast_sign(p, option_type, p.dtype)
        on_cpu64 = p.device.type == "cpu" and p.dtype == torch.float64
        if _paths.has_fused() and on_cpu64 and not (use_compile or _paths.needs_grad(p, black76)):
            # the kernel checks the full-size inputs while it computes (no extra passes)
            t = p.tensors
            q = t["rate"] if black76 else t["dividend_yield"]
            ins = (t["spot"], t["strike"], t["time_to_expiry"], t["volatility"], t["rate"], q)
            res, flags = _paths.run_fused(p, ins, s, names, black76)
            if validate:
                check(p.tensors, rules, known_bad=flags)
            return p, res
        if validate:
            check(p.tensors, rules)
    except ValueError as exc:
        if spot_name != "spot":
            raise ValueError(str(exc).replace("spot", spot_name)) from None
        raise
    return p, _paths.run(p, s, names, black76, use_compile)


def _greeks(
    names: tuple[str, ...], black76: bool, spot, strike, time_to_expiry, volatility, rate,
    dividend_yield, option_type, validate: bool, use_compile: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """The body of every public function: ``names`` in the caller's kind."""
    p, res = _compute(
        names,
        black76=black76,
        spot=spot,
        strike=strike,
        time_to_expiry=time_to_expiry,
        volatility=volatility,
        rate=rate,
        dividend_yield=dividend_yield,
        option_type=option_type,
        validate=validate,
        use_compile=use_compile,
        spot_name="forward" if black76 else "spot",
    )
    return {n: p.wrap(x) for n, x in zip(names, res, strict=True)}


def _check_names(names: Sequence[str] | None, second_order: bool) -> tuple[str, ...]:
    if names is None:
        return ALL_GREEKS if second_order else FIRST_ORDER
    names = tuple(names)
    bad = [n for n in names if n not in ALL_GREEKS]
    if bad:
        raise ValueError(f"unknown Greek(s) {bad}; choose from {ALL_GREEKS}")
    return names


# --------------------------------------------------------------------------------------
# Black-Scholes-Merton
# --------------------------------------------------------------------------------------


def bsm_greeks(
    spot: Any,
    strike: Any,
    *,
    time_to_expiry: Any,
    volatility: Any,
    rate: Any = 0.0,
    dividend_yield: Any = 0.0,
    option_type: Any = "call",
    second_order: bool = False,
    greeks: Sequence[str] | None = None,
    validate: bool = True,
    compile: bool = False,
) -> dict[str, Any]:
    """Price and Greeks of European options under BSM, all in one pass (the hot path).

    Returns a dict with ``price, delta, gamma, vega, theta, rho`` (plus ``vanna, volga,
    charm`` when ``second_order``; or exactly ``greeks`` when given).  Units: vega per 1.00
    vol, theta per year, rho per 1.00 rate (see the module docstring).
    """
    names = _check_names(greeks, second_order)
    return _greeks(
        names, False, spot, strike, time_to_expiry, volatility, rate, dividend_yield,
        option_type, validate, compile,
    )  # fmt: skip


def _bsm_one(name: str):
    def fn(
        spot: Any,
        strike: Any,
        *,
        time_to_expiry: Any,
        volatility: Any,
        rate: Any = 0.0,
        dividend_yield: Any = 0.0,
        option_type: Any = "call",
        validate: bool = True,
    ) -> Any:
        return _greeks(
            (name,), False, spot, strike, time_to_expiry, volatility, rate, dividend_yield,
            option_type, validate,
        )[name]  # fmt: skip

    fn.__name__ = f"bsm_{name}"
    fn.__qualname__ = fn.__name__
    return fn


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

bsm_price = _bsm_one("price")
bsm_delta = _bsm_one("delta")
bsm_gamma = _bsm_one("gamma")
bsm_vega = _bsm_one("vega")
bsm_theta = _bsm_one("theta")
bsm_rho = _bsm_one("rho")
bsm_vanna = _bsm_one("vanna")
bsm_volga = _bsm_one("volga")
bsm_charm = _bsm_one("charm")
for _n in ALL_GREEKS:
    globals()[f"bsm_{_n}"].__doc__ = (
        f"BSM {_n} of European options ({_UNITS[_n]}); arrays in, same kind out. "
        "See the module docstring for conventions, validation and the T=0 limits."
    )


# --------------------------------------------------------------------------------------
# Black-76
# --------------------------------------------------------------------------------------


def black76_greeks(
    forward: Any,
    strike: Any,
    *,
    time_to_expiry: Any,
    volatility: Any,
    rate: Any = 0.0,
    option_type: Any = "call",
    second_order: bool = False,
    greeks: Sequence[str] | None = None,
    validate: bool = True,
    compile: bool = False,
) -> dict[str, Any]:
    """Price and Greeks of options on a forward/future (Black-76), one pass.

    ``delta``/``gamma`` are with respect to the forward; ``rho = -T * price`` (the forward
    is held fixed); vega per 1.00 vol, theta per year.
    """
    names = _check_names(greeks, second_order)
    return _greeks(
        names, True, forward, strike, time_to_expiry, volatility, rate, None, option_type,
        validate, compile,
    )  # fmt: skip


def _b76_one(name: str):
    def fn(
        forward: Any,
        strike: Any,
        *,
        time_to_expiry: Any,
        volatility: Any,
        rate: Any = 0.0,
        option_type: Any = "call",
        validate: bool = True,
    ) -> Any:
        return _greeks(
            (name,), True, forward, strike, time_to_expiry, volatility, rate, None, option_type,
            validate,
        )[name]  # fmt: skip

    fn.__name__ = f"black76_{name}"
    fn.__qualname__ = fn.__name__
    fn.__doc__ = (
        f"Black-76 {name} of European options on a forward ({_UNITS[name]}); "
        "arrays in, same kind out."
    )
    return fn


black76_price = _b76_one("price")
black76_delta = _b76_one("delta")
black76_gamma = _b76_one("gamma")
black76_vega = _b76_one("vega")
black76_theta = _b76_one("theta")
black76_rho = _b76_one("rho")
black76_vanna = _b76_one("vanna")
black76_volga = _b76_one("volga")
black76_charm = _b76_one("charm")
