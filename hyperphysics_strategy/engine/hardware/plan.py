"""``DevicePlan``: where each task runs and with how many CPU threads.

A task is a library name ("lightgbm", "xgboost", "catboost", "torch"); the caller may
label each (an expert's name, say); the plan knows nothing else about it. Task ``i`` goes
to ``pool[i mod len(pool)]``, ``pool`` being the accelerators its library
can use here (or those of ``HYPERPHYSICS_DEVICES`` it can use); with an empty pool it runs
on CPU, and the placement says why. ``workers`` tasks run at once, each with
``threads_per_worker`` CPU threads, and ``workers * threads_per_worker <= usable cores``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from .capabilities import LIBRARIES, LibraryCapability, probe_library
from .device import CPU, ENV_DEVICES, Device, parse_device_list
from .info import HardwareInfo, get_hardware_info
from .placement import Placement

logger = logging.getLogger(__name__)

_ALIASES = {"pytorch": "torch", "lgbm": "lightgbm", "xgb": "xgboost", "cb": "catboost"}


def _library(name: str) -> str:
    library = _ALIASES.get(str(name).lower(), str(name).lower())
    if library not in LIBRARIES:
        raise ValueError(f"unknown library {name!r} (known: {', '.join(LIBRARIES)})")
    return library


def thread_budget(
    n_tasks: int, usable_cores: int, max_workers: int | None = None
) -> tuple[int, int]:
    """(workers, threads per worker) with ``workers * threads <= usable_cores``."""
    usable = max(1, usable_cores)
    workers = min(max(1, n_tasks), usable)
    if max_workers is not None:
        workers = max(1, min(workers, max_workers))
    return workers, max(1, usable // workers)


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
        libraries: Sequence[str],
        *,
        names: Sequence[str] | None = None,
        info: HardwareInfo | None = None,
        capabilities: Mapping[str, LibraryCapability] | None = None,
        max_workers: int | None = None,
        devices: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> DevicePlan:
        """Place one task per entry of ``libraries`` on this machine.

        ``names`` labels the tasks (``Placement.task``, :meth:`for_task`, the summary);
        by default each task is labelled with its library.

        ``devices`` overrides the choice like ``HYPERPHYSICS_DEVICES`` (read from ``env``,
        default ``os.environ``, when ``devices`` is None). ``capabilities`` maps a library to
        its :class:`LibraryCapability`; missing ones are probed (cached per process).
        """
        libs = [_library(lib) for lib in libraries]
        labels = list(libs) if names is None else [str(n) for n in names]
        if len(labels) != len(libs):
            raise ValueError(f"{len(libs)} libraries but {len(labels)} names")
        info = info or get_hardware_info()
        env = os.environ if env is None else env
        caps: dict[str, LibraryCapability] = dict(capabilities or {})
        for lib in set(libs):
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

        workers, threads = thread_budget(len(libs), info.cpu.usable_cores, max_workers)
        placements: list[Placement] = []
        for i, (library, label) in enumerate(zip(libs, labels, strict=True)):
            cap = caps[library]
            if override is None:
                pool = list(cap.devices)
                why_cpu = cap.reason
            else:
                pool = [d for d in override if d == CPU or d in cap.devices]
                why_cpu = f"{ENV_DEVICES} lists no device {library} can use ({cap.reason})"
                if override == [CPU]:
                    why_cpu = f"{ENV_DEVICES}=cpu"
            if not pool:
                placements.append(
                    Placement(library, CPU, threads, why_cpu or "no accelerator", None, label, i)
                )
                continue
            on = [
                Placement(
                    library=library,
                    device=device,
                    threads=threads,
                    reason=f"{ENV_DEVICES} includes cpu"
                    if device == CPU
                    else f"round-robin over {len(pool)} device(s): {cap.reason}",
                    device_type=cap.device_type if device.type == "cuda" else None,
                    task=label,
                    index=i,
                )
                for device in pool
            ]
            chosen = on[i % len(on)]
            placements.append(dataclasses.replace(chosen, pool=tuple(on) if len(on) > 1 else ()))
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
    plan = DevicePlan.build(["torch"], info=info)
    return plan.placements[0].torch_device
