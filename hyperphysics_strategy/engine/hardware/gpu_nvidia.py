"""NVIDIA GPUs: torch + NVML (``pynvml``), else ``nvidia-smi``, else torch alone."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import partial
from typing import Any

from .gpu_torch import torch_gpus
from .match import merge_inventory
from .probe import DEFAULT_TIMEOUT_S, library_session, read_field, run_probe
from .records import RawGpu, VendorScan
from .smi import query_nvidia_smi
from .visibility import apply_visible, normalize_pci


def _text(value: Any) -> str:
    return value.decode(errors="ignore") if isinstance(value, bytes) else str(value)


_field = partial(read_field, "NVML")


def nvml_gpus() -> tuple[list[RawGpu], str | None]:
    """Every NVIDIA GPU of the machine in NVML (PCI) order, and the driver version.

    Raises when pynvml is missing or NVML cannot initialise (no driver).
    """
    import pynvml

    with library_session("NVML", pynvml.nvmlInit, pynvml.nvmlShutdown):
        driver = _field("driver version", pynvml.nvmlSystemGetDriverVersion)
        gpus: list[RawGpu] = []
        for i in range(int(pynvml.nvmlDeviceGetCount())):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            name = _field("name", pynvml.nvmlDeviceGetName, h)
            uuid = _field("uuid", pynvml.nvmlDeviceGetUUID, h)
            pci = _field("pci info", pynvml.nvmlDeviceGetPciInfo, h)
            mem = _field("memory info", pynvml.nvmlDeviceGetMemoryInfo, h)
            cc = _field("compute capability", pynvml.nvmlDeviceGetCudaComputeCapability, h)
            bus_id = getattr(pci, "busId", None) if pci is not None else None
            gpus.append(
                RawGpu(
                    index=i,
                    name=_text(name) if name is not None else f"NVIDIA GPU {i}",
                    uuid=_text(uuid) if uuid is not None else None,
                    pci_bus_id=normalize_pci(_text(bus_id)) if bus_id is not None else None,
                    total_memory=int(mem.total) if mem is not None else None,
                    free_memory=int(mem.free) if mem is not None else None,
                    compute_capability=f"{cc[0]}.{cc[1]}" if cc else None,
                )
            )
        return gpus, _text(driver) if driver is not None else None


def detect_nvidia(
    env: Mapping[str, str] | None = None,
    *,
    torch_list: list[RawGpu] | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> VendorScan:
    """NVIDIA GPUs numbered as CUDA numbers them in this process.

    NVML ignores CUDA_VISIBLE_DEVICES, so its listing is paired with torch's by UUID or PCI
    bus id. With a CPU build of torch the listing is filtered through CUDA_VISIBLE_DEVICES
    (assuming CUDA_DEVICE_ORDER=PCI_BUS_ID order) so XGBoost/CatBoost numbering is right.
    """
    env = os.environ if env is None else env
    if torch_list is None:
        torch_list = torch_gpus()
    scan = VendorScan()
    physical: list[RawGpu] | None = None
    result = run_probe("nvml", nvml_gpus, timeout=timeout, default=None)
    if result is not None:
        physical, scan.driver = result
        scan.source = "nvml"
    else:
        physical = run_probe(
            "nvidia-smi", lambda: query_nvidia_smi(timeout), timeout=timeout + 1, default=None
        )
        if physical is not None:
            scan.source = "nvidia-smi"
            scan.notes.append("NVML unavailable; facts from nvidia-smi")
    if physical is None and not torch_list:
        return scan
    visible = None
    if physical is not None:
        visible = apply_visible(physical, env.get("CUDA_VISIBLE_DEVICES"), lambda g: g.uuid)
    scan.gpus, scan.hidden = merge_inventory(
        torch_list, physical, visible, vendor="nvidia", source=scan.source
    )
    if physical is None:
        scan.source = "torch"
        scan.notes.append("NVML and nvidia-smi unavailable; facts from torch only")
    if scan.hidden:
        scan.notes.append(f"{scan.hidden} NVIDIA GPU(s) hidden from this process")
    return scan
