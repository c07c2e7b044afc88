"""``HardwareInfo``: everything detection found, in one record (cached per process)."""

from __future__ import annotations

import logging
import os
import platform
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .cpu import CGROUP_ROOT, PROC_SELF_CGROUP, detect_cpu
from .gpu_amd import detect_amd
from .gpu_nvidia import detect_nvidia
from .gpu_torch import mps_available, torch_build, torch_gpus
from .probe import DEFAULT_TIMEOUT_S
from .records import CpuInfo, GpuInfo, VendorScan

logger = logging.getLogger(__name__)

BACKENDS = ("cuda", "rocm", "mps", "cpu")


@dataclass(frozen=True)
class HardwareInfo:
    """The machine as this process may use it.

    ``backend`` is the GPU family present (``cuda``, ``rocm``, ``mps`` or ``cpu``);
    ``torch_backend`` is what torch itself can drive, which is ``cpu`` on a CPU build of
    torch even when NVIDIA GPUs are present (XGBoost and CatBoost may still use them).
    """

    os: str
    python: str
    cpu: CpuInfo
    backend: str
    torch_backend: str
    torch_version: str
    torch_build: str  # "cuda", "rocm" or "cpu": what the installed wheel was built for
    cuda_version: str | None = None
    hip_version: str | None = None
    driver_version: str | None = None
    gpus: tuple[GpuInfo, ...] = ()
    hidden_gpus: int = 0
    gpu_source: str = "none"
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def gpu_count(self) -> int:
        return len(self.gpus)

    @property
    def torch_gpus(self) -> tuple[GpuInfo, ...]:
        return tuple(g for g in self.gpus if g.torch_visible)

    @property
    def usable_cores(self) -> int:
        return self.cpu.usable_cores

    def to_dict(self) -> dict[str, Any]:
        return {
            "os": self.os,
            "python": self.python,
            "cpu": self.cpu.to_dict(),
            "backend": self.backend,
            "torch_backend": self.torch_backend,
            "torch_version": self.torch_version,
            "torch_build": self.torch_build,
            "cuda_version": self.cuda_version,
            "hip_version": self.hip_version,
            "driver_version": self.driver_version,
            "gpus": [g.to_dict() for g in self.gpus],
            "hidden_gpus": self.hidden_gpus,
            "gpu_source": self.gpu_source,
            "notes": list(self.notes),
        }

    @classmethod
    def detect(
        cls,
        *,
        env: Mapping[str, str] | None = None,
        cgroup_root: Path = CGROUP_ROOT,
        proc_self_cgroup: Path = PROC_SELF_CGROUP,
        timeout: float = DEFAULT_TIMEOUT_S,
    ) -> HardwareInfo:
        """Probe the machine now (no cache). Never raises for a missing or broken source."""
        env = os.environ if env is None else env
        cpu = detect_cpu(cgroup_root, proc_self_cgroup)
        build = torch_build()
        tlist = torch_gpus()
        scan = VendorScan()
        backend = "cpu"
        if build == "rocm":
            scan = detect_amd(env, torch_list=tlist, timeout=timeout)
            backend = "rocm" if scan.gpus else "cpu"
        elif build == "cuda" and tlist:
            scan = detect_nvidia(env, torch_list=tlist, timeout=timeout)
            backend = "cuda"
        else:
            # CPU build of torch (or a CUDA build without a working driver): look for GPUs
            # other libraries may still use.
            scan = detect_nvidia(env, torch_list=[], timeout=timeout)
            if scan.gpus:
                backend = "cuda"
            else:
                amd = detect_amd(env, torch_list=[], timeout=timeout)
                if amd.gpus:
                    scan, backend = amd, "rocm"
                elif mps_available():
                    backend = "mps"
                    scan = VendorScan(
                        gpus=[GpuInfo(ordinal=0, vendor="apple", name="Apple GPU (MPS)")],
                        source="torch",
                    )
        if backend in ("cuda", "rocm"):
            torch_backend = backend if any(g.torch_visible for g in scan.gpus) else "cpu"
        else:
            torch_backend = backend
        notes = list(scan.notes)
        if backend in ("cuda", "rocm") and torch_backend == "cpu":
            notes.append(
                f"torch {torch.__version__} ({build} build) cannot use the {backend} GPUs here"
            )
        return cls(
            os=f"{platform.system()} {platform.release()}".strip(),
            python=platform.python_version(),
            cpu=cpu,
            backend=backend,
            torch_backend=torch_backend,
            torch_version=str(torch.__version__),
            torch_build=build,
            cuda_version=getattr(torch.version, "cuda", None),
            hip_version=getattr(torch.version, "hip", None),
            driver_version=scan.driver,
            gpus=tuple(scan.gpus),
            hidden_gpus=scan.hidden,
            gpu_source=scan.source,
            notes=tuple(notes),
        )


_lock = threading.Lock()
_cached: HardwareInfo | None = None


def get_hardware_info(*, refresh: bool = False) -> HardwareInfo:
    """``HardwareInfo.detect()`` once per process (``refresh=True`` probes again)."""
    global _cached
    with _lock:
        if _cached is None or refresh:
            _cached = HardwareInfo.detect()
        return _cached


def clear_hardware_cache() -> None:
    global _cached
    with _lock:
        _cached = None
