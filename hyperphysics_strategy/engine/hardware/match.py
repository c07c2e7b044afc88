"""Pair torch's GPUs with a management source's listing (NVML, amdsmi, smi output).

Pairing is by UUID, then PCI bus id; when neither is available, torch's list is paired
position by position with the physical list after the visibility variables were applied,
but only when both have the same length. Physical GPUs that pair with nothing are hidden
from this process (and reported as such).
"""

from __future__ import annotations

from collections.abc import Sequence

from .gpu_torch import torch_free_memory
from .records import GpuInfo, RawGpu
from .visibility import normalize_pci, normalize_uuid


def _find(t: RawGpu, physical: Sequence[RawGpu], taken: set[int]) -> int | None:
    tu, tp = normalize_uuid(t.uuid), normalize_pci(t.pci_bus_id)
    for key, value in (("uuid", tu), ("pci", tp)):
        if not value:
            continue
        for pos, p in enumerate(physical):
            if pos in taken:
                continue
            other = normalize_uuid(p.uuid) if key == "uuid" else normalize_pci(p.pci_bus_id)
            if other == value:
                return pos
    return None


def merge_inventory(
    torch_list: Sequence[RawGpu],
    physical: Sequence[RawGpu] | None,
    visible: Sequence[RawGpu] | None,
    *,
    vendor: str,
    source: str,
) -> tuple[list[GpuInfo], int]:
    """(GPUs numbered as this process sees them, count of physical GPUs hidden from it)."""
    physical = list(physical or [])
    visible = list(visible if visible is not None else physical)
    if not torch_list:
        gpus = [
            GpuInfo(
                ordinal=i,
                vendor=vendor,
                name=p.name,
                total_memory=p.total_memory,
                free_memory=p.free_memory,
                uuid=p.uuid,
                pci_bus_id=p.pci_bus_id,
                compute_capability=p.compute_capability,
                gfx_arch=p.gfx_arch,
                torch_visible=False,
                source=source,
            )
            for i, p in enumerate(visible)
        ]
        return gpus, max(0, len(physical) - len(visible))

    taken: set[int] = set()
    pairs: list[int | None] = []
    for t in torch_list:
        pos = _find(t, physical, taken)
        if pos is not None:
            taken.add(pos)
        pairs.append(pos)
    if not taken and visible and len(visible) == len(torch_list):
        # No ids to compare: rely on the runtime numbering the visible list in order.
        index_of = {id(p): i for i, p in enumerate(physical)}
        pairs = [index_of.get(id(v)) for v in visible]
        taken = {p for p in pairs if p is not None}

    gpus: list[GpuInfo] = []
    for t, pos in zip(torch_list, pairs, strict=True):
        p = physical[pos] if pos is not None else None
        free = p.free_memory if p is not None else None
        if free is None:
            free = torch_free_memory(t.index)
        gpus.append(
            GpuInfo(
                ordinal=t.index,
                vendor=vendor,
                name=(p.name if p is not None and p.name else t.name),
                total_memory=(p.total_memory if p and p.total_memory else t.total_memory),
                free_memory=free,
                uuid=(p.uuid if p and p.uuid else t.uuid),
                pci_bus_id=(p.pci_bus_id if p and p.pci_bus_id else t.pci_bus_id),
                compute_capability=t.compute_capability or (p.compute_capability if p else None),
                gfx_arch=t.gfx_arch or (p.gfx_arch if p else None),
                torch_visible=True,
                source=f"torch+{source}" if p is not None else "torch",
            )
        )
    hidden = max(0, len(physical) - len(taken)) if physical else 0
    return gpus, hidden
