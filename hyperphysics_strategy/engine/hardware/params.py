"""Each library's device parameters for a :class:`~.plan.Placement`.

* LightGBM: ``device_type`` ("cuda"/"gpu"/"cpu"), ``gpu_device_id``, ``num_threads``.
* XGBoost: ``device`` ("cuda:N"/"cpu"), ``nthread``.
* CatBoost: ``task_type`` ("GPU"/"CPU"), ``devices`` ("N", always explicit: CatBoost
  otherwise takes every GPU), ``thread_count``.
* torch: a ``torch.device``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from .plan import Placement


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
