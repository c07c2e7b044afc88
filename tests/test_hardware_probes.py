"""Hardware probes degrade instead of crashing or hanging; LightGBM's GPU trial trusts only
a run on the GPU vendor's device.
"""

from __future__ import annotations

import sys
import threading
import time

from hyperphysics_strategy.engine.hardware import capabilities as caps_mod
from hyperphysics_strategy.engine.hardware.probe import run_command, run_probe
from tests.fake_gpu_drivers import isolated  # noqa: F401 (autouse: no real drivers here)

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
