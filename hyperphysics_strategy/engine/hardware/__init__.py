"""Hardware detection and the device plan: the one place that decides where work runs.

Typical use by the ensemble::

    from hyperphysics_strategy.engine.hardware import DEFAULT_EXPERTS, DevicePlan

    plan = DevicePlan.build(DEFAULT_EXPERTS)          # HYPERPHYSICS_DEVICES honoured
    for p in plan:                                    # one Placement per expert
        params = p.params()                           # e.g. xgboost: {"device": "cuda:1", ...}

Nothing here imports freqtrade. Nothing here sets environment variables.
"""

from __future__ import annotations

from .batch import free_memory_bytes, get_optimal_batch_size
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
from .experts import DEFAULT_EXPERT_NAMES, DEFAULT_EXPERTS, TaskSpec
from .info import BACKENDS, HardwareInfo, clear_hardware_cache, get_hardware_info
from .params import (
    catboost_params,
    library_params,
    lightgbm_params,
    torch_device,
    torch_params,
    xgboost_params,
)
from .plan import DevicePlan, Placement, default_torch_device, thread_budget
from .records import CpuInfo, GpuInfo
from .summary import hardware_report, log_summary, summary_lines

__all__ = [
    "BACKENDS",
    "CPU",
    "DEFAULT_EXPERTS",
    "DEFAULT_EXPERT_NAMES",
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
    "TaskSpec",
    "catboost_params",
    "cgroup_cpu_quota",
    "clear_capability_cache",
    "clear_hardware_cache",
    "default_torch_device",
    "detect_cpu",
    "free_memory_bytes",
    "get_hardware_info",
    "get_optimal_batch_size",
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
