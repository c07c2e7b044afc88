"""AMD/ROCm detection on simulated machines (fake amdsmi, rocm-smi), the smi parsers and
the visibility rules.
"""

from __future__ import annotations

import json
import sys
from types import SimpleNamespace

import pytest

from hyperphysics_strategy.engine.hardware import smi
from hyperphysics_strategy.engine.hardware.visibility import (
    apply_rocm_visible,
    apply_visible,
    normalize_pci,
    normalize_uuid,
)
from tests.fake_gpu_drivers import (
    amd_gpu,
    detect,
    fake_amdsmi,
    isolated,  # noqa: F401 (autouse: no real drivers here)
    set_torch,
)

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
