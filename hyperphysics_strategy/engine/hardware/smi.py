"""The command-line fallbacks: ``nvidia-smi``, ``rocm-smi`` and ``amd-smi`` output parsers.

Used only when the Python bindings (``pynvml``, ``amdsmi``) are missing or fail. Each
``query_*`` runs its tool with a timeout and returns ``None`` when the tool is absent,
fails or times out; each ``parse_*`` is a pure function of the text (tested directly).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from .probe import DEFAULT_TIMEOUT_S, run_command, tool_available
from .records import RawGpu
from .visibility import normalize_pci

logger = logging.getLogger(__name__)

MIB = 1024 * 1024

NVIDIA_SMI_FIELDS = ("index", "name", "uuid", "pci.bus_id", "memory.total", "memory.free")
NVIDIA_SMI_CC_FIELD = "compute_cap"  # newer drivers only


def _num(text: str) -> float | None:
    text = text.strip()
    if not text or text.startswith("[") or text.upper() in ("N/A", "NA"):
        return None
    try:
        return float(text)
    except ValueError:
        return None


def parse_nvidia_smi(text: str, *, with_compute_cap: bool = True) -> list[RawGpu]:
    """Parse ``nvidia-smi --query-gpu=<fields> --format=csv,noheader,nounits`` (MiB)."""
    gpus: list[RawGpu] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        cols = [c.strip() for c in line.split(",")]
        want = len(NVIDIA_SMI_FIELDS) + (1 if with_compute_cap else 0)
        if len(cols) < want:
            logger.debug("nvidia-smi: unexpected line %r", line)
            continue
        if len(cols) > want:  # a comma inside the name
            extra = len(cols) - want
            cols = [cols[0], ", ".join(cols[1 : 2 + extra]), *cols[2 + extra :]]
        idx = _num(cols[0])
        total, free = _num(cols[4]), _num(cols[5])
        cc = cols[6] if with_compute_cap and _num(cols[6]) is not None else None
        gpus.append(
            RawGpu(
                index=int(idx) if idx is not None else len(gpus),
                name=cols[1],
                uuid=cols[2] or None,
                pci_bus_id=normalize_pci(cols[3]),
                total_memory=int(total * MIB) if total is not None else None,
                free_memory=int(free * MIB) if free is not None else None,
                compute_capability=cc,
            )
        )
    return gpus


def query_nvidia_smi(timeout: float = DEFAULT_TIMEOUT_S) -> list[RawGpu] | None:
    if not tool_available("nvidia-smi"):
        return None
    fields = ",".join((*NVIDIA_SMI_FIELDS, NVIDIA_SMI_CC_FIELD))
    fmt = "--format=csv,noheader,nounits"
    out = run_command(["nvidia-smi", f"--query-gpu={fields}", fmt], timeout=timeout)
    if out is not None:
        return parse_nvidia_smi(out, with_compute_cap=True)
    # Drivers older than ~510 do not know compute_cap: retry without it.
    fields = ",".join(NVIDIA_SMI_FIELDS)
    out = run_command(["nvidia-smi", f"--query-gpu={fields}", fmt], timeout=timeout)
    return None if out is None else parse_nvidia_smi(out, with_compute_cap=False)


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _card_number(key: str) -> int | None:
    m = re.search(r"(\d+)$", key)
    return int(m.group(1)) if m else None


def parse_rocm_smi(text: str) -> list[RawGpu]:
    """Parse ``rocm-smi --showproductname --showmeminfo vram --showbus --showuniqueid --json``."""
    data = json.loads(text)
    gpus: list[RawGpu] = []
    cards = sorted(
        ((k, v) for k, v in data.items() if k.lower().startswith("card") and isinstance(v, dict)),
        key=lambda kv: _card_number(kv[0]) or 0,
    )
    for pos, (_key, card) in enumerate(cards):
        flat = {k.lower(): v for k, v in card.items()}
        total = _int(flat.get("vram total memory (b)"))
        used = _int(flat.get("vram total used memory (b)"))
        name = (
            flat.get("card series")
            or flat.get("card sku")
            or flat.get("card model")
            or flat.get("device name")
            or "AMD GPU"
        )
        gfx = flat.get("gfx version")
        gpus.append(
            RawGpu(
                index=pos,
                name=str(name).strip(),
                total_memory=total,
                free_memory=(total - used) if total is not None and used is not None else None,
                uuid=str(flat["unique id"]) if flat.get("unique id") else None,
                pci_bus_id=normalize_pci(flat.get("pci bus")),
                gfx_arch=str(gfx).strip().lower() if gfx else None,
            )
        )
    return gpus


def query_rocm_smi(timeout: float = DEFAULT_TIMEOUT_S) -> list[RawGpu] | None:
    argv = [
        "rocm-smi",
        "--showproductname",
        "--showmeminfo",
        "vram",
        "--showbus",
        "--showuniqueid",
        "--json",
    ]
    out = run_command(argv, timeout=timeout)
    if out is None:
        return None
    try:
        return parse_rocm_smi(out)
    except (ValueError, AttributeError) as exc:
        logger.debug("rocm-smi: unreadable JSON: %s", exc)
        return None


def _mib_value(node: Any) -> int | None:
    """amd-smi writes sizes as ``{"value": 65536, "unit": "MB"}`` or a bare number (MB)."""
    if isinstance(node, dict):
        value, unit = node.get("value"), str(node.get("unit", "MB")).upper()
    else:
        value, unit = node, "MB"
    number = _num(str(value)) if value is not None else None
    if number is None:
        return None
    scale = {"B": 1, "KB": 1024, "MB": MIB, "GB": 1024 * MIB}.get(unit, MIB)
    return int(number * scale)


def parse_amd_smi(text: str) -> list[RawGpu]:
    """Parse ``amd-smi static --asic --bus --vram --json`` (list, or ``{"gpu_data": [...]}``)."""
    data = json.loads(text)
    if isinstance(data, dict):
        data = data.get("gpu_data", [data])
    gpus: list[RawGpu] = []
    for pos, entry in enumerate(data):
        if not isinstance(entry, dict):
            continue
        asic = entry.get("asic") or {}
        bus = entry.get("bus") or {}
        vram = entry.get("vram") or {}
        gfx = asic.get("target_graphics_version")
        idx = _int(entry.get("gpu"))
        gpus.append(
            RawGpu(
                index=idx if idx is not None else pos,
                name=str(asic.get("market_name") or "AMD GPU").strip(),
                total_memory=_mib_value(vram.get("size")),
                uuid=str(entry["uuid"]) if entry.get("uuid") else None,
                pci_bus_id=normalize_pci(bus.get("bdf")),
                gfx_arch=str(gfx).split(":")[0].lower() if gfx and gfx != "N/A" else None,
            )
        )
    gpus.sort(key=lambda g: g.index)
    return gpus


def query_amd_smi(timeout: float = DEFAULT_TIMEOUT_S) -> list[RawGpu] | None:
    out = run_command(["amd-smi", "static", "--asic", "--bus", "--vram", "--json"], timeout=timeout)
    if out is None:
        return None
    try:
        return parse_amd_smi(out)
    except (ValueError, AttributeError, TypeError) as exc:
        logger.debug("amd-smi: unreadable JSON: %s", exc)
        return None
