"""Shared by the sections of ``gpu_check.py``: sizes (full and ``--tiny``), timing that
waits for the GPU, number formats, and the synthetic training data."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import common.checkout  # noqa: F401 - the package from this checkout when not installed
import numpy as np
import torch

from hyperphysics_strategy.ensemble.experts import FitData

NEURAL = ("mlp", "nbeats", "tide", "tabnet", "kan", "transformer")

SIZES = {
    # name: (full run, --tiny)
    "rows": (12_000, 600),
    "features": (32, 8),
    "epochs": (6, 2),
    "lane_epochs": (3, 1),
    "options": (10_000_000, 20_000),
    "paths": ((10_000, 1_000_000), (1_000, 10_000)),
    "series": (256, 4),
    "series_len": (1_000, 200),
    "rolling": (1_000_000, 20_000),
    "window": (288, 50),
    "books": (1_000_000, 2_000),
    "levels": (20, 20),
    "boost_rows": ((200_000, 1_000_000), (2_000,)),
    "copy_bytes": (2 << 30, 8 << 20),
    "inference_rows": (1_000, 1_000),
    "inference_reps": (10, 2),
}


def size(name: str, tiny: bool) -> Any:
    return SIZES[name][1 if tiny else 0]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], Any], device: torch.device, reps: int) -> tuple[float, Any]:
    """Best wall time of ``reps`` calls after one warm-up call, and the last result."""
    out = fn()
    sync(device)
    best = math.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        sync(device)
        best = min(best, time.perf_counter() - t0)
    return best, out


def fmt_s(s: float | None) -> str:
    if s is None or not math.isfinite(s):
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.1f} us"
    return f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"


def rate(per_s: float) -> str:
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if per_s >= scale:
            return f"{per_s / scale:,.2f} {prefix}"
    return f"{per_s:,.1f}"


def synthetic_fit_data(rows: int, features: int, seed: int = 0) -> tuple[FitData, np.ndarray]:
    """Three classes with a learnable, partly non-linear signal; time-ordered split 80/20."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, features)).astype(np.float32)
    W = rng.standard_normal((features, 3)).astype(np.float32) / math.sqrt(features)
    logits = X @ W + 0.5 * np.tanh(X[:, :3] * X[:, 3:6])
    y = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1).astype(np.int64)
    cut = int(rows * 0.8)
    w = np.ones(rows)
    data = FitData(X[:cut], y[:cut], w[:cut], X[cut:], y[cut:], w[cut:], 3)
    return data, X
