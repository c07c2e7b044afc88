"""CPU facts under cgroup quotas and memory limits (v1 and v2), and this real machine."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from hyperphysics_strategy.engine.hardware import (
    BACKENDS,
    HardwareInfo,
    clear_hardware_cache,
    detect_cpu,
)
from tests.fake_gpu_drivers import (
    GIB,
    isolated,  # noqa: F401 (autouse: no real drivers here)
)

# -- CPU and cgroups -------------------------------------------------------------------


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_250_cores_with_cgroup_v2_quota_of_8(tmp_path):
    root = tmp_path / "cgroup"
    write(root / "cpu.max", "800000 100000\n")
    write(root / "memory.max", "max\n")
    proc = tmp_path / "proc_self_cgroup"
    write(proc, "0::/\n")
    cpu = detect_cpu(root, proc, logical_cores=250, affinity=250)
    assert cpu.logical_cores == 250 and cpu.cgroup_quota == 8.0
    assert cpu.allowed_cores == 8 and cpu.usable_cores == 7


def test_cgroup_v2_nested_path_and_memory_limit(tmp_path):
    root = tmp_path / "cgroup"
    write(root / "kubepods" / "cpu.max", "400000 100000\n")
    write(root / "kubepods" / "pod1" / "cpu.max", "max 100000\n")
    write(root / "kubepods" / "pod1" / "memory.max", str(2 * GIB))
    proc = tmp_path / "cg"
    write(proc, "0::/kubepods/pod1\n")
    cpu = detect_cpu(root, proc, logical_cores=64, affinity=16)
    assert cpu.cgroup_quota == 4.0 and cpu.allowed_cores == 4 and cpu.usable_cores == 3
    assert cpu.ram_total == 2 * GIB and cpu.ram_available <= 2 * GIB


def test_cgroup_v1_quota_and_affinity(tmp_path):
    root = tmp_path / "cgroup"
    write(root / "cpu,cpuacct" / "docker" / "abc" / "cpu.cfs_quota_us", "250000\n")
    write(root / "cpu,cpuacct" / "docker" / "abc" / "cpu.cfs_period_us", "100000\n")
    proc = tmp_path / "cg"
    write(proc, "4:cpu,cpuacct:/docker/abc\n0::/\n")
    cpu = detect_cpu(root, proc, logical_cores=250, affinity=250)
    assert cpu.cgroup_quota == 2.5 and cpu.allowed_cores == 3 and cpu.usable_cores == 2
    # affinity below the quota wins; one core is always usable
    cpu = detect_cpu(root, proc, logical_cores=250, affinity=1)
    assert cpu.allowed_cores == 1 and cpu.usable_cores == 1


def test_no_cgroup_files_means_no_quota(tmp_path):
    cpu = detect_cpu(tmp_path / "none", tmp_path / "missing", logical_cores=12, affinity=12)
    assert cpu.cgroup_quota is None and cpu.allowed_cores == 12 and cpu.usable_cores == 11


# -- this real machine -----------------------------------------------------------------


def test_this_machine_is_cpu_with_a_valid_plan(monkeypatch):
    monkeypatch.undo()  # the real machine, as it is
    from hyperphysics_strategy.engine.hardware import DevicePlan

    clear_hardware_cache()
    info = HardwareInfo.detect()
    if not torch.cuda.is_available() and shutil.which("nvidia-smi") is None:
        assert info.backend == "cpu" and info.gpus == ()  # the CPU-only development machine
    assert info.backend in BACKENDS
    assert 1 <= info.cpu.usable_cores <= info.cpu.logical_cores
    plan = DevicePlan.build(["lightgbm", "xgboost", "catboost", "torch"] * 3, info=info)
    assert len(plan) == 12
    if info.backend == "cpu":
        assert all(str(p.device) == "cpu" for p in plan)
    assert plan.workers * plan.threads_per_worker <= info.cpu.usable_cores
