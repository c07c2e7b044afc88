"""The device plan, library parameters, batch sizing and ``default_device`` on simulated
machines (HardwareInfo records built directly; library probes faked where needed)."""

from __future__ import annotations

import logging

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hyperphysics_strategy.engine import batch as batch_mod
from hyperphysics_strategy.engine import devices
from hyperphysics_strategy.engine.batch import get_optimal_batch_size
from hyperphysics_strategy.engine.hardware import (
    CPU,
    Device,
    DevicePlan,
    catboost_params,
    clear_capability_cache,
    lightgbm_params,
    log_summary,
    parse_device_list,
    summary_lines,
    thread_budget,
    torch_device,
    xgboost_params,
)
from hyperphysics_strategy.engine.hardware import capabilities as caps_mod
from hyperphysics_strategy.engine.hardware import plan as plan_mod
from hyperphysics_strategy.engine.hardware import summary as summary_mod
from hyperphysics_strategy.ensemble.experts import EXPERT_REGISTRY, expert_libraries

from .fake_machines import GIB, all_gpu_caps, make_info

#: the twelve experts as tasks: the library each trains with, labelled with its name
NAMES = tuple(EXPERT_REGISTRY)
LIBS = expert_libraries(NAMES)


def plan_experts(**kwargs) -> DevicePlan:
    return DevicePlan.build(LIBS, names=NAMES, **kwargs)


@pytest.fixture(autouse=True)
def clean(monkeypatch):
    monkeypatch.delenv("HYPERPHYSICS_DEVICES", raising=False)
    clear_capability_cache()
    yield
    clear_capability_cache()


@pytest.fixture
def fake_libraries(monkeypatch):
    """Library probes that need no GPU: xgboost built with CUDA only, catboost sees all,
    LightGBM's CUDA trial passes."""
    import xgboost

    monkeypatch.setattr(xgboost, "build_info", lambda: {"USE_CUDA": True, "CUDA_VERSION": [12, 8]})
    state = {"catboost_gpus": 8}
    import catboost.utils

    monkeypatch.setattr(catboost.utils, "get_gpu_device_count", lambda: state["catboost_gpus"])
    monkeypatch.setattr(caps_mod, "lightgbm_trial", lambda dt, **kw: (dt == "cuda", "trial passed"))
    return state


# -- round robin -----------------------------------------------------------------------


def test_eight_gpus_twelve_experts_round_robin():
    plan = plan_experts(info=make_info("cuda", 8), capabilities=all_gpu_caps(8))
    assert len(plan) == 12
    for k, p in enumerate(plan):
        assert p.device == Device("cuda", k % 8), p


def test_round_robin_through_real_probes(fake_libraries):
    info = make_info("cuda", 8)
    plan = plan_experts(info=info)
    assert [p.device.index for p in plan] == [k % 8 for k in range(12)]
    lgb = plan.for_task("lightgbm").params()
    assert lgb == {
        "device_type": "cuda",
        "gpu_device_id": 0,
        "num_threads": plan.threads_per_worker,
    }
    assert plan.for_task("xgboost_rf").params()["device"] == "cuda:3"
    assert plan.for_task("catboost_alt").params()["devices"] == "5"
    assert plan.for_task("transformer").torch_device == torch.device("cuda", 11 % 8)


def test_catboost_sees_fewer_gpus(fake_libraries):
    fake_libraries["catboost_gpus"] = 2
    plan = plan_experts(info=make_info("cuda", 8))
    # catboost experts are tasks 2 and 5; its pool is cuda:0, cuda:1
    assert plan.for_task("catboost").device == Device("cuda", 0)
    assert plan.for_task("catboost_alt").device == Device("cuda", 1)


def test_rocm_tree_experts_land_on_cpu_with_reason(monkeypatch, fake_libraries):
    monkeypatch.setattr(caps_mod, "lightgbm_trial", lambda dt, **kw: (dt == "gpu", "OpenCL trial"))
    plan = plan_experts(info=make_info("rocm", 2))
    for name in ("xgboost", "xgboost_rf", "xgboost_dart", "catboost", "catboost_alt"):
        p = plan.for_task(name)
        assert p.device == CPU and "ROCm" in p.reason, p
    assert plan.for_task("catboost").params() == {
        "task_type": "CPU",
        "thread_count": plan.threads_per_worker,
    }
    assert plan.for_task("xgboost").params()["device"] == "cpu"
    lgb = plan.for_task("lightgbm")
    assert lgb.device == Device("cuda", 0) and lgb.params()["device_type"] == "gpu"
    torch_tasks = [p for p in plan if p.library == "torch"]
    assert [p.device.index for p in torch_tasks] == [k % 2 for k in range(6, 12)]


def test_cpu_build_of_torch_on_nvidia_machine(fake_libraries):
    info = make_info("cuda", 2, torch_visible=False)
    plan = plan_experts(info=info)
    assert plan.for_task("xgboost").device == Device("cuda", 1)  # task 1 -> 1 mod 2
    mlp = plan.for_task("mlp")
    assert mlp.device == CPU and "cannot use" in mlp.reason


def test_cpu_machine_everything_on_cpu():
    plan = plan_experts(info=make_info("cpu", 0, usable=3))
    assert all(p.device == CPU for p in plan)
    assert plan.workers == 3 and plan.threads_per_worker == 1
    assert lightgbm_params(plan[0]) == {"device_type": "cpu", "num_threads": 1}


# -- HYPERPHYSICS_DEVICES --------------------------------------------------------------


def test_env_override_restricts_gpus(monkeypatch):
    monkeypatch.setenv("HYPERPHYSICS_DEVICES", "cuda:0,cuda:2")
    plan = plan_experts(info=make_info("cuda", 4), capabilities=all_gpu_caps(4))
    assert [p.device.index for p in plan] == [(0, 2)[k % 2] for k in range(12)]
    assert plan.override == "cuda:0,cuda:2"


def test_env_override_cpu(monkeypatch):
    monkeypatch.setenv("HYPERPHYSICS_DEVICES", "cpu")
    plan = plan_experts(info=make_info("cuda", 4), capabilities=all_gpu_caps(4))
    assert all(p.device == CPU and "HYPERPHYSICS_DEVICES" in p.reason for p in plan)
    assert catboost_params(plan[2]) == {"task_type": "CPU", "thread_count": plan.threads_per_worker}


def test_env_override_with_unknown_gpu_is_ignored(caplog):
    info = make_info("cuda", 2)
    with caplog.at_level(logging.WARNING):
        plan = plan_experts(info=info, capabilities=all_gpu_caps(2), devices="cuda:7")
    assert any("ignored" in n for n in plan.notes)
    assert [p.device.index for p in plan] == [k % 2 for k in range(12)]


def test_parse_device_list():
    assert parse_device_list("cuda:0, cuda:2 ,cpu", 4) == [
        Device("cuda", 0),
        Device("cuda", 2),
        CPU,
    ]
    assert parse_device_list("gpu", 2) == [Device("cuda", 0), Device("cuda", 1)]
    assert parse_device_list("1,rocm:0,1", 2) == [Device("cuda", 1), Device("cuda", 0)]
    assert parse_device_list("cuda:5,tpu", 2) == []


def test_default_device_comes_from_plan(monkeypatch):
    monkeypatch.setattr(plan_mod, "get_hardware_info", lambda: make_info("cuda", 4))
    monkeypatch.setattr(caps_mod, "get_hardware_info", lambda: make_info("cuda", 4))
    assert devices.default_device() == torch.device("cuda", 0)
    monkeypatch.setenv("HYPERPHYSICS_DEVICES", "cuda:3,cuda:1")
    assert devices.default_device() == torch.device("cuda", 3)
    monkeypatch.setenv("HYPERPHYSICS_DEVICES", "cpu")
    assert devices.resolve_device(None) == torch.device("cpu")
    assert devices.resolve_device("auto") == torch.device("cpu")


# -- thread budget ---------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    n_tasks=st.integers(0, 64),
    usable=st.integers(1, 512),
    max_workers=st.none() | st.integers(1, 64),
)
def test_thread_budget_never_exceeds_usable_cores(n_tasks, usable, max_workers):
    workers, threads = thread_budget(n_tasks, usable, max_workers)
    assert workers >= 1 and threads >= 1
    assert workers * threads <= usable
    if max_workers is not None:
        assert workers <= max_workers


@settings(max_examples=50, deadline=None)
@given(n_tasks=st.integers(1, 30), usable=st.integers(1, 300), n_gpus=st.integers(0, 8))
def test_plan_budget_property(n_tasks, usable, n_gpus):
    tasks = [LIBS[i % 12] for i in range(n_tasks)]
    plan = DevicePlan.build(
        tasks, info=make_info("cuda", n_gpus, usable=usable), capabilities=all_gpu_caps(n_gpus)
    )
    assert plan.workers * plan.threads_per_worker <= usable
    assert all(p.threads == plan.threads_per_worker for p in plan)
    for k, p in enumerate(plan):
        assert p.device == (Device("cuda", k % n_gpus) if n_gpus else CPU)


def test_unknown_library_rejected():
    with pytest.raises(ValueError, match="unknown library"):
        DevicePlan.build(["sklearn"], info=make_info("cpu"), capabilities={})


# -- library parameters ----------------------------------------------------------------


def test_params_for_gpu_placement():
    plan = DevicePlan.build(
        ["lightgbm", "xgboost", "catboost", "torch"],
        info=make_info("cuda", 8, usable=16),
        capabilities=all_gpu_caps(8),
    )
    t = plan.threads_per_worker
    assert t == 4
    assert lightgbm_params(plan[0]) == {"device_type": "cuda", "gpu_device_id": 0, "num_threads": t}
    assert xgboost_params(plan[1]) == {"device": "cuda:1", "nthread": t}
    assert catboost_params(plan[2]) == {"task_type": "GPU", "devices": "2", "thread_count": t}
    assert torch_device(plan[3]) == torch.device("cuda", 3)
    assert plan[3].params() == {"device": torch.device("cuda", 3), "num_threads": t}


# -- batch size ------------------------------------------------------------------------


def test_batch_size_power_of_two_with_margin():
    # 1 GiB free, 25 % margin -> 768 MiB budget; 1 MiB per sample -> 768 -> 512
    assert get_optimal_batch_size(2**20, "cpu", free_bytes=GIB) == 512
    assert get_optimal_batch_size(2**20, "cpu", free_bytes=GIB, safety_margin=0.0) == 1024
    assert get_optimal_batch_size(1, "cpu", free_bytes=GIB, max_batch=4096) == 4096
    assert get_optimal_batch_size(GIB, "cpu", free_bytes=GIB, min_batch=8) == 8
    assert get_optimal_batch_size(2**20, "cpu", free_bytes=GIB, reserved_bytes=GIB) == 8
    with pytest.raises(ValueError):
        get_optimal_batch_size(0, "cpu")


def test_batch_size_reads_device_memory(monkeypatch):
    monkeypatch.setattr(batch_mod, "free_memory_bytes", lambda device: 10 * GIB)
    assert get_optimal_batch_size(2**20, "cpu", max_batch=2**20) == 4096
    monkeypatch.setattr(batch_mod, "free_memory_bytes", lambda device: None)
    assert get_optimal_batch_size(2**20, "cpu", min_batch=32) == 32


def test_free_memory_cuda_and_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda i: ((i + 1) * GIB, 80 * GIB))
    assert batch_mod.free_memory_bytes("cuda:1") == 2 * GIB
    assert get_optimal_batch_size(2**20, "cuda:1") == 1024  # 2 GiB * 0.75 = 1536 MiB
    monkeypatch.setattr("hyperphysics_strategy.engine.batch.ram_bytes", lambda: (8 * GIB, 4 * GIB))
    assert batch_mod.free_memory_bytes("cpu") == 4 * GIB


# -- summary ---------------------------------------------------------------------------


def test_log_summary_logs_once(monkeypatch, caplog):
    info = make_info("cuda", 2)
    caps = all_gpu_caps(2)
    monkeypatch.setattr(summary_mod, "probe_capabilities", lambda info: caps)
    monkeypatch.setattr(summary_mod, "_logged", False)
    plan = plan_experts(info=info, capabilities=caps)
    logger = logging.getLogger("test.hardware")
    with caplog.at_level(logging.INFO, logger="test.hardware"):
        assert log_summary(logger, info=info, plan=plan) is True
        assert log_summary(logger, info=info, plan=plan) is False
    text = caplog.text
    assert "GPU backend: cuda" in text and "gpu 1: GPU 1" in text and "Plan: 12 task(s)" in text
    lines = summary_lines(info, plan)
    assert any("mlp->cuda:0" in line for line in lines)
