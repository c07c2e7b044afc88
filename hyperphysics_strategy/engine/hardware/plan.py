"""``DevicePlan``: where each task (expert) runs and with how many CPU threads.

Task ``i`` goes to ``pool[i mod len(pool)]``, ``pool`` being the accelerators its library
can use here (or those of ``HYPERPHYSICS_DEVICES`` it can use); with an empty pool it runs
on CPU, and the placement says why. ``workers`` tasks run at once, each with
``threads_per_worker`` CPU threads, and ``workers * threads_per_worker <= usable cores``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from .capabilities import LIBRARIES, LibraryCapability, probe_library
from .device import CPU, ENV_DEVICES, Device, parse_device_list
from .experts import DEFAULT_EXPERTS, TaskSpec
from .info import HardwareInfo, get_hardware_info

logger = logging.getLogger(__name__)

_ALIASES = {"pytorch": "torch", "lgbm": "lightgbm", "xgb": "xgboost", "cb": "catboost"}

TaskLike = TaskSpec | tuple[str, str] | str


@dataclass(frozen=True)
class Placement:
    """One task's device and thread budget; ``params()`` gives its library's settings."""

    index: int
    task: str
    library: str
    device: Device
    threads: int
    reason: str
    device_type: str | None = None  # LightGBM on GPU: "cuda" or "gpu" (OpenCL)
    #: The same task on each device its library may use here, in round-robin order; empty
    #: when there is only one. A scheduler that numbers the jobs of a whole training round
    #: puts job ``k`` on ``pool[k mod len(pool)]``.
    pool: tuple[Placement, ...] = ()

    @property
    def on_gpu(self) -> bool:
        return self.device.is_gpu

    @property
    def torch_device(self) -> torch.device:
        return self.device.torch()

    def params(self) -> dict[str, Any]:
        from .params import library_params

        return library_params(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "task": self.task,
            "library": self.library,
            "device": str(self.device),
            "threads": self.threads,
            "reason": self.reason,
            "device_type": self.device_type,
        }


def _as_task(item: TaskLike) -> TaskSpec:
    if isinstance(item, TaskSpec):
        spec = item
    elif isinstance(item, str):
        spec = TaskSpec(item, item)
    else:
        name, library = item
        spec = TaskSpec(str(name), str(library))
    library = _ALIASES.get(spec.library.lower(), spec.library.lower())
    if library not in LIBRARIES:
        raise ValueError(f"task {spec.name!r}: unknown library {spec.library!r}")
    return TaskSpec(spec.name, library)


def thread_budget(
    n_tasks: int, usable_cores: int, max_workers: int | None = None
) -> tuple[int, int]:
    """(workers, threads per worker) with ``workers * threads <= usable_cores``."""
    usable = max(1, usable_cores)
    workers = min(max(1, n_tasks), usable)
    if max_workers is not None:
        workers = max(1, min(workers, max_workers))
    return workers, max(1, usable // workers)


def _on(
    device: Device, i: int, spec: TaskSpec, threads: int, cap: LibraryCapability, pool_size: int
) -> Placement:
    """Task ``i`` placed on ``device``, one of the ``pool_size`` its library may use."""
    if device == CPU:
        reason = f"{ENV_DEVICES} includes cpu"
    else:
        reason = f"round-robin over {pool_size} device(s): {cap.reason}"
    return Placement(
        index=i,
        task=spec.name,
        library=spec.library,
        device=device,
        threads=threads,
        reason=reason,
        device_type=cap.device_type if device.type == "cuda" else None,
    )


@dataclass(frozen=True)
class DevicePlan:
    placements: tuple[Placement, ...]
    workers: int
    threads_per_worker: int
    usable_cores: int
    backend: str
    override: str | None = None
    notes: tuple[str, ...] = ()

    def __iter__(self) -> Iterator[Placement]:
        return iter(self.placements)

    def __len__(self) -> int:
        return len(self.placements)

    def __getitem__(self, index: int) -> Placement:
        return self.placements[index]

    def for_task(self, name: str) -> Placement:
        for p in self.placements:
            if p.task == name:
                return p
        raise KeyError(name)

    @property
    def devices(self) -> tuple[Device, ...]:
        """The distinct devices the plan uses, in first-use order."""
        seen: list[Device] = []
        for p in self.placements:
            if p.device not in seen:
                seen.append(p.device)
        return tuple(seen)

    def to_dict(self) -> dict[str, Any]:
        return {
            "workers": self.workers,
            "threads_per_worker": self.threads_per_worker,
            "usable_cores": self.usable_cores,
            "backend": self.backend,
            "override": self.override,
            "notes": list(self.notes),
            "placements": [p.to_dict() for p in self.placements],
        }

    @classmethod
    def build(
        cls,
        tasks: Iterable[TaskLike] = DEFAULT_EXPERTS,
        *,
        info: HardwareInfo | None = None,
        capabilities: Mapping[str, LibraryCapability] | None = None,
        max_workers: int | None = None,
        devices: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> DevicePlan:
        """Place ``tasks`` (default: the ensemble's experts) on this machine.

        ``devices`` overrides the choice like ``HYPERPHYSICS_DEVICES`` (read from ``env``,
        default ``os.environ``, when ``devices`` is None). ``capabilities`` maps a library to
        its :class:`LibraryCapability`; missing ones are probed (cached per process).
        """
        specs = [_as_task(t) for t in tasks]
        info = info or get_hardware_info()
        env = os.environ if env is None else env
        caps: dict[str, LibraryCapability] = dict(capabilities or {})
        for lib in {s.library for s in specs}:
            if lib not in caps:
                caps[lib] = probe_library(lib, info)

        notes: list[str] = []
        text = devices if devices is not None else env.get(ENV_DEVICES)
        override: list[Device] | None = None
        if text is not None and text.strip():
            override = parse_device_list(text, info.gpu_count)
            if not override:
                notes.append(f"{ENV_DEVICES}={text!r} names no usable device; ignored")
                override = None
            else:
                notes.append(f"{ENV_DEVICES}={text.strip()!r}")

        workers, threads = thread_budget(len(specs), info.cpu.usable_cores, max_workers)
        placements: list[Placement] = []
        for i, spec in enumerate(specs):
            cap = caps[spec.library]
            if override is None:
                pool = list(cap.devices)
                why_cpu = cap.reason
            else:
                pool = [d for d in override if d == CPU or d in cap.devices]
                why_cpu = f"{ENV_DEVICES} lists no device {spec.library} can use ({cap.reason})"
                if override == [CPU]:
                    why_cpu = f"{ENV_DEVICES}=cpu"
            if pool:
                alternatives = (
                    tuple(_on(d, i, spec, threads, cap, len(pool)) for d in pool)
                    if len(pool) > 1
                    else ()
                )
                chosen = _on(pool[i % len(pool)], i, spec, threads, cap, len(pool))
                placements.append(dataclasses.replace(chosen, pool=alternatives))
            else:
                placements.append(
                    Placement(i, spec.name, spec.library, CPU, threads, why_cpu or "no accelerator")
                )
        return cls(
            placements=tuple(placements),
            workers=workers,
            threads_per_worker=threads,
            usable_cores=info.cpu.usable_cores,
            backend=info.backend,
            override=text.strip() if override is not None and text else None,
            notes=tuple(notes),
        )


def default_torch_device(info: HardwareInfo | None = None) -> torch.device:
    """Where torch work goes by default here (``HYPERPHYSICS_DEVICES`` honoured)."""
    plan = DevicePlan.build([TaskSpec("default", "torch")], info=info)
    return plan.placements[0].torch_device
