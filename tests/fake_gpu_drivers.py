"""Fake GPU drivers for the detection tests: torch.cuda, pynvml, amdsmi and smi output.

A test describes the machine with :func:`nv_gpu` / :func:`amd_gpu` records, installs the
fake libraries (:func:`fake_pynvml`, :func:`fake_amdsmi`, :func:`set_torch`) and calls
:func:`detect`. The autouse fixture :func:`isolated` (import it into a test module) keeps
the real NVML, amdsmi, smi tools, MPS and visibility variables out of every test there.
"""

from __future__ import annotations

import sys
import types
from types import SimpleNamespace

import pytest
import torch

from hyperphysics_strategy.engine.hardware import (
    HardwareInfo,
    clear_capability_cache,
    clear_hardware_cache,
    smi,
)
from hyperphysics_strategy.engine.hardware.visibility import normalize_uuid

GIB = 1024**3


def fake_gpu(i: int, name: str, total_gib: int, free_gib: int, **ids) -> dict:
    """GPU ``i`` of a model: ``name #i``, ``free_gib - i`` GiB free, plus vendor ``ids``."""
    return {"name": f"{name} #{i}", "total": total_gib * GIB, "free": (free_gib - i) * GIB, **ids}


def nv_gpu(i: int, name: str = "NVIDIA H100 80GB HBM3") -> dict:
    uuid = f"GPU-{i:08x}-1111-2222-3333-44444444444{i % 10}"
    return fake_gpu(i, name, 80, 70, uuid=uuid, pci=f"00000000:{0x10 + i:02X}:00.0", cc=(9, 0))


def amd_gpu(i: int) -> dict:
    uuid, pci = f"{i:02x}ff74a1-0000-1000-80fe-e1{i:010x}", f"0000:{0x20 + i:02x}:00.0"
    return fake_gpu(i, "AMD Instinct MI300X", 192, 180, uuid=uuid, pci=pci, gfx="gfx942")


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
