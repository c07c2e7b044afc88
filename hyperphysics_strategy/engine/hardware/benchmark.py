"""A few-second matrix-product benchmark per device (GFLOP/s), for ``hyperphysics doctor``."""

from __future__ import annotations

import time

import torch


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def matmul_gflops(
    device: str | torch.device = "cpu",
    *,
    size: int = 1024,
    seconds: float = 2.0,
    dtype: torch.dtype = torch.float32,
) -> float:
    """Sustained GFLOP/s of ``size x size`` matrix products on ``device`` for ~``seconds``."""
    dev = torch.device(device)
    gen = torch.Generator(device="cpu").manual_seed(0)
    a = torch.rand(size, size, generator=gen, dtype=dtype).to(dev)
    b = torch.rand(size, size, generator=gen, dtype=dtype).to(dev)
    torch.mm(a, b)  # warm-up (kernel selection, lazy init)
    _sync(dev)
    runs = 0
    start = time.perf_counter()
    elapsed = 0.0
    while runs == 0 or elapsed < seconds:
        torch.mm(a, b)
        runs += 1
        if runs % 4 == 0 or dev.type == "cpu":
            _sync(dev)
            elapsed = time.perf_counter() - start
    _sync(dev)
    elapsed = time.perf_counter() - start
    return 2.0 * size**3 * runs / elapsed / 1e9
