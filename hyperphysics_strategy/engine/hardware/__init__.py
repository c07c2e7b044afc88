"""Hardware detection and the device plan: the one place that decides where work runs.

Typical use (a task is the library it trains with; names are the caller's labels)::

    from hyperphysics_strategy.engine.hardware import DevicePlan

    plan = DevicePlan.build(["lightgbm", "xgboost", "torch"], names=["a", "b", "c"])
    for p in plan:                                    # one Placement per task
        params = p.params()                           # e.g. xgboost: {"device": "cuda:1", ...}

Nothing here imports freqtrade or knows the ensemble. Nothing here sets environment
variables.
"""

from __future__ import annotations

from .benchmark import matmul_gflops
from .capabilities import (
    LIBRARIES,
    LibraryCapability,
    clear_capability_cache,
    probe_capabilities,
    probe_library,
)
from .cpu import cgroup_cpu_quota, detect_cpu
from .device import CPU, ENV_DEVICES, MPS, Device, parse_device_list
from .info import BACKENDS, HardwareInfo, clear_hardware_cache, get_hardware_info
from .placement import (
    Placement,
    catboost_params,
    library_params,
    lightgbm_params,
    torch_device,
    torch_params,
    xgboost_params,
)
from .plan import DevicePlan, default_torch_device, thread_budget
from .records import CpuInfo, GpuInfo
from .summary import hardware_report, log_summary, summary_lines

__all__ = [
    "BACKENDS",
    "CPU",
    "ENV_DEVICES",
    "LIBRARIES",
    "MPS",
    "CpuInfo",
    "Device",
    "DevicePlan",
    "GpuInfo",
    "HardwareInfo",
    "LibraryCapability",
    "Placement",
    "catboost_params",
    "cgroup_cpu_quota",
    "clear_capability_cache",
    "clear_hardware_cache",
    "default_torch_device",
    "detect_cpu",
    "get_hardware_info",
    "hardware_report",
    "library_params",
    "lightgbm_params",
    "log_summary",
    "matmul_gflops",
    "parse_device_list",
    "probe_capabilities",
    "probe_library",
    "summary_lines",
    "thread_budget",
    "torch_device",
    "torch_params",
    "xgboost_params",
]
