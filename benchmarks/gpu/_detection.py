"""``detection`` section of ``gpu_check.py``: hardware detection and the device plan;
NVML's GPUs matched to torch's."""

from __future__ import annotations

from typing import Any

import common.checkout  # noqa: F401 - the package from this checkout when not installed
import torch

from hyperphysics_strategy.engine.hardware import (
    DevicePlan,
    get_hardware_info,
    probe_capabilities,
)
from hyperphysics_strategy.ensemble.experts import EXPERT_REGISTRY, expert_libraries


def section_detection(acc: torch.device) -> dict[str, Any]:
    info = get_hardware_info(refresh=True)
    caps = probe_capabilities(info)
    names = list(EXPERT_REGISTRY)
    plan = DevicePlan.build(expert_libraries(names), names=names, info=info, capabilities=caps)
    rows, checks = [], {}
    for g in info.gpus:
        matched = None
        if g.torch_visible and torch.cuda.is_available() and g.ordinal < torch.cuda.device_count():
            props = torch.cuda.get_device_properties(g.ordinal)
            t_uuid = str(getattr(props, "uuid", "") or "").removeprefix("GPU-")
            n_uuid = (g.uuid or "").removeprefix("GPU-")
            matched = bool(t_uuid and n_uuid and t_uuid == n_uuid) and (
                g.total_memory is None or abs(g.total_memory - props.total_memory) < 1 << 30
            )
            checks[f"gpu {g.ordinal}: NVML and torch agree"] = matched
        rows.append(
            [
                g.ordinal,
                g.name,
                f"{(g.total_memory or 0) / 2**30:.1f} GiB",
                g.compute_capability or g.gfx_arch or "-",
                g.source,
                g.uuid or "-",
                {None: "-", True: "yes", False: "NO"}[matched],
            ]
        )
    if acc.type == "cuda":
        checks["torch sees the GPU the plan uses"] = any(
            p.device.type == "cuda" for p in plan if p.library == "torch"
        )
        checks["driver version read"] = bool(info.driver_version)
    notes = [
        f"backend {info.backend}, torch backend {info.torch_backend}, torch build "
        f"{info.torch_build}, CUDA {info.cuda_version}, driver {info.driver_version}, "
        f"GPU source {info.gpu_source}, usable cores {info.usable_cores}",
        *(f"{lib}: {c.reason} (devices: {[str(d) for d in c.devices]})" for lib, c in caps.items()),
        "plan: " + ", ".join(f"{p.task}->{p.device}" for p in plan),
        *info.notes,
    ]
    header = ["ordinal", "name", "memory", "arch", "source", "uuid", "NVML = torch"]
    return {
        "hardware": info.to_dict(),
        "capabilities": {
            k: {"reason": v.reason, "devices": [str(d) for d in v.devices]} for k, v in caps.items()
        },
        "plan": plan.to_dict(),
        "checks": checks,
        "notes": notes,
        "table": {"header": header, "rows": rows},
    }
