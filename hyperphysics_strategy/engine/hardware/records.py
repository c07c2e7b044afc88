"""Plain records of what detection found: :class:`CpuInfo` and :class:`GpuInfo`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class CpuInfo:
    """CPU and RAM of this machine, as this process may use them."""

    model: str
    logical_cores: int
    affinity_cores: int  # cores in this process's affinity mask
    cgroup_quota: float | None  # CPUs allowed by the cgroup quota, None when unlimited
    allowed_cores: int  # min(affinity, ceil(quota))
    usable_cores: int  # allowed - 1, at least 1 (one core left for the bot and the OS)
    ram_total: int  # bytes (capped by a cgroup memory limit)
    ram_available: int  # bytes

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class GpuInfo:
    """One GPU. ``ordinal`` is its number as torch (or CUDA/HIP) sees it in this process."""

    ordinal: int
    vendor: str  # "nvidia" | "amd" | "apple"
    name: str
    total_memory: int | None = None  # bytes
    free_memory: int | None = None  # bytes
    uuid: str | None = None
    pci_bus_id: str | None = None
    compute_capability: str | None = None  # NVIDIA, e.g. "9.0"
    gfx_arch: str | None = None  # AMD, e.g. "gfx942"
    torch_visible: bool = True  # False when only NVML/amdsmi/smi see it (CPU build of torch)
    source: str = "torch"  # where the facts came from, e.g. "torch+nvml", "nvidia-smi"

    @property
    def arch(self) -> str | None:
        return self.compute_capability or self.gfx_arch

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RawGpu:
    """One GPU as a management source lists it (NVML, amdsmi, an smi tool, torch)."""

    index: int  # position in that source's own listing
    name: str
    total_memory: int | None = None
    free_memory: int | None = None
    uuid: str | None = None
    pci_bus_id: str | None = None
    compute_capability: str | None = None
    gfx_arch: str | None = None


@dataclass
class VendorScan:
    """GPUs of one vendor, as this process sees them, and where the facts came from."""

    gpus: list[GpuInfo] = field(default_factory=list)
    hidden: int = 0  # physical GPUs this process cannot use (visibility variables)
    driver: str | None = None
    source: str = "none"
    notes: list[str] = field(default_factory=list)
