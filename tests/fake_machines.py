"""Simulated machines for the device-plan tests: ``HardwareInfo`` records built directly
and library capabilities that claim every GPU, so no test needs a GPU."""

from __future__ import annotations

from hyperphysics_strategy.engine.hardware import (
    CpuInfo,
    Device,
    GpuInfo,
    HardwareInfo,
    LibraryCapability,
)

GIB = 1024**3


def make_info(
    backend: str = "cuda", n_gpus: int = 0, usable: int = 7, *, torch_visible: bool = True
) -> HardwareInfo:
    vendor = "amd" if backend == "rocm" else "nvidia"
    gpus = tuple(
        GpuInfo(
            ordinal=i,
            vendor=vendor,
            name=f"GPU {i}",
            total_memory=80 * GIB,
            free_memory=70 * GIB,
            compute_capability="9.0" if vendor == "nvidia" else None,
            gfx_arch="gfx942" if vendor == "amd" else None,
            torch_visible=torch_visible,
        )
        for i in range(n_gpus)
    )
    cpu = CpuInfo("Test CPU", usable + 1, usable + 1, None, usable + 1, usable, 64 * GIB, 60 * GIB)
    real_backend = backend if gpus else "cpu"
    return HardwareInfo(
        os="Linux",
        python="3.11",
        cpu=cpu,
        backend=real_backend,
        torch_backend=real_backend if torch_visible else "cpu",
        torch_version="2.13.0",
        torch_build=backend if backend in ("cuda", "rocm") else "cpu",
        cuda_version="12.8" if backend == "cuda" else None,
        hip_version="6.4" if backend == "rocm" else None,
        gpus=gpus,
    )


def all_gpu_caps(n: int) -> dict[str, LibraryCapability]:
    devs = tuple(Device("cuda", i) for i in range(n))
    return {
        lib: LibraryCapability(
            lib, True, "1", devs, "test", device_type="cuda" if lib == "lightgbm" else None
        )
        for lib in ("lightgbm", "xgboost", "catboost", "torch")
    }
