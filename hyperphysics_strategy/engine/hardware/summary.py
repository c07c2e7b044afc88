"""The hardware summary: compact log lines (once per process) and a JSON-ready report."""

from __future__ import annotations

import logging
import threading
from typing import Any

from .capabilities import LibraryCapability, probe_capabilities
from .info import HardwareInfo, get_hardware_info
from .plan import DevicePlan

_logged = False
_lock = threading.Lock()


def gib(n: int | None) -> str:
    return "?" if n is None else f"{n / 1024**3:.1f} GiB"


def summary_lines(
    info: HardwareInfo,
    plan: DevicePlan | None = None,
    capabilities: dict[str, LibraryCapability] | None = None,
) -> list[str]:
    c = info.cpu
    quota = f", cgroup quota {c.cgroup_quota:g}" if c.cgroup_quota is not None else ""
    lines = [
        f"Hardware: {info.os}, Python {info.python}, torch {info.torch_version}",
        f"CPU: {c.model}; {c.logical_cores} logical cores, {c.allowed_cores} allowed "
        f"(affinity {c.affinity_cores}{quota}), {c.usable_cores} usable; "
        f"RAM {gib(c.ram_available)} free of {gib(c.ram_total)}",
        f"GPU backend: {info.backend} (torch: {info.torch_backend}), {info.gpu_count} GPU(s)"
        + (f", {info.hidden_gpus} hidden" if info.hidden_gpus else "")
        + (f", driver {info.driver_version}" if info.driver_version else ""),
    ]
    for g in info.gpus:
        arch = f", {g.arch}" if g.arch else ""
        torch_note = "" if g.torch_visible else ", not visible to torch"
        lines.append(
            f"  gpu {g.ordinal}: {g.name}{arch}, {gib(g.free_memory)} free of "
            f"{gib(g.total_memory)}{torch_note}"
        )
    for cap in (capabilities or {}).values():
        where = ", ".join(str(d) for d in cap.devices) or "cpu"
        lines.append(f"  {cap.library}: {where} ({cap.reason})")
    if plan is not None:
        lines.append(
            f"Plan: {len(plan)} task(s), {plan.workers} worker(s) x "
            f"{plan.threads_per_worker} thread(s)"
        )
        placed = ", ".join(f"{p.task}->{p.device}" for p in plan)
        if placed:
            lines.append(f"  {placed}")
        lines.extend(f"  note: {n}" for n in plan.notes)
    lines.extend(f"  note: {n}" for n in info.notes)
    return lines


def log_summary(
    logger: logging.Logger | None = None,
    *,
    info: HardwareInfo | None = None,
    plan: DevicePlan | None = None,
    force: bool = False,
) -> bool:
    """Log the summary once per process (``force`` logs again). True when it logged.

    The plan's lines come only with ``plan`` (the caller knows its tasks)."""
    global _logged
    with _lock:
        if _logged and not force:
            return False
        _logged = True
    log = logger or logging.getLogger("hyperphysics_strategy.hardware")
    info = info or get_hardware_info()
    caps = probe_capabilities(info)
    for line in summary_lines(info, plan, caps):
        log.info("%s", line)
    return True


def hardware_report(
    info: HardwareInfo | None = None,
    plan: DevicePlan | None = None,
    capabilities: dict[str, LibraryCapability] | None = None,
) -> dict[str, Any]:
    """Everything ``hyperphysics hardware --json`` prints (``plan``: None without one)."""
    info = info or get_hardware_info()
    capabilities = capabilities if capabilities is not None else probe_capabilities(info)
    report = info.to_dict()
    report["capabilities"] = {k: v.to_dict() for k, v in capabilities.items()}
    report["plan"] = None if plan is None else plan.to_dict()
    for entry, p in zip(report["plan"]["placements"] if plan else [], plan or [], strict=True):
        entry["params"] = {
            k: v if isinstance(v, int | float | str | bool) else str(v)
            for k, v in p.params().items()
        }
    return report
