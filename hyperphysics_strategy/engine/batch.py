"""Memory-aware batch size for torch work on a device (resolved by :mod:`.devices`)."""

from __future__ import annotations

import logging

import torch

from .devices import resolve_device
from .hardware.cpu import ram_bytes

logger = logging.getLogger(__name__)

DEFAULT_SAFETY_MARGIN = 0.25  # fraction of free memory left untouched
DEFAULT_MIN_BATCH = 8
DEFAULT_MAX_BATCH = 65536


def free_memory_bytes(device: str | torch.device | None = None) -> int | None:
    """Free bytes on ``device`` now: GPU memory for cuda/mps, available RAM for cpu."""
    dev = resolve_device(device)
    try:
        if dev.type == "cuda":
            free, _total = torch.cuda.mem_get_info(dev.index or 0)
            return int(free)
        if dev.type == "mps":
            limit = int(torch.mps.recommended_max_memory())
            return max(0, limit - int(torch.mps.driver_allocated_memory()))
    except Exception as exc:
        logger.debug("free memory of %s unknown: %s", dev, exc)
        return None
    _total, available = ram_bytes()
    return available or None


def _floor_pow2(n: int) -> int:
    return 1 << (max(1, n).bit_length() - 1)


def get_optimal_batch_size(
    bytes_per_sample: int | float,
    device: str | torch.device | None = None,
    *,
    safety_margin: float = DEFAULT_SAFETY_MARGIN,
    min_batch: int = DEFAULT_MIN_BATCH,
    max_batch: int = DEFAULT_MAX_BATCH,
    reserved_bytes: int = 0,
    free_bytes: int | None = None,
) -> int:
    """The largest power-of-two batch whose samples fit in free memory, clamped.

    ``bytes_per_sample`` should cover activations, gradients and optimizer state per sample;
    ``reserved_bytes`` (e.g. the model's weights) is subtracted first and ``safety_margin``
    of the free memory is left untouched. ``free_bytes`` overrides the measurement. When
    free memory is unknown the result is ``min_batch``.
    """
    if bytes_per_sample <= 0:
        raise ValueError("bytes_per_sample must be positive")
    if not 0.0 <= safety_margin < 1.0:
        raise ValueError("safety_margin must be in [0, 1)")
    min_batch = _floor_pow2(max(1, min_batch))
    max_batch = max(min_batch, _floor_pow2(max(1, max_batch)))
    free = free_bytes if free_bytes is not None else free_memory_bytes(device)
    if free is None:
        return min_batch
    budget = free * (1.0 - safety_margin) - reserved_bytes
    fits = int(budget // bytes_per_sample) if budget > 0 else 0
    if fits < min_batch:
        return min_batch
    return min(max_batch, _floor_pow2(fits))
