"""CPU and RAM: model, logical cores, affinity, cgroup CPU quota and memory limit."""

from __future__ import annotations

import logging
import math
import os
import platform
from collections.abc import Callable
from pathlib import Path

from .probe import run_command, run_probe
from .records import CpuInfo

logger = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_SELF_CGROUP = Path("/proc/self/cgroup")
_UNLIMITED_MEMORY = 1 << 60  # cgroup v1 reports "no limit" as a huge number
_MODEL_KEYS = ("model name", "Hardware", "Processor", "cpu model")


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


def _cpus(quota: str | None, period: str | None) -> float | None:
    """CPUs a quota of ``quota`` microseconds per ``period`` allows; ``None`` without a limit."""
    try:
        q, p = int(quota), int(period)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        if quota and quota != "max":
            logger.debug("cgroup: unreadable cpu quota %r / period %r", quota, period)
        return None
    return q / p if q > 0 and p > 0 else None


def _v2_cpu_max(d: Path) -> float | None:
    fields = (_read(d / "cpu.max") or "").split()  # "max 100000" when unlimited
    return _cpus(fields[0], fields[1]) if len(fields) >= 2 else None


def _v1_cfs_quota(d: Path) -> float | None:
    return _cpus(_read(d / "cpu.cfs_quota_us"), _read(d / "cpu.cfs_period_us"))


def _bytes(text: str | None) -> int | None:
    """A memory limit in bytes; ``None`` for ``max`` (v2) or v1's huge "no limit"."""
    if text and text.isdigit() and int(text) < _UNLIMITED_MEMORY:
        return int(text)
    return None


def _tightest(
    cgroup_root: Path,
    proc_self_cgroup: Path,
    read_v2: Callable[[Path], float | None],
    controller: str,
    v1_mounts: tuple[str, ...],
    read_v1: Callable[[Path], float | None],
) -> float | None:
    """The smallest limit this process's cgroups set: ``read_v2`` in each directory of its
    v2 path (``_candidates``), ``read_v1`` in each of its v1 ``controller`` path under the
    first of ``v1_mounts`` that is mounted; ``None`` when none sets one."""
    v2, v1 = _cgroup_paths(proc_self_cgroup)
    found: list[float | None] = []
    if v2 is not None:
        found += map(read_v2, _candidates(cgroup_root, v2))
    for mount in v1_mounts:
        base = cgroup_root / mount
        if base.is_dir():
            found += map(read_v1, _candidates(base, v1.get(controller, "/")))
            break
    limits = [x for x in found if x is not None]
    return min(limits) if limits else None


def cgroup_cpu_quota(
    cgroup_root: Path = CGROUP_ROOT, proc_self_cgroup: Path = PROC_SELF_CGROUP
) -> float | None:
    """CPUs allowed by the cgroup quota (v2 ``cpu.max`` or v1 ``cpu.cfs_quota_us``)."""
    mounts = ("cpu,cpuacct", "cpu", "cpuacct,cpu")
    return _tightest(cgroup_root, proc_self_cgroup, _v2_cpu_max, "cpu", mounts, _v1_cfs_quota)


def cgroup_memory_limit(
    cgroup_root: Path = CGROUP_ROOT, proc_self_cgroup: Path = PROC_SELF_CGROUP
) -> int | None:
    """Bytes allowed by the cgroup memory limit, ``None`` when unlimited or unknown."""
    limit = _tightest(
        cgroup_root,
        proc_self_cgroup,
        lambda d: _bytes(_read(d / "memory.max")),
        "memory",
        ("memory",),
        lambda d: _bytes(_read(d / "memory.limit_in_bytes")),
    )
    return None if limit is None else int(limit)


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
