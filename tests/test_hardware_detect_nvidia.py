"""NVIDIA detection on simulated machines: fake torch.cuda, pynvml and nvidia-smi output.

Nothing here needs a GPU: every source is replaced by a fake describing the machine.
"""

from __future__ import annotations

import sys
import threading
import time

import pytest
import torch

from hyperphysics_strategy.engine.hardware import capabilities as caps_mod
from hyperphysics_strategy.engine.hardware import smi
from tests.fake_gpu_drivers import (
    GIB,
    FakeNVMLError,
    detect,
    fake_pynvml,
    isolated,  # noqa: F401 (autouse: no real drivers here)
    nv_gpu,
    set_torch,
)


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
