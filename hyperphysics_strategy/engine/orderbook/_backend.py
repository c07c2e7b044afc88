"""numpy/torch adapters so one batch kernel (``_batch``) runs on numpy (CPU) and torch.

One adapter class, :class:`ArrayBackend`, serves both libraries. The calls both spell alike
come straight from the library module (``_SAME_SPELLING``) or are written once for both
(``_ALIKE``: the reduction axis passed by position); operators (``+ - * /``, in-place forms,
``@``) need nothing. What differs (in-place transcendental calls, row reductions,
sorting/gathering, conversions) is one table a library (``_NUMPY``, ``_TORCH``).
Why not a library: ``array_api_compat`` is not among the engine's dependencies (the GPU
images carry only torch, numpy, scipy and pandas; tests/test_gpu_check.py), the array API
has no in-place ``out=`` forms or ``cummax``, and torch alone on the CPU is ~8x slower than
numpy for this kernel (benchmarks/perf/bench_orderbook.py), so numpy stays the CPU path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any

import numpy as np
import torch

_SAME_SPELLING = ("log", "sqrt", "asinh", "reciprocal", "minimum", "maximum", "where", "isnan")

_ALIKE: dict[str, Callable[..., Any]] = {
    "any_rows": lambda x: x.any(1),
    "count_rows": lambda x: x.sum(1),
}


def _np_fill_where_(x, mask, value):
    np.copyto(x, value, where=mask)
    return x


def _torch_fill_where_(x, mask, value):
    if isinstance(value, torch.Tensor):
        return torch.where(mask, value.expand_as(x), x, out=x)
    return x.masked_fill_(mask, value)


_NUMPY: dict[str, Callable[..., Any]] = {
    "exp_": lambda x: np.exp(x, out=x),
    "log_": lambda x: np.log(x, out=x),
    "clamp_min": np.maximum,
    "clamp_max": np.minimum,
    "clamp_max_": lambda x, hi: np.minimum(x, hi, out=x),
    # a matrix-vector product: several times faster than x.sum(axis=1) for short rows
    "rowsum": lambda x: x @ np.ones(x.shape[1], dtype=x.dtype),
    "rowdot": lambda a, b: np.einsum("ij,ij->i", a, b),
    "fill_where_": _np_fill_where_,
    "argsort_rows": lambda x: np.argsort(x, axis=1, kind="stable"),
    "take_rows": lambda x, idx: np.take_along_axis(x, idx, axis=1),
    "cummax_rows": lambda x: np.maximum.accumulate(x, axis=1),
    "nonzero": np.flatnonzero,
    "to_numpy": np.asarray,
    "to_int": lambda x: x.astype(np.int64),
    "copy": np.ndarray.copy,
}

_TORCH: dict[str, Callable[..., Any]] = {
    "exp_": torch.Tensor.exp_,
    "log_": torch.Tensor.log_,
    "clamp_min": torch.clamp_min,
    "clamp_max": torch.clamp_max,
    "clamp_max_": torch.Tensor.clamp_max_,
    "rowsum": lambda x: x.sum(dim=1),
    "rowdot": lambda a, b: (a * b).sum(dim=1),
    "fill_where_": _torch_fill_where_,
    "argsort_rows": lambda x: torch.argsort(x, dim=1, stable=True),
    "take_rows": lambda x, idx: torch.take_along_dim(x, idx, dim=1),
    "cummax_rows": lambda x: torch.cummax(x, dim=1).values,
    "nonzero": lambda mask: torch.nonzero(mask, as_tuple=True)[0],
    "to_numpy": lambda x: x.detach().cpu().numpy(),
    "to_int": lambda x: x.to(torch.int64),
    "copy": torch.Tensor.clone,
}

assert _NUMPY.keys() == _TORCH.keys()


class ArrayBackend:
    """The calls ``_batch`` makes, for one library (``name``) and one working dtype.

    ``asarray`` turns input into a contiguous array of the working dtype (on the device);
    ``const`` does the same for the kernel's constants.
    """

    def __init__(
        self,
        name: str,
        module: ModuleType,
        calls: Mapping[str, Callable[..., Any]],
        asarray: Callable[[Any], Any],
        const: Callable[[Any], Any],
    ) -> None:
        self.name = name
        for fn in _SAME_SPELLING:
            setattr(self, fn, getattr(module, fn))
        for key, fn in (*_ALIKE.items(), *calls.items()):
            setattr(self, key, fn)
        self.asarray = asarray
        self.const = const


def numpy_backend(dtype: np.dtype) -> ArrayBackend:
    """numpy in ``dtype`` (the CPU path)."""
    dtype = np.dtype(dtype)
    return ArrayBackend(
        "numpy",
        np,
        _NUMPY,
        asarray=lambda x: np.ascontiguousarray(x, dtype=dtype),
        const=lambda x: np.asarray(x, dtype=dtype),
    )


def torch_backend(dtype: torch.dtype, device: torch.device) -> ArrayBackend:
    """torch in ``dtype`` on ``device`` (the GPU path, and the CPU one on request)."""

    def asarray(x):
        if isinstance(x, torch.Tensor):
            return x.to(device=device, dtype=dtype).contiguous()
        return torch.as_tensor(np.asarray(x), device=device).to(dtype).contiguous()

    def const(x):
        return torch.as_tensor(np.asarray(x), device=device).to(dtype)

    return ArrayBackend("torch", torch, _TORCH, asarray=asarray, const=const)
