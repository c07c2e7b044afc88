"""Tiny array-backend shim so one batch kernel runs on numpy (CPU) and torch (any device).

Only the handful of operations whose spelling differs between the two libraries live here;
everything else uses operators (``+ - * /``, in-place forms, ``@``) that both understand.
"""

from __future__ import annotations

import numpy as np
import torch


class NumpyBackend:
    name = "numpy"

    def __init__(self, dtype: np.dtype):
        self.dtype = np.dtype(dtype)

    def asarray(self, x):
        return np.ascontiguousarray(x, dtype=self.dtype)

    def const(self, x):
        return np.asarray(x, dtype=self.dtype)

    @staticmethod
    def exp_(x):
        return np.exp(x, out=x)

    @staticmethod
    def log(x):
        return np.log(x)

    @staticmethod
    def log_(x):
        return np.log(x, out=x)

    @staticmethod
    def sqrt(x):
        return np.sqrt(x)

    @staticmethod
    def asinh(x):
        return np.arcsinh(x)

    @staticmethod
    def reciprocal(x):
        return np.reciprocal(x)

    @staticmethod
    def clamp_min(x, lo):
        return np.maximum(x, lo)

    @staticmethod
    def minimum(a, b):
        return np.minimum(a, b)

    @staticmethod
    def maximum(a, b):
        return np.maximum(a, b)

    @staticmethod
    def clamp_max(x, hi):
        return np.minimum(x, hi)

    @staticmethod
    def where(cond, a, b):
        return np.where(cond, a, b)

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
    def isnan(x):
        return np.isnan(x)

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


class TorchBackend:
    name = "torch"

    def __init__(self, dtype: torch.dtype, device: torch.device):
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
    def log(x):
        return torch.log(x)

    @staticmethod
    def log_(x):
        return x.log_()

    @staticmethod
    def sqrt(x):
        return torch.sqrt(x)

    @staticmethod
    def asinh(x):
        return torch.asinh(x)

    @staticmethod
    def reciprocal(x):
        return torch.reciprocal(x)

    @staticmethod
    def clamp_min(x, lo):
        return x.clamp_min(lo)

    @staticmethod
    def minimum(a, b):
        return torch.minimum(a, b)

    @staticmethod
    def maximum(a, b):
        return torch.maximum(a, b)

    @staticmethod
    def clamp_max(x, hi):
        return x.clamp_max(hi)

    @staticmethod
    def where(cond, a, b):
        return torch.where(cond, a, b)

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
    def isnan(x):
        return torch.isnan(x)

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
