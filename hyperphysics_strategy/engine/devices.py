"""The one place engine and ensemble code turn a device request into a ``torch.device``.

``resolve_device(None)`` (or ``"auto"``) picks the default device of this machine, from
hardware detection and the device plan (:mod:`hyperphysics_strategy.engine.hardware`); an
explicit string such as ``"cuda:1"`` or ``"cpu"`` is validated and returned.
``HYPERPHYSICS_DEVICES`` (for example ``"cuda:0,cuda:2"`` or ``"cpu"``) overrides the
automatic choice: the first of its devices torch can use becomes the default.
"""

from __future__ import annotations

import torch

from .hardware import ENV_DEVICES, default_torch_device

__all__ = ["ENV_DEVICES", "default_device", "resolve_device"]


def default_device() -> torch.device:
    """The device the plan gives torch work here (cached detection, env override honoured)."""
    return default_torch_device()


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """Return a usable ``torch.device`` for ``device``; raise ``ValueError`` naming the problem."""
    if device is None or (isinstance(device, str) and device.strip().lower() == "auto"):
        return default_device()
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"not a torch device: {device!r} ({exc})") from exc
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = 0 if dev.index is None else dev.index
        if index >= count:
            raise ValueError(f"device {device!r} requested but this machine has {count} GPU(s)")
        return torch.device("cuda", index)
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device 'mps' requested but MPS is not available")
    return dev
