"""The executor of the ``ray`` backend: each expert job is a Ray task on a Ray cluster.

Same scheduling core as the local backend (:mod:`.core`: queue, round-robin, longest
first, CPU budget, cancellation); this module runs a job as a Ray task. Optional: Ray is
imported only here and in :mod:`.ray_cluster`, and only when this backend is used
(``pip install "ray>=2.40"``, the ``[ray]`` extra).

* **Connection.** An existing ``ray.init`` of this process is used as it is. Otherwise
  :func:`~.ray_cluster.connect` joins the cluster at the configured address
  (``hyperphysics.cluster.address`` in the freqtrade config), else at ``RAY_ADDRESS``,
  else starts a one-machine Ray bound to 127.0.0.1.
* **Data.** A batch's training set (:class:`~..experts.FitData`) goes into Ray's object
  store once (``ray.put``); every job of the batch receives the same reference.
* **GPU lanes are placement-group bundles** ``{"GPU": 1, "CPU": c}``: one per cluster GPU
  (outside a round at most one per GPU job of the batch that reserves them), and GPU job
  ``k`` of the round goes to bundle ``k mod G``. Ray gives the task exactly the bundle's GPU in
  ``CUDA_VISIBLE_DEVICES``; inside the task the expert trains on ``cuda:0``. A bundle lane
  closes once nothing is queued for it; the group is given back with the last one, so
  its CPUs go to the CPU jobs.
* **CPU jobs** are tasks asking for ``num_cpus`` = the placement's threads (capped at the
  largest node); they share the cluster's CPUs outside the bundles. ``max_workers`` is
  left to the cluster's resources.
* **Failures** are per job: :func:`~.outcome.fit_with_fallback` runs inside the task (the
  CPU retry after an out-of-memory error); a job past ``timeout`` seconds is cancelled.
* **Lost nodes.** A CPU task whose node dies is retried by Ray on another node
  (``max_retries``), then by the core. A bundle whose node dies is a lost lane
  (:class:`~.executor.JobLost`): the job it was running and those queued behind it move to
  the surviving bundles (or, with no GPU left, to the CPU), so every model comes back.

Where each job of the last batch ran (node, its ``CUDA_VISIBLE_DEVICES``, bundle) is kept
in the cluster's key-value store (:func:`~.ray_cluster.last_round`); ``hyperphysics
cluster status`` shows it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from ..experts import Expert, FitData, Placement
from .batch import BatchState, Job
from .executor import CPU_LANES, JobLost, round_robin
from .outcome import (
    TrainingOutcome,
    captured_log,
    cpu_placement,
    fit_with_fallback,
    replay_log,
    timed_out,
)
from .ray_cluster import (
    alive_nodes,
    bundle_cpus,
    connect,
    import_ray,
    reserve_bundles,
    store_round,
    system_errors,
)

logger = logging.getLogger(__name__)

#: Times one job is started again after its worker or node was lost.
MAX_RESUBMITS = 3
#: Ray's own retries of a CPU task whose worker or node died.
CPU_TASK_RETRIES = 3
_POLL_SECONDS = 0.2
_NODE_CHECK_SECONDS = 1.0
_VISIBILITY = ("CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES")


# -- inside the task --------------------------------------------------------------------
def _fit_task(expert: Expert, data: FitData, placement: Placement, gpu: bool) -> tuple:
    """Body of one Ray task: fit, with the CPU retry after an out-of-memory error."""
    import ray

    from hyperphysics_strategy.engine.hardware import Device

    hidden = {} if gpu else _hide_gpus()  # Ray leaves a CPU task every GPU of its node
    where = {
        "node_id": ray.get_runtime_context().get_node_id(),
        "node_ip": ray.util.get_node_ip_address(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "pid": os.getpid(),
    }
    # Ray shows a GPU task its one GPU as device 0
    here = dataclasses.replace(placement, device=Device("cuda", 0), pool=()) if gpu else placement
    try:
        with captured_log() as lines:
            seconds, error, device, retried = fit_with_fallback(expert, data, here)
    finally:
        os.environ.update({k: v for k, v in hidden.items() if v is not None})
        for k in [k for k, v in hidden.items() if v is None]:
            os.environ.pop(k, None)
    return expert, seconds, error, device, retried, lines, where


def _hide_gpus() -> dict[str, str | None]:
    """Hide every GPU from this process (a CPU job); returns the previous values."""
    before = {k: os.environ.get(k) for k in _VISIBILITY}
    for k in _VISIBILITY:
        os.environ[k] = ""
    return before


# -- driver side ------------------------------------------------------------------------
@dataclass(frozen=True)
class RayLane:
    """A lane's resources: a bundle of the placement group, or none (a CPU lane)."""

    name: str
    bundle: int | None


class RayExecutor:
    """Ray tasks on a Ray cluster (see the module's docstring). ``cpu_budget``: CPUs of
    the cluster the CPU jobs may hold at once (default: all outside the bundles)."""

    backend = "ray"
    max_resubmits = MAX_RESUBMITS
    keeps_lanes_in_round = False

    def __init__(self, cpu_budget: int | None = None) -> None:
        if cpu_budget is not None and cpu_budget < 1:
            raise ValueError(f"cpu_budget must be >= 1, got {cpu_budget}")
        self.cpu_budget = cpu_budget
        self._lock = threading.Lock()
        self._remote: Any = None
        self._nodes: list[dict[str, Any]] = []
        self._group: Any = None  # the placement group while bundle lanes use it
        self._bundles = 0  # G: bundles of the group (reserved or to reserve)
        self._threads = 1  # the threads a bundle is sized for
        self._reserved_cpus = 0.0
        self._bundle_nodes: dict[int, str] = {}
        self._alive: list[int] = []  # bundles whose node is alive
        self._open = 0  # open bundle lanes
        self._data: dict[int, Any] = {}  # batch id -> object reference of its data
        self._started: dict[int, float] = {}
        self._where: dict[tuple[int, int], dict[str, Any]] = {}

    # -- the core's questions ------------------------------------------------------------
    def prepare(self, batch: BatchState) -> list[Placement]:
        ray = import_ray()
        connect()
        plan = list(batch.spec.placements)
        with self._lock:
            self._nodes = alive_nodes(ray)
            gpus = int(sum(n["Resources"].get("GPU", 0.0) for n in self._nodes))
            gpu_jobs = [i for i, p in enumerate(plan) if p.device.is_gpu]
            if gpu_jobs and gpus == 0:
                logger.warning("ray backend: the cluster has no GPU; %d GPU job(s) train on "
                               "CPU", len(gpu_jobs))  # fmt: skip
                for i in gpu_jobs:
                    plan[i] = cpu_placement(plan[i], "no GPU in the Ray cluster")
            elif gpu_jobs and self._group is None:
                # a round brings many batches: its group takes every GPU of the cluster
                self._bundles = gpus if batch.in_round else min(len(gpu_jobs), gpus)
                self._threads = max(plan[i].threads for i in gpu_jobs)
                self._alive = list(range(self._bundles))
                self._reserve(ray)
        self._data[batch.id] = ray.put(batch.spec.data)  # once per batch
        self._started[batch.id] = time.time()
        return plan

    def place(self, placement: Placement, k: int) -> tuple[str, Placement]:
        if not placement.device.is_gpu:
            return CPU_LANES, placement
        alive = self._alive
        if not alive:
            return CPU_LANES, cpu_placement(placement, "GPU node of the Ray cluster lost")
        return f"bundle {alive[k % len(alive)]}", round_robin(placement, k)

    def cpu_capacity(self, gpu_lanes: int) -> int:
        cluster = sum(n["Resources"].get("CPU", 0.0) for n in self._nodes)
        free = int(cluster - (self._reserved_cpus if self._group is not None else 0.0))
        return free if self.cpu_budget is None else min(free, self.cpu_budget)

    def batch_cpu_cap(self, batch: BatchState, placements: list[Placement]) -> int:
        return len(placements)  # Ray's resources bound what runs at once

    def open_lane(self, name: str, key: str) -> RayLane:
        if key == CPU_LANES:
            return RayLane(name, None)
        with self._lock:
            self._open += 1
            if self._group is None:  # given back since the batch was prepared
                self._reserve(import_ray())
        return RayLane(name, int(key.split()[-1]))

    def close_lane(self, lane: RayLane) -> None:
        if lane.bundle is None:
            return
        with self._lock:
            self._open -= 1
            if self._open == 0 and self._group is not None:
                from ray.util.placement_group import remove_placement_group

                remove_placement_group(self._group)  # its CPUs go to the CPU jobs
                self._group = None

    def run(self, lane: RayLane, job: Job) -> TrainingOutcome:
        ray = import_ray()
        spec, expert = job.batch.spec, job.expert
        self._where[(job.batch.id, job.index)] = {"bundle": lane.bundle}
        ref = self._submit(ray, lane, job)
        submitted = checked = time.perf_counter()
        while not ray.wait([ref], timeout=_POLL_SECONDS)[0]:
            now = time.perf_counter()
            if spec.timeout is not None and now - submitted > spec.timeout:
                ray.cancel(ref, force=True)
                return self._dropped(job, now - submitted, timed_out(spec.timeout))
            if lane.bundle is not None and now - checked > _NODE_CHECK_SECONDS:
                checked = now
                node = self._bundle_nodes.get(lane.bundle)
                if node not in {n["NodeID"] for n in alive_nodes(ray)}:
                    ray.cancel(ref, force=True)
                    self._lose(lane.bundle)
                    raise JobLost(f"node {str(node)[:8]} died", lane_lost=True)
        try:
            fitted, seconds, error, device, retried, lines, where = ray.get(ref)
        except system_errors(ray) as exc:  # its worker or its node was lost
            if lane.bundle is not None:  # never wait on a bundle whose node may be gone
                self._lose(lane.bundle)
            raise JobLost(type(exc).__name__, lane_lost=lane.bundle is not None) from exc
        except Exception as exc:
            elapsed = time.perf_counter() - submitted
            return self._dropped(job, elapsed, f"{type(exc).__name__}: {exc}")
        replay_log(expert.name, "ray worker", lines)
        self._where[(job.batch.id, job.index)].update(where)
        shown = str(job.placement.device) if device != "cpu" else "cpu"
        return TrainingOutcome(fitted, seconds, error, shown, "ray", retried,
                               host=where.get("node_ip") or "")  # fmt: skip

    def finish(self, batch: BatchState) -> None:
        """Forget the batch's data; keep where its jobs ran in the cluster's store."""
        self._data.pop(batch.id, None)
        started = self._started.pop(batch.id, None)
        if started is None:  # never prepared (no Ray)
            return
        spec, records = batch.spec, []
        for i, outcome in enumerate(batch.outcomes):
            where = self._where.pop((batch.id, i), {})
            if outcome is None:
                continue
            records.append({
                "job": i, "expert": spec.experts[i].name,
                "planned_device": str(spec.placements[i].device), "device": outcome.device,
                "lane": batch.lanes[i], "bundle": where.get("bundle"),
                "node_id": where.get("node_id"), "node_ip": where.get("node_ip"),
                "cuda_visible_devices": where.get("cuda_visible_devices"),
                "attempts": batch.attempts[i], "seconds": round(outcome.seconds, 3),
                "error": outcome.error,
            })  # fmt: skip
        store_round(import_ray(), started, batch.rows, records)

    # -- helpers ----------------------------------------------------------------------------
    def _reserve(self, ray: Any) -> None:
        """Reserve the group's bundles (under the lock)."""
        self._group, bundle, self._bundle_nodes = reserve_bundles(
            ray, self._bundles, self._threads, self._nodes
        )
        self._reserved_cpus = self._bundles * bundle.get("CPU", 0.0)

    def _lose(self, bundle: int) -> None:
        with self._lock:
            self._alive = [b for b in self._alive if b != bundle]
        survivors = ", ".join(f"bundle {b}" for b in self._alive) or "cpu"
        logger.warning("ray backend: bundle %d lost; its jobs move to %s", bundle, survivors)

    def _submit(self, ray: Any, lane: RayLane, job: Job) -> Any:
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        if self._remote is None:
            self._remote = ray.remote(_fit_task)
        placement, gpu = job.placement, lane.bundle is not None
        if gpu:
            options = {
                "num_gpus": 1,
                "num_cpus": bundle_cpus(placement.threads, self._nodes),
                "max_retries": 0,  # a lost bundle is handled by the core: the job moves on
                "scheduling_strategy": PlacementGroupSchedulingStrategy(
                    self._group, placement_group_bundle_index=lane.bundle
                ),
            }
        else:
            node_cpus = max((n["Resources"].get("CPU", 0.0) for n in self._nodes), default=1.0)
            cpus = float(max(1, min(placement.threads, int(node_cpus) or 1)))
            options = {"num_gpus": 0, "num_cpus": cpus, "max_retries": CPU_TASK_RETRIES}
        data = self._data[job.batch.id]
        return self._remote.options(**options).remote(job.expert, data, placement, gpu)

    @staticmethod
    def _dropped(job: Job, seconds: float, error: str) -> TrainingOutcome:
        return TrainingOutcome(job.expert, seconds, error, str(job.placement.device), "ray")
