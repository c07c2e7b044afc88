"""AMD GPUs on ROCm: torch (HIP build) + ``amdsmi``, else ``amd-smi``/``rocm-smi`` output."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import partial

from .gpu_torch import torch_gpus
from .match import merge_inventory
from .probe import DEFAULT_TIMEOUT_S, library_session, read_field, run_probe
from .records import RawGpu, VendorScan
from .smi import MIB, query_amd_smi, query_rocm_smi
from .visibility import apply_rocm_visible, normalize_pci, rocm_visible_chain

_field = partial(read_field, "amdsmi")


def amdsmi_gpus() -> list[RawGpu]:
    """Every AMD GPU of the machine in runtime enumeration order. Raises without amdsmi."""
    import amdsmi

    with library_session("amdsmi", amdsmi.amdsmi_init, amdsmi.amdsmi_shut_down):
        rows: list[tuple[int, RawGpu]] = []
        for pos, h in enumerate(amdsmi.amdsmi_get_processor_handles()):
            asic = _field("asic info", amdsmi.amdsmi_get_gpu_asic_info, h) or {}
            vram = _field("vram usage", amdsmi.amdsmi_get_gpu_vram_usage, h) or {}
            bdf = _field("bdf", amdsmi.amdsmi_get_gpu_device_bdf, h)
            uuid = None
            if hasattr(amdsmi, "amdsmi_get_gpu_device_uuid"):
                uuid = _field("uuid", amdsmi.amdsmi_get_gpu_device_uuid, h)
            order = pos
            if hasattr(amdsmi, "amdsmi_get_gpu_enumeration_info"):
                enum = _field("enumeration info", amdsmi.amdsmi_get_gpu_enumeration_info, h)
                if isinstance(enum, dict) and isinstance(enum.get("hip_id"), int):
                    order = enum["hip_id"]
            total, used = vram.get("vram_total"), vram.get("vram_used")  # MiB
            gfx = asic.get("target_graphics_version")
            rows.append(
                (
                    order,
                    RawGpu(
                        index=pos,
                        name=str(asic.get("market_name") or f"AMD GPU {pos}").strip(),
                        total_memory=int(total) * MIB if total is not None else None,
                        free_memory=(
                            (int(total) - int(used)) * MIB
                            if total is not None and used is not None
                            else None
                        ),
                        uuid=str(uuid) if uuid else None,
                        pci_bus_id=normalize_pci(bdf),
                        gfx_arch=str(gfx).split(":")[0].lower() if gfx and gfx != "N/A" else None,
                    ),
                )
            )
        rows.sort(key=lambda r: r[0])
        return [g for _, g in rows]


def detect_amd(
    env: Mapping[str, str] | None = None,
    *,
    torch_list: list[RawGpu] | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
) -> VendorScan:
    """AMD GPUs numbered as HIP numbers them in this process.

    ROCR_VISIBLE_DEVICES applies first, then HIP_VISIBLE_DEVICES (or CUDA_VISIBLE_DEVICES
    when that is unset), each indexing the list the previous one left.
    """
    env = os.environ if env is None else env
    if torch_list is None:
        torch_list = torch_gpus()
    scan = VendorScan()
    physical = run_probe("amdsmi", amdsmi_gpus, timeout=timeout, default=None)
    if physical is not None:
        scan.source = "amdsmi"
    else:
        for name, query in (("amd-smi", query_amd_smi), ("rocm-smi", query_rocm_smi)):
            physical = run_probe(
                name, lambda q=query: q(timeout), timeout=timeout + 1, default=None
            )
            if physical:
                scan.source = name
                scan.notes.append(f"amdsmi unavailable; facts from {name}")
                break
        else:
            physical = None
    if not physical and not torch_list:
        return scan
    visible = apply_rocm_visible(physical, env, lambda g: g.uuid) if physical else None
    scan.gpus, scan.hidden = merge_inventory(
        torch_list, physical, visible, vendor="amd", source=scan.source
    )
    if not physical:
        scan.source = "torch"
        scan.notes.append("amdsmi, amd-smi and rocm-smi unavailable; facts from torch only")
    if scan.hidden:
        names = ", ".join(n for n, _ in rocm_visible_chain(env)) or "visibility settings"
        scan.notes.append(f"{scan.hidden} AMD GPU(s) hidden from this process ({names})")
    return scan
