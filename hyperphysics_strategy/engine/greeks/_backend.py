"""Array plumbing shared by the Greeks functions: numpy/torch dispatch and validation.

Inputs of every public Greeks function are normalised here (the CPU float64 computation
then runs in the fused numba kernel, ``_fused``; everything else in torch):

* any ``torch.Tensor`` among the arguments decides the device and the (floating) dtype of
  the computation, and the results come back as tensors on that device with that dtype;
* otherwise (numpy arrays, Python floats, lists) the computation runs in float64 on the CPU
  through zero-copy ``torch.from_numpy`` views and the results come back as numpy arrays
  (0-d inputs everywhere give numpy float64 scalars).

Validation raises ``ValueError`` naming the offending argument; the rules are
``formulas.DOMAIN``'s.  Each check is a single reduction over the array, through numpy
for CPU tensors (``min`` propagates NaN, so ``not (min(x) > 0)`` catches both NaN and
non-positive values in one pass), which keeps it cheap on the hot path.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from .formulas import FINITE, NONNEGATIVE, POSITIVE, RULE_TEXT

__all__ = ["Prepared", "check", "prepare", "option_sign", "broadcast_sign"]

_CALL = {"call", "c", "calls"}
_PUT = {"put", "p", "puts"}


class Prepared:
    """Broadcast float tensors plus the recipe to turn results back into the caller's kind."""

    __slots__ = ("tensors", "is_torch", "is_scalar", "device", "dtype", "shape")

    def __init__(
        self,
        tensors: dict[str, torch.Tensor],
        is_torch: bool,
        is_scalar: bool,
        device: torch.device,
        dtype: torch.dtype,
        shape: torch.Size,
    ) -> None:
        self.tensors = tensors
        self.is_torch = is_torch
        self.is_scalar = is_scalar
        self.device = device
        self.dtype = dtype
        self.shape = shape

    def wrap(self, value: torch.Tensor) -> Any:
        """Return ``value`` in the caller's kind (tensor, numpy array or numpy scalar)."""
        if self.is_torch:
            return value
        arr = value.detach().cpu().numpy()
        if self.is_scalar:
            return np.float64(arr.reshape(()))
        return arr


def _is_tensor(x: Any) -> bool:
    return isinstance(x, torch.Tensor)


def _host(t: torch.Tensor) -> Any:
    """A CPU float tensor as a numpy view (numpy's reductions are several times faster than
    torch's on large float64 arrays; both propagate NaN), any other tensor unchanged."""
    if t.device.type == "cpu" and t.dtype in (torch.float32, torch.float64):
        return t.detach().numpy()
    return t


def _all_finite(x: Any) -> bool:
    if isinstance(x, np.ndarray):
        return bool(np.isfinite(x.sum())) or bool(np.isfinite(x).all())
    return bool(torch.isfinite(x.sum())) or bool(torch.isfinite(x).all())


def option_sign(option_type: Any, *, device: torch.device, dtype: torch.dtype) -> Any:
    """Map ``option_type`` to +1 (call) / -1 (put).

    Accepts ``"call"``/``"put"`` (also ``"c"``/``"p"``, any case), a boolean array or tensor
    (True = call), an array of ±1, or an array/list of such strings.  A plain string gives
    a Python float so that the arithmetic stays scalar.
    """
    if isinstance(option_type, str):
        key = option_type.strip().lower()
        if key in _CALL:
            return 1.0
        if key in _PUT:
            return -1.0
        raise ValueError(f"option_type must be 'call' or 'put', got {option_type!r}")
    if _is_tensor(option_type):
        t = option_type.to(device)
        if t.dtype == torch.bool:
            return torch.where(t, 1.0, -1.0).to(dtype)
        t = t.to(dtype)
        if not bool(((t == 1) | (t == -1)).all()):
            raise ValueError("option_type as numbers must be +1 (call) or -1 (put)")
        return t
    arr = np.asarray(option_type)
    if arr.dtype.kind in "USO":
        low = np.char.lower(np.char.strip(arr.astype(str)))
        is_call = np.isin(low, list(_CALL))
        is_put = np.isin(low, list(_PUT))
        if not np.all(is_call | is_put):
            bad = arr[~(is_call | is_put)].ravel()[0]
            raise ValueError(f"option_type must be 'call' or 'put', got {bad!r}")
        return torch.from_numpy(np.where(is_call, 1.0, -1.0)).to(device=device, dtype=dtype)
    if arr.dtype == np.bool_:
        return torch.from_numpy(np.where(arr, 1.0, -1.0)).to(device=device, dtype=dtype)
    num = arr.astype(np.float64)
    if not np.all((num == 1.0) | (num == -1.0)):
        raise ValueError("option_type as numbers must be +1 (call) or -1 (put)")
    return torch.from_numpy(num).to(device=device, dtype=dtype)


def broadcast_sign(p: Prepared, option_type: Any, dtype: torch.dtype) -> Any:
    """``option_sign`` on ``p``'s device, with ``p.shape`` widened to include its shape."""
    s = option_sign(option_type, device=p.device, dtype=dtype)
    if not isinstance(s, float):
        try:
            p.shape = torch.Size(np.broadcast_shapes(p.shape, s.shape))
        except ValueError:
            raise ValueError(
                f"shape of option_type {tuple(s.shape)} does not broadcast with {tuple(p.shape)}"
            ) from None
    return s


_REDUCE = {  # one reduction per argument; numpy's min propagates NaN
    POSITIVE: lambda x: bool(x.min() > 0),
    NONNEGATIVE: lambda x: bool(x.min() >= 0),
    FINITE: _all_finite,
}


def check(
    tensors: Mapping[str, torch.Tensor],
    rules: Mapping[str, int],
    *,
    known_bad: Mapping[str, bool] | None = None,
) -> None:
    """Raise ``ValueError`` for the first argument that breaks its rule (``formulas``'s
    ``POSITIVE``, ``NONNEGATIVE``, ``FINITE``; checked in that order of rules).

    ``known_bad`` gives verdicts already found elsewhere (the fused kernel checks the
    full-size arrays while it computes); other arguments are reduced here.
    """
    for rule in (POSITIVE, NONNEGATIVE, FINITE):
        for name in (n for n, r in rules.items() if r == rule):
            t = tensors[name]
            if known_bad is not None and name in known_bad:
                bad = known_bad[name]
            else:
                bad = bool(t.numel()) and not _REDUCE[rule](_host(t))
            if bad:
                raise ValueError(f"{name} {RULE_TEXT[rule]}")


def prepare(
    args: Mapping[str, Any],
    rules: Mapping[str, int] | None = None,
) -> Prepared:
    """Convert ``args`` to broadcast float tensors on one device and, given ``rules``
    (argument name -> ``formulas`` rule), validate them (see :func:`check`).

    Mismatched shapes raise ``ValueError`` naming the two arguments.
    """
    tensors_in = [v for v in args.values() if _is_tensor(v)]
    is_torch = bool(tensors_in)
    if is_torch:
        device = tensors_in[0].device
        dtype = tensors_in[0].dtype
        for t in tensors_in[1:]:
            dtype = torch.promote_types(dtype, t.dtype)
        if not dtype.is_floating_point:
            dtype = torch.float64
        for name, t in args.items():
            if _is_tensor(t) and t.device != device:
                raise ValueError(
                    f"{name} is on {t.device} but other inputs are on {device}; "
                    "move them to one device"
                )
    else:
        device = torch.device("cpu")
        dtype = torch.float64

    converted: dict[str, torch.Tensor] = {}
    for name, value in args.items():
        if _is_tensor(value):
            t = value if value.dtype == dtype else value.to(dtype)
        else:
            try:
                arr = np.asarray(value, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{name} must be numeric, got {type(value).__name__}") from exc
            if arr.flags.writeable:
                t = torch.from_numpy(arr)
            else:  # read-only views (pandas .to_numpy()): never written to, so share them
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    t = torch.from_numpy(arr)
            if device.type != "cpu" or dtype != torch.float64:
                t = t.to(device=device, dtype=dtype)
        converted[name] = t

    shapes = {name: tuple(t.shape) for name, t in converted.items()}
    # numpy's broadcast_shapes: torch's first call imports sympy (seconds per process)
    try:
        shape = np.broadcast_shapes(*shapes.values())
    except ValueError:
        names = list(shapes)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                try:
                    np.broadcast_shapes(shapes[a], shapes[b])
                except ValueError:
                    raise ValueError(
                        f"shapes of {a} {shapes[a]} and {b} {shapes[b]} cannot be broadcast"
                    ) from None
        raise ValueError(f"input shapes cannot be broadcast: {shapes}") from None

    if rules:
        check(converted, rules)

    is_scalar = not is_torch and all(t.dim() == 0 for t in converted.values())
    return Prepared(converted, is_torch, is_scalar, device, dtype, torch.Size(shape))
