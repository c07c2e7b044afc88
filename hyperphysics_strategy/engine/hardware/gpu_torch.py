"""What torch itself sees: its build (CUDA, ROCm, CPU) and its GPUs, in torch numbering."""

from __future__ import annotations

import logging
import warnings

import torch

from .records import RawGpu
from .visibility import normalize_pci

logger = logging.getLogger(__name__)


def torch_build() -> str:
    """``"rocm"``, ``"cuda"`` or ``"cpu"``: what this torch wheel was built for."""
    if getattr(torch.version, "hip", None):
        return "rocm"
    if getattr(torch.version, "cuda", None):
        return "cuda"
    return "cpu"


def torch_gpu_count() -> int:
    """GPUs torch can use (0 on a CPU build, without a driver, or on a driver error)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "CUDA initialization: driver too old" etc.
            if not torch.cuda.is_available():
                return 0
            return int(torch.cuda.device_count())
    except Exception as exc:
        logger.debug("torch.cuda probe failed: %s", exc)
        return 0


def mps_available() -> bool:
    try:
        mps = getattr(torch.backends, "mps", None)
        return bool(mps is not None and mps.is_available())
    except Exception as exc:
        logger.debug("torch MPS probe failed: %s", exc)
        return False


def _pci_from_props(props: object) -> str | None:
    bus = getattr(props, "pci_bus_id", None)
    dev = getattr(props, "pci_device_id", None)
    if bus is None or dev is None:
        return None
    dom = getattr(props, "pci_domain_id", 0) or 0
    try:
        return normalize_pci(f"{int(dom):x}:{int(bus):x}:{int(dev):x}.0")
    except (TypeError, ValueError):
        return None


def torch_gpus() -> list[RawGpu]:
    """torch's GPUs; ``index`` is the torch ordinal. Each property is read defensively."""
    out: list[RawGpu] = []
    for i in range(torch_gpu_count()):
        try:
            props = torch.cuda.get_device_properties(i)
        except Exception as exc:
            logger.debug("torch.cuda.get_device_properties(%d) failed: %s", i, exc)
            out.append(RawGpu(index=i, name=f"GPU {i}"))
            continue
        major, minor = getattr(props, "major", None), getattr(props, "minor", None)
        gcn = getattr(props, "gcnArchName", None)
        is_hip = torch_build() == "rocm"
        uuid = getattr(props, "uuid", None)
        out.append(
            RawGpu(
                index=i,
                name=str(getattr(props, "name", f"GPU {i}")),
                total_memory=int(getattr(props, "total_memory", 0)) or None,
                uuid=str(uuid) if uuid not in (None, "") else None,
                pci_bus_id=_pci_from_props(props),
                compute_capability=(
                    f"{major}.{minor}" if not is_hip and major is not None else None
                ),
                gfx_arch=str(gcn).split(":")[0] if is_hip and gcn else None,
            )
        )
    return out


def torch_free_memory(ordinal: int) -> int | None:
    """Free bytes on a torch GPU (creates a CUDA/HIP context on it; a fallback only)."""
    try:
        free, _total = torch.cuda.mem_get_info(ordinal)
        return int(free)
    except Exception as exc:
        logger.debug("torch.cuda.mem_get_info(%d) failed: %s", ordinal, exc)
        return None
