"""The scheduler's executors for parametrized tests: ``thread`` (the local executor, every
expert in its lane's thread), ``process`` (the local executor, every expert in its lane's
worker process) and ``ray`` (a Ray task on the session's loopback cluster, ``ray_cluster``
in conftest: 8 logical GPUs, 4 CPUs). Use ``kind`` as a fixture argument, narrowed with
``@pytest.mark.parametrize("kind", [...], indirect=True)`` where a test needs it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from hyperphysics_strategy.ensemble.scheduling import (
    RayExecutor,
    RoundScheduler,
    train_experts,
)
from tests.conftest import SHARED_SESSION_FIXTURES


def kind_params(*names: str) -> list:
    """``names`` as parameters of the ``kind`` fixture: a ``ray`` one joins the xdist group
    of the session's Ray cluster (conftest groups by the fixtures a test names, and
    ``kind`` asks for ``ray_cluster`` only when it is ``ray``)."""
    group = pytest.mark.xdist_group(SHARED_SESSION_FIXTURES["ray_cluster"])
    return [pytest.param(n, marks=group) if n == "ray" else n for n in names]


KINDS = kind_params("thread", "process", "ray")


@dataclass(frozen=True)
class Kind:
    """One executor: how to make its scheduler and how to submit to it."""

    name: str

    @property
    def backend(self) -> str:
        return "ray" if self.name == "ray" else "local"

    @property
    def use_processes(self) -> bool | None:
        return {"thread": False, "process": True}.get(self.name)

    def scheduler(self, cpu_budget: int | None = None, **options: Any) -> RoundScheduler:
        if self.name == "ray":
            options.pop("worker_cache", None)
            return RoundScheduler(executor=RayExecutor(cpu_budget), **options)
        return RoundScheduler(cpu_budget, **options)

    def train(self, *args: Any, **kwargs: Any) -> list:
        """``train_experts`` on this executor's backend and worker kind."""
        kwargs.setdefault("use_processes", self.use_processes)
        return train_experts(*args, backend=self.backend, **kwargs)

    def gpu_lane(self, index: int) -> str:
        """The lane that trains job ``k`` with ``k mod G == index``."""
        return f"bundle {index}" if self.name == "ray" else f"cuda:{index}"

    def device_seen(self, device: str) -> str:
        """The device an expert trained on ``device`` sees (a Ray task sees its one GPU
        as device 0)."""
        return "cuda:0" if self.name == "ray" and device.startswith("cuda") else device


def executor_kind(request: pytest.FixtureRequest) -> Kind:
    """The body of a ``kind`` fixture parametrized over :data:`KINDS`."""
    if request.param == "ray":
        request.getfixturevalue("ray_cluster")
    return Kind(request.param)
