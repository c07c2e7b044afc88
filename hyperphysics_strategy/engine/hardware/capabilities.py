"""Which accelerators each library can use here, probed once per process.

* torch: its build (CUDA, ROCm, CPU) and the GPUs it sees, or MPS.
* XGBoost: ``xgboost.build_info()`` (``USE_CUDA``; ``USE_HIP`` for ROCm source builds).
* LightGBM: a tiny training run with ``device_type="cuda"`` then ``"gpu"`` (OpenCL), each in
  a subprocess with a timeout, since a broken GPU runtime can hang or crash the process.
  An OpenCL trial counts only when the device LightGBM reports is the GPU vendor's: a CPU
  OpenCL runtime (pocl, say) passes the trial too, on the CPU, more slowly than LightGBM's
  own CPU learner (seen on an H200 machine whose only OpenCL runtime was pocl).
* CatBoost: ``catboost.utils.get_gpu_device_count()`` (CUDA only; no ROCm support).
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import Any

from .device import MPS, Device
from .info import HardwareInfo, get_hardware_info
from .probe import run_probe

logger = logging.getLogger(__name__)

LIBRARIES = ("lightgbm", "xgboost", "catboost", "torch")
LIGHTGBM_TRIAL_TIMEOUT_S = 60.0
CATBOOST_PROBE_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class LibraryCapability:
    """What one library can run on here. ``devices`` are accelerators (never CPU)."""

    library: str
    installed: bool
    version: str | None
    devices: tuple[Device, ...]
    reason: str
    device_type: str | None = None  # LightGBM only: "cuda" or "gpu" (OpenCL)

    @property
    def gpu(self) -> bool:
        return bool(self.devices)

    def to_dict(self) -> dict[str, Any]:
        return {
            "library": self.library,
            "installed": self.installed,
            "version": self.version,
            "devices": [str(d) for d in self.devices],
            "reason": self.reason,
            "device_type": self.device_type,
        }


def _gpu_devices(info: HardwareInfo, *, torch_only: bool = False) -> tuple[Device, ...]:
    return tuple(Device("cuda", g.ordinal) for g in info.gpus if g.torch_visible or not torch_only)


def _import(name: str) -> Any | None:
    return run_probe(f"import {name}", lambda: __import__(name), timeout=None, default=None)


def _missing(library: str) -> LibraryCapability:
    return LibraryCapability(library, False, None, (), f"{library} is not installed")


def _no_gpu_reason(info: HardwareInfo) -> str:
    return "no GPU on this machine" if info.backend in ("cpu", "mps") else ""


def probe_torch(info: HardwareInfo) -> LibraryCapability:
    import torch

    version = str(torch.__version__)
    if info.torch_backend in ("cuda", "rocm"):
        devs = _gpu_devices(info, torch_only=True)
        label = "ROCm/HIP " + str(info.hip_version) if info.torch_backend == "rocm" else "CUDA"
        if info.torch_backend == "cuda":
            label += f" {info.cuda_version}"
        return LibraryCapability("torch", True, version, devs, f"{label}, {len(devs)} GPU(s)")
    if info.torch_backend == "mps":
        return LibraryCapability("torch", True, version, (MPS,), "Apple MPS")
    if info.backend in ("cuda", "rocm"):
        why = (
            f"torch is a {info.torch_build} build and cannot use the {info.backend} GPUs; "
            f"install a {info.backend} build of torch"
        )
    elif info.torch_build != "cpu":
        why = f"torch {info.torch_build} build but no usable GPU (driver missing or too old?)"
    else:
        why = "no GPU on this machine"
    return LibraryCapability("torch", True, version, (), why)


def probe_xgboost(info: HardwareInfo) -> LibraryCapability:
    xgb = _import("xgboost")
    if xgb is None:
        return _missing("xgboost")
    version = str(getattr(xgb, "__version__", "?"))
    build = run_probe("xgboost.build_info", xgb.build_info, timeout=None, default={}) or {}
    if info.backend == "cuda":
        if build.get("USE_CUDA"):
            cuda = build.get("CUDA_VERSION")
            cv = ".".join(str(p) for p in cuda) if isinstance(cuda, list | tuple) else cuda
            devs = _gpu_devices(info)
            return LibraryCapability("xgboost", True, version, devs, f"built with CUDA {cv}")
        return LibraryCapability(
            "xgboost", True, version, (), "this xgboost build has no CUDA support"
        )
    if info.backend == "rocm":
        if build.get("USE_HIP") or build.get("USE_ROCM"):
            devs = _gpu_devices(info)
            return LibraryCapability("xgboost", True, version, devs, "built with ROCm (HIP)")
        return LibraryCapability(
            "xgboost",
            True,
            version,
            (),
            "xgboost from PyPI has no ROCm support: its experts run on CPU",
        )
    tag = "CUDA" if build.get("USE_CUDA") else "CPU-only"
    why = _no_gpu_reason(info) or "no GPU"
    return LibraryCapability("xgboost", True, version, (), f"{why} (xgboost build: {tag})")


def probe_catboost(info: HardwareInfo) -> LibraryCapability:
    cb = _import("catboost")
    if cb is None:
        return _missing("catboost")
    version = str(getattr(cb, "__version__", "?"))
    if info.backend == "rocm":
        return LibraryCapability(
            "catboost", True, version, (), "CatBoost has no ROCm support: its experts run on CPU"
        )
    if info.backend != "cuda":
        return LibraryCapability("catboost", True, version, (), _no_gpu_reason(info) or "no GPU")

    def count() -> int:
        from catboost.utils import get_gpu_device_count

        return int(get_gpu_device_count())

    n = run_probe("catboost gpu count", count, timeout=CATBOOST_PROBE_TIMEOUT_S, default=0)
    devs = tuple(d for d in _gpu_devices(info) if d.index is not None and d.index < n)
    if not devs:
        return LibraryCapability(
            "catboost", True, version, (), "catboost sees no CUDA GPU (CPU-only build or driver)"
        )
    return LibraryCapability("catboost", True, version, devs, f"{n} CUDA GPU(s)")


LIGHTGBM_TRIAL = """
import json, sys
import numpy as np
import lightgbm as lgb
rng = np.random.default_rng(0)
X = rng.random((512, 4))
y = (X[:, 0] > 0.5).astype(float)
params = {"objective": "binary", "device_type": sys.argv[1], "gpu_device_id": 0,
          "num_iterations": 2, "num_threads": 1, "verbose": 1}
lgb.train(params, lgb.Dataset(X, y))
print(json.dumps({"ok": True}))
"""


#: LightGBM's log line naming the OpenCL device it trains on (``gpu_tree_learner.cpp``).
OPENCL_DEVICE_LINE = re.compile(r"Using GPU Device: (?P<name>.*), Vendor: (?P<vendor>.*)")
#: OpenCL vendor strings of the GPUs of each backend. A CPU runtime reports the CPU's
#: vendor ("AuthenticAMD", "GenuineIntel"), never these.
GPU_OPENCL_VENDORS = {"cuda": ("nvidia",), "rocm": ("advanced micro devices",)}


def opencl_device_problem(log: str, backend: str) -> str | None:
    """Why the OpenCL device in LightGBM's ``log`` is not this machine's GPU; None if it is."""
    found = OPENCL_DEVICE_LINE.search(log)
    if found is None:
        return "LightGBM did not say which OpenCL device it used"
    name, vendor = found["name"].strip(), found["vendor"].strip()
    if any(v in vendor.lower() for v in GPU_OPENCL_VENDORS.get(backend, ())):
        return None
    return (
        f"OpenCL runs on {name!r} (vendor {vendor!r}), not on the GPU: install the GPU "
        "vendor's OpenCL driver (an ICD file in /etc/OpenCL/vendors)"
    )


def lightgbm_trial(
    device_type: str,
    *,
    timeout: float = LIGHTGBM_TRIAL_TIMEOUT_S,
    script: str = LIGHTGBM_TRIAL,
    backend: str = "cuda",
) -> tuple[bool, str]:
    """Train a tiny LightGBM model on ``device_type`` in a subprocess: (works, detail).

    An OpenCL (``"gpu"``) trial works only if it ran on ``backend``'s GPU vendor's device.
    """
    try:
        done = subprocess.run(
            [sys.executable, "-c", script, device_type],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        logger.debug("lightgbm %s trial timed out after %.0f s", device_type, timeout)
        return False, f"trial timed out after {timeout:.0f} s"
    except OSError as exc:
        return False, f"trial could not start: {exc}"
    if done.returncode == 0 and '"ok": true' in done.stdout:
        if device_type != "gpu":
            return True, "trial passed"
        problem = opencl_device_problem(done.stdout, backend)
        if problem is not None:
            logger.debug("lightgbm gpu trial ran on a non-GPU device: %s", problem)
            return False, problem
        found = OPENCL_DEVICE_LINE.search(done.stdout)
        assert found is not None  # opencl_device_problem found it
        return True, f"trial passed on {found['name'].strip()} ({found['vendor'].strip()})"
    lines = (done.stderr or done.stdout).strip().splitlines()
    detail = lines[-1] if lines else f"exit code {done.returncode}"
    logger.debug("lightgbm %s trial failed: %s", device_type, detail)
    return False, detail[:200]


def probe_lightgbm(info: HardwareInfo) -> LibraryCapability:
    lgbm = _import("lightgbm")
    if lgbm is None:
        return _missing("lightgbm")
    version = str(getattr(lgbm, "__version__", "?"))
    if info.backend not in ("cuda", "rocm"):
        return LibraryCapability("lightgbm", True, version, (), _no_gpu_reason(info) or "no GPU")
    failures: list[str] = []
    for device_type in ("cuda", "gpu"):
        ok, detail = lightgbm_trial(device_type, backend=info.backend)
        if ok:
            label = "CUDA" if device_type == "cuda" else "OpenCL"
            return LibraryCapability(
                "lightgbm",
                True,
                version,
                _gpu_devices(info),
                f"device_type={device_type!r} ({label}) {detail}",
                device_type=device_type,
            )
        failures.append(f"{device_type}: {detail}")
    return LibraryCapability(
        "lightgbm", True, version, (), "no GPU trial passed (" + "; ".join(failures) + ")"
    )


_PROBES = {
    "torch": probe_torch,
    "xgboost": probe_xgboost,
    "catboost": probe_catboost,
    "lightgbm": probe_lightgbm,
}
_lock = threading.Lock()
_cache: dict[tuple[Any, ...], LibraryCapability] = {}


def _key(library: str, info: HardwareInfo) -> tuple[Any, ...]:
    gpus = tuple((g.ordinal, g.uuid, g.torch_visible) for g in info.gpus)
    return (library, info.backend, info.torch_backend, gpus)


def probe_library(library: str, info: HardwareInfo | None = None) -> LibraryCapability:
    """The capability of ``library`` on ``info`` (default: this machine); cached per process."""
    if library not in _PROBES:
        raise ValueError(f"unknown library {library!r}; expected one of {LIBRARIES}")
    info = info or get_hardware_info()
    key = _key(library, info)
    with _lock:
        if key in _cache:
            return _cache[key]
    try:
        cap = _PROBES[library](info)
    except Exception as exc:  # a probe must never crash the caller
        logger.debug("capability probe %s failed: %s", library, exc)
        cap = LibraryCapability(library, True, None, (), f"probe failed: {exc}")
    with _lock:
        _cache[key] = cap
    return cap


def probe_capabilities(
    info: HardwareInfo | None = None, libraries: tuple[str, ...] = LIBRARIES
) -> dict[str, LibraryCapability]:
    info = info or get_hardware_info()
    return {lib: probe_library(lib, info) for lib in libraries}


def clear_capability_cache() -> None:
    with _lock:
        _cache.clear()
