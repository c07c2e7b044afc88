"""The two paths that compute the formulas for ``black_scholes``: the fused numba kernel
(``_fused``, CPU float64 without autograd) and the reference ``formulas.greeks_from_inputs``
(everything else; large CPU inputs in cache-sized chunks, optionally ``torch.compile``d)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ._backend import Prepared
from .formulas import ALL_GREEKS, FIRST_ORDER, SECOND_ORDER, greeks_from_inputs

try:  # the fused CPU kernel; without numba everything runs on the torch path
    from . import _fused
except ImportError:  # pragma: no cover - numba is a declared dependency
    _fused = None

_CHUNK = 1 << 17  # elements per CPU chunk: keeps ~20 temporaries inside L2/L3


_compiled: dict[tuple, Any] = {}


def _compiled_kernel() -> Any:
    fn = _compiled.get("kernel")
    if fn is None:
        fn = torch.compile(greeks_from_inputs, dynamic=True)
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


_FILL_BELOW = 1 << 16
"""Options below which ``run_fused`` fills scalar inputs out to full arrays.

The kernel is compiled per type signature (~12 s each on a 2-core machine, then cached),
and each of its seven inputs may be a float or an array.  Filled out, every small call
shares one signature per variant (four in all); large calls keep their scalars, which the
loop hoists (at 1,000,000 options with scalar ``rate`` and ``dividend_yield``, filling them
out costs ~30 %)."""


def _fused_arg(x: Any, shape: tuple[int, ...], fill: bool) -> Any:
    """A contiguous float64 (n,) numpy array (a view when already full-size), or a float
    when ``x`` is a scalar and not ``fill``."""
    if isinstance(x, float) or x.numel() == 1:
        value = x if isinstance(x, float) else float(x.reshape(()))
        return np.full(math.prod(shape), value) if fill else value
    if tuple(x.shape) == shape and x.is_contiguous():
        return x.detach().view(-1).numpy()
    return np.ascontiguousarray(np.broadcast_to(x.detach().numpy(), shape)).reshape(-1)


def run_fused(p: Prepared, args: tuple, s: Any, names: tuple[str, ...], black76: bool):
    """CPU float64 without autograd: the numba kernel, every output in one pass.

    Returns the outputs and, per input in ``_fused.INPUTS`` order, whether the kernel met an
    invalid value in it (NaN, or out of its domain) -- only meaningful for full-size inputs.
    """
    shape = tuple(p.shape)
    n = math.prod(shape)
    rows = ALL_GREEKS if any(name in SECOND_ORDER for name in names) else FIRST_ORDER
    out = np.empty((len(rows), n))
    fill = n < _FILL_BELOW
    bad = _fused.greeks_into(out, *(_fused_arg(x, shape, fill) for x in (*args, s)), black76)
    res = [torch.from_numpy(out[rows.index(name)]).view(shape) for name in names]
    full = [not isinstance(x, float) and x.numel() == n for x in args]
    flags = {k: bool(bad >> j & 1) for j, k in enumerate(_fused.INPUTS) if full[j]}
    return res, flags


def needs_grad(p: Prepared, black76: bool) -> bool:
    t = p.tensors
    keys = ("spot", "strike", "time_to_expiry", "volatility", "rate", "dividend_yield")
    xs = [t[k] for k in keys[: 5 if black76 else 6]]
    return torch.is_grad_enabled() and any(x.requires_grad for x in xs)


def run(
    p: Prepared,
    s: Any,
    names: tuple[str, ...],
    black76: bool,
    use_compile: bool,
) -> list[torch.Tensor]:
    t = p.tensors
    S, K, T, sig, r = t["spot"], t["strike"], t["time_to_expiry"], t["volatility"], t["rate"]
    q = r if black76 else t["dividend_yield"]
    grad = needs_grad(p, black76)
    expiry = bool((T == 0).any())
    kernel = _compiled_kernel() if use_compile else greeks_from_inputs
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


def has_fused() -> bool:
    """Whether the numba kernel is importable (numba is optional on minimal GPU images)."""
    return _fused is not None
