"""numpy/torch adapters so one batch kernel (``_batch``) runs on numpy (CPU) and torch.

The calls both libraries spell alike come straight from the library (``_SAME_SPELLING``);
operators (``+ - * /``, in-place forms, ``@``) need nothing.  What stays here is what
differs: in-place transcendental calls, row reductions, sorting/gathering, conversions.
Why not a library: ``array_api_compat`` is not among the engine's dependencies (the GPU
images carry only torch, numpy, scipy and pandas; tests/test_gpu_check.py), the array API
has no in-place ``out=`` forms or ``cummax``, and torch alone on the CPU is ~8x slower than
numpy for this kernel (benchmarks/bench_orderbook.py), so numpy stays the CPU path.
"""

from __future__ import annotations

import numpy as np
import torch

_SAME_SPELLING = ("log", "sqrt", "asinh", "reciprocal", "minimum", "maximum", "where", "isnan")


class _Namespace:
    """The calls numpy 2 and torch spell alike, taken straight from the library module."""

    def __init__(self, module) -> None:
        for fn in _SAME_SPELLING:
            setattr(self, fn, getattr(module, fn))


class NumpyBackend(_Namespace):
    name = "numpy"

    def __init__(self, dtype: np.dtype):
        super().__init__(np)
        self.dtype = np.dtype(dtype)

    def asarray(self, x):
        return np.ascontiguousarray(x, dtype=self.dtype)

    def const(self, x):
        return np.asarray(x, dtype=self.dtype)

    @staticmethod
    def exp_(x):
        return np.exp(x, out=x)

    @staticmethod
    def log_(x):
        return np.log(x, out=x)

    @staticmethod
    def clamp_min(x, lo):
        return np.maximum(x, lo)

    @staticmethod
    def clamp_max(x, hi):
        return np.minimum(x, hi)

    @staticmethod
    def rowsum(x):
        # a matrix-vector product: several times faster than x.sum(axis=1) for short rows
        return x @ np.ones(x.shape[1], dtype=x.dtype)

    @staticmethod
    def fill_where_(x, mask, value):
        np.copyto(x, value, where=mask)
        return x

    @staticmethod
    def clamp_max_(x, hi):
        return np.minimum(x, hi, out=x)

    @staticmethod
    def rowdot(a, b):
        return np.einsum("ij,ij->i", a, b)

    @staticmethod
    def any_rows(x):
        return x.any(axis=1)

    @staticmethod
    def count_rows(x):
        return x.sum(axis=1)

    @staticmethod
    def argsort_rows(x):
        return np.argsort(x, axis=1, kind="stable")

    @staticmethod
    def take_rows(x, idx):
        return np.take_along_axis(x, idx, axis=1)

    @staticmethod
    def cummax_rows(x):
        return np.maximum.accumulate(x, axis=1)

    @staticmethod
    def nonzero(mask):
        return np.flatnonzero(mask)

    @staticmethod
    def to_numpy(x):
        return np.asarray(x)

    @staticmethod
    def to_int(x):
        return x.astype(np.int64)

    @staticmethod
    def copy(x):
        return x.copy()


class TorchBackend(_Namespace):
    name = "torch"

    def __init__(self, dtype: torch.dtype, device: torch.device):
        super().__init__(torch)
        self.dtype = dtype
        self.device = device

    def asarray(self, x):
        if isinstance(x, torch.Tensor):
            return x.to(device=self.device, dtype=self.dtype).contiguous()
        return torch.as_tensor(np.asarray(x), device=self.device).to(self.dtype).contiguous()

    def const(self, x):
        return torch.as_tensor(np.asarray(x), device=self.device).to(self.dtype)

    @staticmethod
    def exp_(x):
        return x.exp_()

    @staticmethod
    def log_(x):
        return x.log_()

    @staticmethod
    def clamp_min(x, lo):
        return x.clamp_min(lo)

    @staticmethod
    def clamp_max(x, hi):
        return x.clamp_max(hi)

    @staticmethod
    def rowsum(x):
        return x.sum(dim=1)

    @staticmethod
    def fill_where_(x, mask, value):
        if isinstance(value, torch.Tensor):
            return torch.where(mask, value.expand_as(x), x, out=x)
        return x.masked_fill_(mask, value)

    @staticmethod
    def clamp_max_(x, hi):
        return x.clamp_max_(hi)

    @staticmethod
    def rowdot(a, b):
        return (a * b).sum(dim=1)

    @staticmethod
    def any_rows(x):
        return x.any(dim=1)

    @staticmethod
    def count_rows(x):
        return x.sum(dim=1)

    @staticmethod
    def argsort_rows(x):
        return torch.argsort(x, dim=1, stable=True)

    @staticmethod
    def take_rows(x, idx):
        return torch.take_along_dim(x, idx, dim=1)

    @staticmethod
    def cummax_rows(x):
        return torch.cummax(x, dim=1).values

    @staticmethod
    def nonzero(mask):
        return torch.nonzero(mask, as_tuple=True)[0]

    @staticmethod
    def to_numpy(x):
        return x.detach().cpu().numpy()

    @staticmethod
    def to_int(x):
        return x.to(torch.int64)

    @staticmethod
    def copy(x):
        return x.clone()
