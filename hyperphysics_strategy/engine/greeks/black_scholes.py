"""Black-Scholes-Merton and Black-76 prices and Greeks on arrays (numpy or torch).

Models
------
* **BSM** (generalised, continuous dividend yield / carry ``q``)::

      d1 = (ln(S/K) + (r - q + sigma^2/2) T) / (sigma sqrt(T)),   d2 = d1 - sigma sqrt(T)
      V  = s (S e^{-qT} N(s d1) - K e^{-rT} N(s d2)),   s = +1 call, -1 put

* **Black-76** on a forward/future ``F`` discounted at ``r``: the BSM formulas with
  ``S = F`` and ``q = r``, except ``rho = dV/dr = -T V`` (the forward is held fixed).

Units (every function, both models)
-----------------------------------
* ``time_to_expiry`` in years; ``volatility``, ``rate``, ``dividend_yield`` annualised,
  as decimals (0.65 = 65 %), continuously compounded.
* ``delta`` dV/dS, ``gamma`` d2V/dS2 (per unit of the underlying's price).
* ``vega`` dV/dsigma **per 1.00 of volatility** (``vega_per_vol_point`` divides by 100).
* ``theta`` dV/dt **per year** of calendar time (= -dV/dT; ``theta_per_day`` divides by 365).
* ``rho`` dV/dr per 1.00 of rate (divide by 100 for per-percentage-point).
* ``vanna`` d2V/dS dsigma, ``volga`` (vomma) d2V/dsigma2 per 1.00 vol (squared),
  ``charm`` d(delta)/dt per year (= -d delta/dT).

Inputs / outputs
----------------
numpy (or plain floats) in -> numpy out (float64); torch in -> torch out on the same device
with the same floating dtype (float32 works; float64 recommended).  Arguments broadcast.
``option_type`` is ``"call"``/``"put"`` or a boolean array (True = call) or an array of
``"call"``/``"put"`` strings or of +1/-1.

Validation (``validate=True``): ``spot``/``forward``, ``strike``, ``volatility`` must be
> 0, ``time_to_expiry`` >= 0, ``rate``/``dividend_yield`` finite; NaN anywhere fails;
shapes must broadcast.  Each violation raises ``ValueError`` naming the argument.

Expiry (``T == 0``) limits, defined explicitly (no NaN): with ``m = s (S - K)``,
``h = 1`` if ``m > 0``, ``0.5`` if ``S == K``, ``0`` otherwise:
``price = max(m, 0)``, ``delta = s h``, ``gamma = vega = vanna = volga = rho = 0``,
``theta = s h (q S - r K)`` (Black-76: ``r max(m, 0)``), ``charm = s h q``
(Black-76: ``s h r``).  Exactly at the strike the true limits of gamma and theta diverge;
the convention above returns the finite terms only.  Deep in/out of the money the formulas
saturate (N -> 0/1, the density underflows to 0) without NaN.

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
Everything else (GPU, float32, autograd, ``compile=True``) runs the torch kernel below: one
pass over shared terms, large CPU inputs in cache-sized chunks.  ``compile=True`` on the
``*_greeks`` functions uses ``torch.compile`` (needs a C++ compiler on CPU / Triton on GPU;
the first call per dtype/device compiles, ~15 s on CPU).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ._backend import Prepared, broadcast_sign, check, prepare

try:  # the fused CPU kernel; without numba everything runs on the torch path
    from . import _fused
except ImportError:  # pragma: no cover - numba is a declared dependency
    _fused = None

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

FIRST_ORDER = ("price", "delta", "gamma", "vega", "theta", "rho")
SECOND_ORDER = ("vanna", "volga", "charm")
ALL_GREEKS = FIRST_ORDER + SECOND_ORDER
_INV_SQRT_2PI = 0.3989422804014327
_CHUNK = 1 << 17  # elements per CPU chunk: keeps ~20 temporaries inside L2/L3


def vega_per_vol_point(vega: Any) -> Any:
    """Vega per 1 volatility point (0.01) from vega per 1.00 of volatility."""
    return vega / 100.0


def theta_per_day(theta: Any, days_per_year: float = 365.0) -> Any:
    """Theta per calendar day from theta per year (default 365 days a year)."""
    return theta / days_per_year


# --------------------------------------------------------------------------------------
# kernel
# --------------------------------------------------------------------------------------


def _kernel(
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
    """Price and Greeks ``names`` from the shared terms, computed once."""
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
        pdf = torch.exp(-0.5 * d1 * d1) * _INV_SQRT_2PI
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


_compiled: dict[tuple, Any] = {}


def _compiled_kernel() -> Any:
    fn = _compiled.get("kernel")
    if fn is None:
        fn = torch.compile(_kernel, dynamic=True)
        _compiled["kernel"] = fn
    return fn


def _flat(t: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    if t.dim() == 0:
        return t
    if t.numel() == 1:
        return t.reshape(())
    if tuple(t.shape) == tuple(shape) and t.is_contiguous():
        return t.view(-1)
    return t.expand(shape).reshape(-1)


def _fused_arg(x: Any, shape: tuple[int, ...]) -> Any:
    """A float, or a contiguous float64 (n,) numpy array (a view when already full-size)."""
    if isinstance(x, float):
        return x
    if x.numel() == 1:
        return float(x.reshape(()))
    if tuple(x.shape) == shape and x.is_contiguous():
        return x.detach().view(-1).numpy()
    return np.ascontiguousarray(np.broadcast_to(x.detach().numpy(), shape)).reshape(-1)


def _run_fused(p: Prepared, args: tuple, s: Any, names: tuple[str, ...], black76: bool):
    """CPU float64 without autograd: the numba kernel, every output in one pass.

    Returns the outputs and, per input in ``_fused.INPUTS`` order, whether the kernel met an
    invalid value in it (NaN, or out of its domain) -- only meaningful for full-size inputs.
    """
    shape = tuple(p.shape)
    n = math.prod(shape)
    rows = ALL_GREEKS if any(name in SECOND_ORDER for name in names) else FIRST_ORDER
    out = np.empty((len(rows), n))
    bad = _fused.greeks_into(out, *(_fused_arg(x, shape) for x in (*args, s)), black76)
    res = [torch.from_numpy(out[rows.index(name)]).view(shape) for name in names]
    full = [not isinstance(x, float) and x.numel() == n for x in args]
    flags = {k: bool(bad >> j & 1) for j, k in enumerate(_fused.INPUTS) if full[j]}
    return res, flags


def _needs_grad(p: Prepared, black76: bool) -> bool:
    t = p.tensors
    keys = ("spot", "strike", "time_to_expiry", "volatility", "rate", "dividend_yield")
    xs = [t[k] for k in keys[: 5 if black76 else 6]]
    return torch.is_grad_enabled() and any(x.requires_grad for x in xs)


def _run(
    p: Prepared,
    s: Any,
    names: tuple[str, ...],
    black76: bool,
    use_compile: bool,
) -> list[torch.Tensor]:
    t = p.tensors
    S, K, T, sig, r = t["spot"], t["strike"], t["time_to_expiry"], t["volatility"], t["rate"]
    q = r if black76 else t["dividend_yield"]
    grad = _needs_grad(p, black76)
    expiry = bool((T == 0).any())
    kernel = _compiled_kernel() if use_compile else _kernel
    shape = p.shape
    n = math.prod(shape)
    if grad or p.device.type != "cpu" or n <= _CHUNK or use_compile:
        res = kernel(S, K, T, sig, r, q, s, names, black76, expiry)
        return [x.expand(shape) if tuple(x.shape) != tuple(shape) else x for x in res]
    flat = [_flat(x, shape) for x in (S, K, T, sig, r, q)]
    sflat = s if isinstance(s, float) else _flat(s, shape)
    outs = [torch.empty(n, dtype=p.dtype) for _ in names]
    for i in range(0, n, _CHUNK):
        sl = slice(i, min(i + _CHUNK, n))
        args = [x if x.dim() == 0 else x[sl] for x in flat]
        sc = sflat if isinstance(sflat, float) or sflat.dim() == 0 else sflat[sl]
        res = kernel(*args, sc, names, black76, expiry)
        for o, x in zip(outs, res, strict=True):
            o[sl] = x
    return [o.view(shape) for o in outs]


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
    rules = {
        "positive": ("spot", "strike", "volatility"),
        "nonnegative": ("time_to_expiry",),
        "finite": ("rate",) if black76 else ("rate", "dividend_yield"),
    }
    try:
        p = prepare(args, validate=False)
        s = broadcast_sign(p, option_type, p.dtype)
        on_cpu64 = p.device.type == "cpu" and p.dtype == torch.float64
        if _fused is not None and on_cpu64 and not (use_compile or _needs_grad(p, black76)):
            # the kernel checks the full-size inputs while it computes (no extra passes)
            t = p.tensors
            q = t["rate"] if black76 else t["dividend_yield"]
            ins = (t["spot"], t["strike"], t["time_to_expiry"], t["volatility"], t["rate"], q)
            res, flags = _run_fused(p, ins, s, names, black76)
            if validate:
                check(p.tensors, **rules, known_bad=flags)
            return p, res
        if validate:
            check(p.tensors, **rules)
    except ValueError as exc:
        if spot_name != "spot":
            raise ValueError(str(exc).replace("spot", spot_name)) from None
        raise
    return p, _run(p, s, names, black76, use_compile)


def _one_greek(
    name: str, black76: bool, spot, strike, time_to_expiry, volatility, rate, dividend_yield,
    option_type, validate: bool,
) -> Any:  # fmt: skip
    """One Greek (the body of every ``bsm_<name>`` / ``black76_<name>`` function)."""
    p, res = _compute(
        (name,),
        black76=black76,
        spot=spot,
        strike=strike,
        time_to_expiry=time_to_expiry,
        volatility=volatility,
        rate=rate,
        dividend_yield=dividend_yield,
        option_type=option_type,
        validate=validate,
        spot_name="forward" if black76 else "spot",
    )
    return p.wrap(res[0])


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
    p, res = _compute(
        names,
        black76=False,
        spot=spot,
        strike=strike,
        time_to_expiry=time_to_expiry,
        volatility=volatility,
        rate=rate,
        dividend_yield=dividend_yield,
        option_type=option_type,
        validate=validate,
        use_compile=compile,
    )
    return {n: p.wrap(x) for n, x in zip(names, res, strict=True)}


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
        return _one_greek(
            name, False, spot, strike, time_to_expiry, volatility, rate, dividend_yield,
            option_type, validate,
        )  # fmt: skip

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
    p, res = _compute(
        names,
        black76=True,
        spot=forward,
        strike=strike,
        time_to_expiry=time_to_expiry,
        volatility=volatility,
        rate=rate,
        dividend_yield=None,
        option_type=option_type,
        validate=validate,
        use_compile=compile,
        spot_name="forward",
    )
    return {n: p.wrap(x) for n, x in zip(names, res, strict=True)}


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
        return _one_greek(
            name, True, forward, strike, time_to_expiry, volatility, rate, None, option_type,
            validate,
        )  # fmt: skip

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
