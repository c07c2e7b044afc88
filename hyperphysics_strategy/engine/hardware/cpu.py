"""CPU and RAM: model, logical cores, affinity, cgroup CPU quota and memory limit."""

from __future__ import annotations

import logging
import math
import os
import platform
from pathlib import Path

from .probe import run_command, run_probe
from .records import CpuInfo

logger = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_SELF_CGROUP = Path("/proc/self/cgroup")
_UNLIMITED_MEMORY = 1 << 60
_MODEL_KEYS = (
    "model name",
    "Hardware",
    "Processor",
    "cpu model",
)  # cgroup v1 reports "no limit" as a huge number


def cpu_model() -> str:
    """A human name of the CPU, or the machine architecture when none can be read."""
    system = platform.system()
    if system == "Linux":
        try:
            for line in Path("/proc/cpuinfo").read_text(errors="ignore").splitlines():
                key, _, value = line.partition(":")
                if key.strip() in _MODEL_KEYS and value.strip():
                    return value.strip()
        except OSError as exc:
            logger.debug("cpu model: /proc/cpuinfo unreadable: %s", exc)
    elif system == "Darwin":
        out = run_command(["sysctl", "-n", "machdep.cpu.brand_string"], timeout=5)
        if out and out.strip():
            return out.strip()
    return platform.processor() or platform.machine() or "unknown"


def affinity_cores() -> int:
    """Cores in this process's CPU affinity mask (all logical cores where unsupported)."""
    if hasattr(os, "sched_getaffinity"):
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except OSError as exc:
            logger.debug("sched_getaffinity failed: %s", exc)
    try:
        import psutil

        return max(1, len(psutil.Process().cpu_affinity()))
    except Exception as exc:  # not available on macOS
        logger.debug("psutil cpu_affinity unavailable: %s", exc)
    return os.cpu_count() or 1


def _cgroup_paths(proc_self_cgroup: Path) -> tuple[str | None, dict[str, str]]:
    """(cgroup v2 path, {v1 controller: path}) of this process."""
    v2: str | None = None
    v1: dict[str, str] = {}
    try:
        text = proc_self_cgroup.read_text()
    except OSError:
        return None, {}
    for line in text.splitlines():
        parts = line.strip().split(":", 2)
        if len(parts) != 3:
            continue
        _hid, controllers, path = parts
        if controllers == "":
            v2 = path
        else:
            for ctrl in controllers.split(","):
                v1[ctrl] = path
    return v2, v1


def _candidates(base: Path, rel: str) -> list[Path]:
    """``base/rel`` and its ancestors up to ``base`` (limits nest; the tightest wins).

    Inside a container the path in /proc/self/cgroup often does not exist under the
    (namespaced) mount; the mount root itself is then this process's cgroup.
    """
    rel = rel.strip("/")
    dirs: list[Path] = []
    here = base / rel if rel else base
    while True:
        dirs.append(here)
        if here == base or base not in here.parents:
            break
        here = here.parent
    if base not in dirs:
        dirs.append(base)
    return dirs


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def cgroup_cpu_quota(
    cgroup_root: Path = CGROUP_ROOT, proc_self_cgroup: Path = PROC_SELF_CGROUP
) -> float | None:
    """CPUs allowed by the cgroup quota (v2 ``cpu.max`` or v1 ``cpu.cfs_quota_us``)."""
    v2, v1 = _cgroup_paths(proc_self_cgroup)
    quotas: list[float] = []
    if v2 is not None:
        for d in _candidates(cgroup_root, v2):
            text = _read(d / "cpu.max")
            if not text:
                continue
            fields = text.split()
            if fields[0] != "max" and len(fields) >= 2:
                try:
                    quota, period = int(fields[0]), int(fields[1])
                    if quota > 0 and period > 0:
                        quotas.append(quota / period)
                except ValueError:
                    logger.debug("cgroup: unreadable %s: %r", d / "cpu.max", text)
    for ctrl_dir in ("cpu,cpuacct", "cpu", "cpuacct,cpu"):
        base = cgroup_root / ctrl_dir
        if not base.is_dir():
            continue
        for d in _candidates(base, v1.get("cpu", "/")):
            q, p = _read(d / "cpu.cfs_quota_us"), _read(d / "cpu.cfs_period_us")
            try:
                quota, period = int(q or "-1"), int(p or "0")
            except ValueError:
                continue
            if quota > 0 and period > 0:
                quotas.append(quota / period)
        break
    return min(quotas) if quotas else None


def cgroup_memory_limit(
    cgroup_root: Path = CGROUP_ROOT, proc_self_cgroup: Path = PROC_SELF_CGROUP
) -> int | None:
    """Bytes allowed by the cgroup memory limit, ``None`` when unlimited or unknown."""
    v2, v1 = _cgroup_paths(proc_self_cgroup)
    limits: list[int] = []
    if v2 is not None:
        for d in _candidates(cgroup_root, v2):
            text = _read(d / "memory.max")
            if text and text != "max" and text.isdigit():
                limits.append(int(text))
    base = cgroup_root / "memory"
    if base.is_dir():
        for d in _candidates(base, v1.get("memory", "/")):
            text = _read(d / "memory.limit_in_bytes")
            if text and text.isdigit() and int(text) < _UNLIMITED_MEMORY:
                limits.append(int(text))
    return min(limits) if limits else None


def ram_bytes() -> tuple[int, int]:
    """(total, available) system RAM in bytes."""
    try:
        import psutil

        vm = psutil.virtual_memory()
        return int(vm.total), int(vm.available)
    except Exception as exc:
        logger.debug("psutil.virtual_memory failed: %s", exc)
    try:
        info: dict[str, int] = {}
        for line in Path("/proc/meminfo").read_text().splitlines():
            key, _, rest = line.partition(":")
            info[key] = int(rest.split()[0]) * 1024
        return info["MemTotal"], info.get("MemAvailable", info.get("MemFree", 0))
    except (OSError, KeyError, ValueError, IndexError) as exc:
        logger.debug("/proc/meminfo unreadable: %s", exc)
    return 0, 0


def detect_cpu(
    cgroup_root: Path = CGROUP_ROOT,
    proc_self_cgroup: Path = PROC_SELF_CGROUP,
    *,
    logical_cores: int | None = None,
    affinity: int | None = None,
) -> CpuInfo:
    """CPU facts; ``cgroup_root``, ``proc_self_cgroup`` and the core counts are injectable."""
    logical = logical_cores if logical_cores is not None else (os.cpu_count() or 1)
    aff = affinity if affinity is not None else affinity_cores()
    aff = max(1, min(aff, logical))
    quota = run_probe(
        "cgroup cpu quota",
        lambda: cgroup_cpu_quota(cgroup_root, proc_self_cgroup),
        timeout=None,
        default=None,
    )
    allowed = aff if quota is None else max(1, min(aff, math.ceil(quota - 1e-9)))
    total, available = ram_bytes()
    limit = run_probe(
        "cgroup memory limit",
        lambda: cgroup_memory_limit(cgroup_root, proc_self_cgroup),
        timeout=None,
        default=None,
    )
    if limit is not None and (total == 0 or limit < total):
        total = limit
        available = min(available, limit) if available else limit
    return CpuInfo(
        model=run_probe("cpu model", cpu_model, timeout=None, default="unknown"),
        logical_cores=logical,
        affinity_cores=aff,
        cgroup_quota=quota,
        allowed_cores=allowed,
        usable_cores=max(1, allowed - 1),
        ram_total=total,
        ram_available=available,
    )
