"""``Placement``: where one task runs, with how many CPU threads, and its library's keywords.

The device plan (:mod:`.plan`) makes one per task; code that trains on a fixed device (a
CPU fallback, a test) makes one by hand, e.g. ``Placement("torch", Device("cuda", 0))``.
``params()`` gives the library's device keyword arguments:

* LightGBM: ``device_type`` ("cuda"/"gpu"/"cpu"), ``gpu_device_id``, ``num_threads``.
* XGBoost: ``device`` ("cuda:N"/"cpu"), ``nthread``.
* CatBoost: ``task_type`` ("GPU"/"CPU"), ``devices`` ("N", always explicit: CatBoost
  otherwise takes every GPU), ``thread_count``.
* torch: ``device`` (a ``torch.device``), ``num_threads``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .capabilities import LIBRARIES
from .device import CPU, Device


@dataclass(frozen=True)
class Placement:
    """One task's library, device and thread budget; ``params()`` gives its library's settings."""

    library: str  # one of capabilities.LIBRARIES: lightgbm, xgboost, catboost, torch
    device: Device = CPU
    threads: int = 1
    reason: str = ""
    device_type: str | None = None  # LightGBM on GPU: "cuda" or "gpu" (OpenCL)
    task: str = ""  # the caller's label for the task (e.g. an expert's name)
    index: int = 0  # position in the plan
    #: The same task on each device its library may use here, in round-robin order; empty
    #: when there is only one. A scheduler that numbers the jobs of a whole training round
    #: puts job ``k`` on ``pool[k mod len(pool)]``.
    pool: tuple[Placement, ...] = ()

    def __post_init__(self) -> None:
        if self.library not in LIBRARIES:
            raise ValueError(f"placement: unknown library {self.library!r} (known: {LIBRARIES})")
        if self.threads < 1:
            raise ValueError(f"placement: threads must be >= 1, got {self.threads}")

    @property
    def on_gpu(self) -> bool:
        return self.device.is_gpu

    @property
    def torch_device(self) -> torch.device:
        return self.device.torch()

    def params(self) -> dict[str, Any]:
        """The keyword arguments of ``library`` for this device and thread budget."""
        return library_params(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "task": self.task,
            "library": self.library,
            "device": str(self.device),
            "threads": self.threads,
            "reason": self.reason,
            "device_type": self.device_type,
        }


def lightgbm_params(p: Placement) -> dict[str, Any]:
    if p.device.type == "cuda":
        return {
            "device_type": p.device_type or "gpu",
            "gpu_device_id": p.device.index or 0,
            "num_threads": p.threads,
        }
    return {"device_type": "cpu", "num_threads": p.threads}


def xgboost_params(p: Placement) -> dict[str, Any]:
    device = f"cuda:{p.device.index or 0}" if p.device.type == "cuda" else "cpu"
    return {"device": device, "nthread": p.threads}


def catboost_params(p: Placement) -> dict[str, Any]:
    if p.device.type == "cuda":
        return {"task_type": "GPU", "devices": str(p.device.index or 0), "thread_count": p.threads}
    return {"task_type": "CPU", "thread_count": p.threads}


def torch_device(p: Placement) -> torch.device:
    return p.device.torch()


def torch_params(p: Placement) -> dict[str, Any]:
    return {"device": p.device.torch(), "num_threads": p.threads}


_BY_LIBRARY = {
    "lightgbm": lightgbm_params,
    "xgboost": xgboost_params,
    "catboost": catboost_params,
    "torch": torch_params,
}


def library_params(p: Placement) -> dict[str, Any]:
    """The parameters of ``p.library`` for this placement."""
    return _BY_LIBRARY[p.library](p)
