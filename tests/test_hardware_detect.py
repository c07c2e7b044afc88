"""Hardware detection on simulated machines: fake torch.cuda, pynvml, amdsmi and smi output.

Nothing here needs a GPU: every source is replaced by a fake describing the machine.
"""

from __future__ import annotations

import json
import shutil
import sys
import threading
import time
import types
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from hyperphysics_strategy.engine.hardware import (
    BACKENDS,
    HardwareInfo,
    clear_capability_cache,
    clear_hardware_cache,
    detect_cpu,
    smi,
)
from hyperphysics_strategy.engine.hardware import capabilities as caps_mod
from hyperphysics_strategy.engine.hardware.probe import run_command, run_probe
from hyperphysics_strategy.engine.hardware.visibility import (
    apply_rocm_visible,
    apply_visible,
    normalize_pci,
    normalize_uuid,
)

GIB = 1024**3


# -- a simulated machine ---------------------------------------------------------------


def nv_gpu(i: int, name: str = "NVIDIA H100 80GB HBM3") -> dict:
    return {
        "name": f"{name} #{i}",
        "uuid": f"GPU-{i:08x}-1111-2222-3333-44444444444{i % 10}",
        "pci": f"00000000:{0x10 + i:02X}:00.0",
        "total": 80 * GIB,
        "free": (70 - i) * GIB,
        "cc": (9, 0),
    }


def amd_gpu(i: int) -> dict:
    return {
        "name": f"AMD Instinct MI300X #{i}",
        "uuid": f"{i:02x}ff74a1-0000-1000-80fe-e1{i:010x}",
        "pci": f"0000:{0x20 + i:02x}:00.0",
        "total": 192 * GIB,
        "free": (180 - i) * GIB,
        "gfx": "gfx942",
    }


class FakeNVMLError(Exception):
    pass


def fake_pynvml(gpus: list[dict], *, init=None) -> types.ModuleType:
    mod = types.ModuleType("pynvml")
    mod.NVMLError = FakeNVMLError

    def nvmlInit():
        if init is not None:
            init()

    mod.nvmlInit = nvmlInit
    mod.nvmlShutdown = lambda: None
    mod.nvmlSystemGetDriverVersion = lambda: "580.65.06"
    mod.nvmlDeviceGetCount = lambda: len(gpus)
    mod.nvmlDeviceGetHandleByIndex = lambda i: i
    mod.nvmlDeviceGetName = lambda h: gpus[h]["name"].encode()
    mod.nvmlDeviceGetUUID = lambda h: gpus[h]["uuid"]
    mod.nvmlDeviceGetPciInfo = lambda h: SimpleNamespace(busId=gpus[h]["pci"].encode())
    mod.nvmlDeviceGetMemoryInfo = lambda h: SimpleNamespace(
        total=gpus[h]["total"], free=gpus[h]["free"], used=gpus[h]["total"] - gpus[h]["free"]
    )
    mod.nvmlDeviceGetCudaComputeCapability = lambda h: gpus[h]["cc"]
    return mod


def fake_amdsmi(gpus: list[dict]) -> types.ModuleType:
    mod = types.ModuleType("amdsmi")
    mod.amdsmi_init = lambda *a: None
    mod.amdsmi_shut_down = lambda: None
    mod.amdsmi_get_processor_handles = lambda: list(range(len(gpus)))
    mod.amdsmi_get_gpu_asic_info = lambda h: {
        "market_name": gpus[h]["name"],
        "target_graphics_version": gpus[h]["gfx"],
    }
    mod.amdsmi_get_gpu_vram_usage = lambda h: {
        "vram_total": gpus[h]["total"] // 2**20,
        "vram_used": (gpus[h]["total"] - gpus[h]["free"]) // 2**20,
    }
    mod.amdsmi_get_gpu_device_bdf = lambda h: gpus[h]["pci"]
    mod.amdsmi_get_gpu_device_uuid = lambda h: gpus[h]["uuid"]
    return mod


def set_torch(
    monkeypatch,
    visible: list[dict],
    *,
    build: str = "cuda",
    with_ids: bool = True,
    mem_get_info=None,
) -> None:
    """torch sees ``visible`` (already filtered/reordered as the runtime would)."""
    monkeypatch.setattr(torch.version, "cuda", "12.8" if build == "cuda" else None)
    monkeypatch.setattr(torch.version, "hip", "6.4.43482" if build == "rocm" else None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: bool(visible))
    monkeypatch.setattr(torch.cuda, "device_count", lambda: len(visible))

    def props(i):
        g = visible[i]
        ns = SimpleNamespace(name=g["name"], total_memory=g["total"], major=9, minor=0)
        if build == "rocm":
            ns.gcnArchName = g["gfx"] + ":sramecc+:xnack-"
        if with_ids:
            ns.uuid = normalize_uuid(g["uuid"]) if build == "cuda" else None
            dom, bus, rest = g["pci"].split(":")
            ns.pci_domain_id, ns.pci_bus_id = int(dom, 16), int(bus, 16)
            ns.pci_device_id = int(rest.split(".")[0], 16)
        return ns

    monkeypatch.setattr(torch.cuda, "get_device_properties", props)
    monkeypatch.setattr(
        torch.cuda,
        "mem_get_info",
        mem_get_info or (lambda i: (visible[i]["free"] - GIB, visible[i]["total"])),
    )


@pytest.fixture(autouse=True)
def isolated(monkeypatch):
    """No real NVML, amdsmi, smi tools, MPS or visibility variables leak into a test."""
    for var in (
        "CUDA_VISIBLE_DEVICES",
        "HIP_VISIBLE_DEVICES",
        "ROCR_VISIBLE_DEVICES",
        "HYPERPHYSICS_DEVICES",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setitem(sys.modules, "pynvml", None)
    monkeypatch.setitem(sys.modules, "amdsmi", None)
    monkeypatch.setattr(smi, "run_command", lambda argv, timeout=0: None)
    monkeypatch.setattr(smi, "tool_available", lambda name: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    clear_capability_cache()
    clear_hardware_cache()
    yield
    clear_capability_cache()
    clear_hardware_cache()


def detect(**kw) -> HardwareInfo:
    return HardwareInfo.detect(timeout=kw.pop("timeout", 2.0), **kw)


# -- NVIDIA ----------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 2, 8])
def test_nvidia_inventories(monkeypatch, n):
    phys = [nv_gpu(i) for i in range(n)]
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(phys))
    set_torch(monkeypatch, phys)
    info = detect()
    if n == 0:
        assert info.backend == "cpu" and info.gpus == ()
        return
    assert info.backend == "cuda" and info.torch_backend == "cuda"
    assert [g.ordinal for g in info.gpus] == list(range(n))
    assert [g.name for g in info.gpus] == [p["name"] for p in phys]
    assert all(g.compute_capability == "9.0" and g.source == "torch+nvml" for g in info.gpus)
    assert info.gpus[-1].free_memory == phys[-1]["free"]  # from NVML, not torch
    assert info.gpus[0].pci_bus_id == "0000:10:00.0"
    assert info.driver_version == "580.65.06"
    assert info.hidden_gpus == 0


def test_cuda_visible_devices_reorders_and_hides(monkeypatch):
    phys = [nv_gpu(i) for i in range(4)]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,0")
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(phys))
    set_torch(monkeypatch, [phys[2], phys[0]])
    info = detect()
    assert [g.name for g in info.gpus] == [phys[2]["name"], phys[0]["name"]]
    assert [g.ordinal for g in info.gpus] == [0, 1]
    assert info.gpus[0].uuid == phys[2]["uuid"]
    assert info.gpus[0].free_memory == phys[2]["free"]
    assert info.hidden_gpus == 2


def test_uuid_form_of_cuda_visible_devices_without_torch_ids(monkeypatch):
    """torch exposes no UUID/PCI: pairing falls back to the visibility list (UUID prefix)."""
    phys = [nv_gpu(i) for i in range(3)]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", phys[1]["uuid"][:12])
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(phys))
    set_torch(monkeypatch, [phys[1]], with_ids=False)
    info = detect()
    assert len(info.gpus) == 1
    assert info.gpus[0].uuid == phys[1]["uuid"] and info.gpus[0].free_memory == phys[1]["free"]
    assert info.hidden_gpus == 2


def test_nvml_lists_gpus_hidden_from_torch(monkeypatch):
    """No visibility variable, yet torch sees 2 of NVML's 4 (e.g. container device rules)."""
    phys = [nv_gpu(i) for i in range(4)]
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(phys))
    set_torch(monkeypatch, [phys[3], phys[1]])
    info = detect()
    assert [g.uuid for g in info.gpus] == [phys[3]["uuid"], phys[1]["uuid"]]
    assert info.hidden_gpus == 2
    assert any("hidden" in n for n in info.notes)


def test_cpu_torch_with_nvidia_gpus_keeps_cuda_numbering(monkeypatch):
    phys = [nv_gpu(i) for i in range(3)]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,1")
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(phys))
    set_torch(monkeypatch, [], build="cpu")
    info = detect()
    assert info.backend == "cuda" and info.torch_backend == "cpu"
    assert [(g.ordinal, g.name) for g in info.gpus] == [(0, phys[2]["name"]), (1, phys[1]["name"])]
    assert not any(g.torch_visible for g in info.gpus)
    assert info.hidden_gpus == 1


def test_nvml_raising_falls_back_to_nvidia_smi(monkeypatch):
    phys = [nv_gpu(i) for i in range(2)]

    def boom():
        raise FakeNVMLError("Driver/library version mismatch")

    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(phys, init=boom))
    csv = "\n".join(
        f"{i}, {g['name']}, {g['uuid']}, {g['pci']}, 81559, {60000 + i}, 9.0"
        for i, g in enumerate(phys)
    )
    monkeypatch.setattr(smi, "tool_available", lambda name: True)
    monkeypatch.setattr(
        smi, "run_command", lambda argv, timeout=0: csv if argv[0] == "nvidia-smi" else None
    )
    set_torch(monkeypatch, phys)
    info = detect()
    assert info.gpu_source == "nvidia-smi"
    assert [g.source for g in info.gpus] == ["torch+nvidia-smi"] * 2
    assert info.gpus[1].free_memory == 60001 * 2**20


def test_hanging_nvml_times_out_and_torch_alone_answers(monkeypatch):
    release = threading.Event()
    phys = [nv_gpu(0)]
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(phys, init=lambda: release.wait(10)))
    set_torch(monkeypatch, phys)
    start = time.perf_counter()
    try:
        info = detect(timeout=0.3)
    finally:
        release.set()
    assert time.perf_counter() - start < 3
    assert info.backend == "cuda" and info.gpu_source == "torch"
    g = info.gpus[0]
    assert g.name == phys[0]["name"] and g.free_memory == phys[0]["free"] - GIB  # mem_get_info
    assert g.source == "torch"


def test_broken_torch_driver_is_cpu(monkeypatch):
    """CUDA build of torch whose driver is missing: backend cpu, no crash."""
    monkeypatch.setattr(torch.version, "cuda", "12.8")
    monkeypatch.setattr(torch.version, "hip", None)

    def broken():
        raise RuntimeError("Found no NVIDIA driver on your system")

    monkeypatch.setattr(torch.cuda, "is_available", broken)
    info = detect()
    assert info.backend == "cpu" and info.torch_build == "cuda" and info.gpus == ()
    cap = caps_mod.probe_torch(info)
    assert not cap.gpu and "no usable GPU" in cap.reason


# -- AMD / ROCm ------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2])
def test_rocm_inventories_with_amdsmi(monkeypatch, n):
    phys = [amd_gpu(i) for i in range(n)]
    monkeypatch.setitem(sys.modules, "amdsmi", fake_amdsmi(phys))
    set_torch(monkeypatch, phys, build="rocm")
    info = detect()
    assert info.backend == "rocm" and info.torch_backend == "rocm" and info.hip_version
    assert [g.name for g in info.gpus] == [p["name"] for p in phys]
    assert all(g.gfx_arch == "gfx942" and g.vendor == "amd" for g in info.gpus)
    assert info.gpus[-1].free_memory == phys[-1]["free"]
    assert info.gpu_source == "amdsmi"


def test_hip_visible_devices_hides_gpu(monkeypatch):
    phys = [amd_gpu(i) for i in range(2)]
    monkeypatch.setenv("HIP_VISIBLE_DEVICES", "1")
    monkeypatch.setitem(sys.modules, "amdsmi", fake_amdsmi(phys))
    set_torch(monkeypatch, [phys[1]], build="rocm", with_ids=False)  # pairs by visibility
    info = detect()
    assert [(g.ordinal, g.name) for g in info.gpus] == [(0, phys[1]["name"])]
    assert info.gpus[0].free_memory == phys[1]["free"]
    assert info.hidden_gpus == 1
    assert any("HIP_VISIBLE_DEVICES" in n for n in info.notes)


def test_rocr_then_hip_visibility_chain():
    phys = ["a", "b", "c", "d"]
    env = {"ROCR_VISIBLE_DEVICES": "3,1,0", "HIP_VISIBLE_DEVICES": "2,0"}
    assert apply_rocm_visible(phys, env, lambda g: None) == ["a", "d"]
    # HIP falls back to CUDA_VISIBLE_DEVICES when HIP_VISIBLE_DEVICES is unset.
    assert apply_rocm_visible(phys, {"CUDA_VISIBLE_DEVICES": "1"}, lambda g: None) == ["b"]


def test_rocm_without_amdsmi_uses_rocm_smi(monkeypatch):
    phys = [amd_gpu(i) for i in range(2)]
    payload = {
        f"card{i}": {
            "Card Series": g["name"],
            "VRAM Total Memory (B)": str(g["total"]),
            "VRAM Total Used Memory (B)": str(g["total"] - g["free"]),
            "PCI Bus": g["pci"].upper(),
            "GFX Version": "gfx942",
        }
        for i, g in enumerate(phys)
    }
    payload["system"] = {"Driver version": "6.10"}
    monkeypatch.setattr(
        smi,
        "run_command",
        lambda argv, timeout=0: json.dumps(payload) if argv[0] == "rocm-smi" else None,
    )
    set_torch(monkeypatch, phys, build="rocm")
    info = detect()
    assert info.gpu_source == "rocm-smi"
    assert [g.free_memory for g in info.gpus] == [p["free"] for p in phys]


# -- smi parsers -----------------------------------------------------------------------


def test_parse_nvidia_smi_handles_na_and_commas():
    text = (
        "0, NVIDIA A100-SXM4-80GB, GPU-aaaa, 00000000:07:00.0, 81920, 81000, 8.0\n"
        "1, Tesla T4, rev, B, GPU-bbbb, 00000000:08:00.0, [N/A], [N/A], 7.5\n"
    )
    gpus = smi.parse_nvidia_smi(text)
    assert [g.name for g in gpus] == ["NVIDIA A100-SXM4-80GB", "Tesla T4, rev, B"]
    assert gpus[0].total_memory == 81920 * 2**20 and gpus[1].total_memory is None
    assert gpus[1].pci_bus_id == "0000:08:00.0" and gpus[1].compute_capability == "7.5"


def test_parse_amd_smi():
    text = json.dumps(
        {
            "gpu_data": [
                {
                    "gpu": 0,
                    "asic": {
                        "market_name": "AMD Instinct MI210",
                        "target_graphics_version": "gfx90a",
                    },
                    "bus": {"bdf": "0000:03:00.0"},
                    "vram": {"size": {"value": 65520, "unit": "MB"}},
                }
            ]
        }
    )
    (g,) = smi.parse_amd_smi(text)
    assert g.name == "AMD Instinct MI210" and g.gfx_arch == "gfx90a"
    assert g.total_memory == 65520 * 2**20 and g.pci_bus_id == "0000:03:00.0"


# -- visibility helpers ----------------------------------------------------------------


def test_apply_visible_follows_cuda_rules():
    devs = [SimpleNamespace(u=f"GPU-{c * 8}") for c in "abcd"]
    pick = lambda spec: [d.u[4] for d in apply_visible(devs, spec, lambda d: d.u)]  # noqa: E731
    assert pick(None) == list("abcd")
    assert pick("") == []
    assert pick("-1") == []
    assert pick("3,1") == ["d", "b"]
    assert pick("1,9,2") == ["b"]  # stops at the first invalid entry
    assert pick("0,0") == ["a"]  # a repeat stops parsing
    assert pick("GPU-cccc,0") == ["c", "a"]
    assert normalize_pci("00000000:3B:00.0") == "0000:3b:00.0"
    assert normalize_uuid("GPU-AB-cd") == "abcd"


# -- probes ----------------------------------------------------------------------------


def test_run_probe_degrades_on_error_and_timeout():
    def boom():
        raise OSError("driver gone")

    assert run_probe("boom", boom, timeout=1, default="fallback") == "fallback"
    assert run_probe("boom", boom, timeout=None, default=0) == 0
    release = threading.Event()
    start = time.perf_counter()
    assert run_probe("hang", lambda: release.wait(10), timeout=0.2, default="late") == "late"
    release.set()
    assert time.perf_counter() - start < 2
    assert run_probe("ok", lambda: 42, timeout=1, default=0) == 42


def test_run_command_timeout_and_missing_tool():
    start = time.perf_counter()
    assert run_command([sys.executable, "-c", "import time; time.sleep(20)"], timeout=0.5) is None
    assert time.perf_counter() - start < 5
    assert run_command(["surely-not-a-tool-xyz"], timeout=1) is None
    assert run_command([sys.executable, "-c", "print('hi')"], timeout=10).strip() == "hi"


def test_lightgbm_trial_timeout_is_respected():
    start = time.perf_counter()
    ok, detail = caps_mod.lightgbm_trial("gpu", timeout=0.5, script="import time; time.sleep(30)")
    assert not ok and "timed out" in detail
    assert time.perf_counter() - start < 5
    ok, detail = caps_mod.lightgbm_trial("gpu", timeout=10, script="raise SystemExit('no GPU')")
    assert not ok and "no GPU" in detail


def _trial_printing(device_line: str) -> str:
    return f"print({device_line!r}); print('{{\"ok\": true}}')"


def test_lightgbm_opencl_trial_on_a_cpu_runtime_is_no_gpu():
    # pocl's line, as LightGBM 4.7 printed it on a machine with pocl as its only OpenCL ICD
    pocl = "[LightGBM] [Info] Using GPU Device: pthread-haswell-AMD EPYC, Vendor: AuthenticAMD"
    ok, detail = caps_mod.lightgbm_trial("gpu", timeout=30, script=_trial_printing(pocl))
    assert not ok
    assert "pthread-haswell-AMD EPYC" in detail and "not on the GPU" in detail
    # an AMD CPU's vendor string must not pass for an AMD GPU's
    ok, _ = caps_mod.lightgbm_trial("gpu", timeout=30, script=_trial_printing(pocl), backend="rocm")
    assert not ok


def test_lightgbm_opencl_trial_on_the_gpu_vendors_device_passes():
    nvidia = "[LightGBM] [Info] Using GPU Device: NVIDIA H200, Vendor: NVIDIA Corporation"
    assert caps_mod.lightgbm_trial("gpu", timeout=30, script=_trial_printing(nvidia)) == (
        True,
        "trial passed on NVIDIA H200 (NVIDIA Corporation)",
    )
    amd = "[LightGBM] [Info] Using GPU Device: gfx942, Vendor: Advanced Micro Devices, Inc."
    ok, _ = caps_mod.lightgbm_trial("gpu", timeout=30, script=_trial_printing(amd), backend="rocm")
    assert ok
    # a trial that passes without naming its device is not trusted
    ok, detail = caps_mod.lightgbm_trial("gpu", timeout=30, script=_trial_printing("no line"))
    assert not ok and "did not say" in detail


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
