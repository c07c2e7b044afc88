"""The ``ray`` training backend: each expert job is a Ray task on a Ray cluster.

Same contract as :func:`.training.train_experts` (the ``local`` backend, :mod:`.batch`),
so the ensemble picks one or the other by name (``backend="ray"``). Optional: Ray is
imported only here and in :mod:`.ray_cluster`, and only when this backend is used
(``pip install "ray>=2.40"``, the ``[ray]`` extra).

How a call runs:

* **Connection.** An existing ``ray.init`` of this process is used as it is. Otherwise
  :func:`~.ray_cluster.connect` joins the cluster at the configured address
  (``hyperphysics.cluster.address`` in the freqtrade config), else at ``RAY_ADDRESS``,
  else starts a one-machine Ray bound to 127.0.0.1.
* **Data.** The training set (:class:`~.experts.FitData`) goes into Ray's object store
  once per call (``ray.put``); every job of the call receives the same reference.
* **GPU jobs** (a placement whose device is not ``cpu``) keep the plan's round-robin: one
  placement-group bundle ``{"GPU": 1, "CPU": c}`` per cluster GPU (at most one per GPU
  job), and GPU job ``k`` (plan order) goes to bundle ``k mod G``. Each bundle is a lane
  that runs its jobs one after the other, longest first, as the local backend's GPU lanes
  do. Ray gives the task exactly the bundle's GPU in ``CUDA_VISIBLE_DEVICES``; inside
  the task the expert trains on ``cuda:0`` (the only device it sees).
* **CPU jobs** are tasks asking for ``num_cpus`` = the placement's threads (capped at the
  largest node); as many run at once as the cluster's CPUs outside the bundles allow.
* **Failures** are per job, as in the local backend (:func:`.jobs.fit_with_fallback`
  runs inside the task): an expert that raises is dropped; one that runs past ``timeout``
  seconds (counted from its submission; lanes submit only what can start) is cancelled
  and dropped; a device out-of-memory error retries it once on the CPU inside its task.
* **Lost nodes.** A CPU task whose node dies is retried by Ray on another node
  (``max_retries``). A bundle whose node dies stops its lane: the job it was running and
  those queued behind it move to the surviving bundles (or, with no GPU left, to the CPU
  jobs on CPU placements), so the call still returns every model.

Where each job ran (node, its ``CUDA_VISIBLE_DEVICES``, bundle) is stored in the cluster's
key-value store after the call (:func:`~.ray_cluster.last_round`); ``hyperphysics cluster status``
shows it.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from . import durations
from .batch import TrainingBatch, batch_trainer
from .experts import Expert, FitData, Placement
from .jobs import TrainingOutcome, _ListHandler, cpu_placement, fit_with_fallback
from .ray_cluster import (
    INSTALL_HINT,
    alive_nodes,
    bundle_cpus,
    connect,
    import_ray,
    last_round,
    reserve_bundles,
    resolve_address,
    store_round,
    system_errors,
)

__all__ = [
    "INSTALL_HINT",
    "connect",
    "import_ray",
    "last_round",
    "resolve_address",
    "train_experts",
]

logger = logging.getLogger(__name__)

#: Times one job is resubmitted after its worker or node was lost.
MAX_RESUBMITS = 3
#: Ray's own retries of a CPU task whose worker or node died.
CPU_TASK_RETRIES = 3
_POLL_SECONDS = 0.2


# -- inside the task --------------------------------------------------------------------
def _gpu_placement_here(placement: Placement) -> Placement:
    """``placement`` on ``cuda:0``: Ray shows the task its one GPU as device 0."""
    import dataclasses

    from hyperphysics_strategy.engine.hardware import Device

    return dataclasses.replace(placement, device=Device("cuda", 0), pool=())


def _dropped(expert: Expert, job: Any, error: str) -> TrainingOutcome:
    """The outcome of a job that ended without a model (lost, failed to run, timed out)."""
    seconds = time.perf_counter() - job.submitted
    return TrainingOutcome(expert, seconds, error, str(job.placement.device), "ray")


def _fit_task(expert: Expert, data: FitData, placement: Placement, gpu: bool) -> tuple:
    """Body of one Ray task: fit, with the CPU retry after an out-of-memory error."""
    import ray

    hidden = {} if gpu else _hide_gpus()  # Ray leaves a CPU task every GPU of its node
    where = {
        "node_id": ray.get_runtime_context().get_node_id(),
        "node_ip": ray.util.get_node_ip_address(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "pid": os.getpid(),
    }
    handler = _ListHandler()
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(min(root.level or logging.INFO, logging.INFO))
    try:
        here = _gpu_placement_here(placement) if gpu else placement
        seconds, error, device, retried = fit_with_fallback(expert, data, here)
    finally:
        root.removeHandler(handler)
        os.environ.update({k: v for k, v in hidden.items() if v is not None})
        for k in [k for k, v in hidden.items() if v is None]:
            os.environ.pop(k, None)
    return expert, seconds, error, device, retried, handler.lines, where


_VISIBILITY = ("CUDA_VISIBLE_DEVICES", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES")


def _hide_gpus() -> dict[str, str | None]:
    """Hide every GPU from this process (a CPU job); returns the previous values."""
    before = {k: os.environ.get(k) for k in _VISIBILITY}
    for k in _VISIBILITY:
        os.environ[k] = ""
    return before


_REMOTE: Any = None


def _remote() -> Any:
    global _REMOTE
    if _REMOTE is None:
        _REMOTE = import_ray().remote(_fit_task)
    return _REMOTE


# -- driver side ------------------------------------------------------------------------
@dataclass
class _Lane:
    """A bundle (one GPU) or the CPU pool; ``slots`` jobs of it run at once."""

    name: str
    bundle: int | None
    slots: int
    queue: deque[int] = field(default_factory=deque)
    running: int = 0
    alive: bool = True


@dataclass
class _Job:
    index: int
    lane: _Lane
    placement: Placement
    submitted: float
    attempt: int


def train_on_ray(batch: TrainingBatch) -> list[TrainingOutcome]:
    """Fit every expert as a Ray task; return outcomes in the experts' order.

    ``train_experts(experts, data, placements, max_workers, on_done=None, *,
    on_start=None, use_processes=None, timeout=None)``: the contract of
    :func:`.training.train_experts` (:class:`~.batch.TrainingBatch`). ``max_workers`` is
    unused (Ray's resources bound what runs at once) and so is ``use_processes`` (a Ray
    task always runs in a worker process).
    """
    experts, data, placements, timeout = batch.experts, batch.data, batch.placements, batch.timeout
    ray = import_ray()
    connect()
    from ray.util.placement_group import remove_placement_group
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    total = len(experts)
    rows = batch.rows
    plan = list(placements)
    nodes = alive_nodes(ray)
    node_cpus = max((n["Resources"].get("CPU", 0.0) for n in nodes), default=1.0)
    cluster_cpus = sum(n["Resources"].get("CPU", 0.0) for n in nodes)
    gpus = int(sum(n["Resources"].get("GPU", 0.0) for n in nodes))
    gpu_jobs = [i for i, p in enumerate(plan) if p.device.is_gpu]
    if gpu_jobs and gpus == 0:
        logger.warning("ray backend: the cluster has no GPU; %d GPU job(s) train on CPU",
                       len(gpu_jobs))  # fmt: skip
        for i in gpu_jobs:
            plan[i] = cpu_placement(experts[i], plan[i].threads, "no GPU in the Ray cluster")
        gpu_jobs = []

    n_bundles = min(len(gpu_jobs), gpus)
    pg = None
    bundle_nodes: dict[int, str] = {}
    lanes: list[_Lane] = []
    if n_bundles:
        threads = max(plan[i].threads for i in gpu_jobs)
        pg, bundle, bundle_nodes = reserve_bundles(ray, n_bundles, threads, nodes)
        lanes = [_Lane(f"bundle {b}", b, 1) for b in range(n_bundles)]
        for k, i in enumerate(gpu_jobs):  # round-robin: GPU job k -> bundle k mod G
            lanes[k % n_bundles].queue.append(i)
        for lane in lanes:  # each lane takes its longest job first
            lane.queue = deque(durations.longest_first(list(lane.queue), experts, plan, rows))
        reserved = n_bundles * bundle.get("CPU", 0.0)
    else:
        reserved = 0.0
    cpu_jobs = [i for i, p in enumerate(plan) if not p.device.is_gpu]
    cpu_cost = {i: float(max(1, min(plan[i].threads, int(node_cpus) or 1))) for i in cpu_jobs}
    per_job = max(cpu_cost.values(), default=1.0)
    cpu_lane = _Lane("cpu", None, max(1, int((cluster_cpus - reserved) // per_job)))
    cpu_lane.queue = deque(durations.longest_first(cpu_jobs, experts, plan, rows))
    lanes.append(cpu_lane)

    data_ref = ray.put(data)  # once per call: every job of it reads the same object
    remote = _remote()
    outcomes: list[TrainingOutcome | None] = [None] * total
    records: list[dict[str, Any] | None] = [None] * total
    running: dict[Any, _Job] = {}
    attempts = [0] * total
    started = time.time()

    def submit(lane: _Lane) -> None:
        i = lane.queue.popleft()
        expert, placement = experts[i], plan[i]
        gpu = lane.bundle is not None
        if gpu:
            options = {
                "num_gpus": 1,
                "num_cpus": bundle_cpus(placement.threads, nodes),
                "max_retries": 0,  # a lost bundle is handled here: the job moves on
                "scheduling_strategy": PlacementGroupSchedulingStrategy(
                    pg, placement_group_bundle_index=lane.bundle
                ),
            }
        else:
            options = {"num_gpus": 0, "num_cpus": cpu_cost.get(i, 1.0),
                       "max_retries": CPU_TASK_RETRIES}  # fmt: skip
        logger.info(
            "expert %s training on %s (%d threads, ray %s)",
            expert.name,
            str(placement.device),
            placement.threads,
            lane.name,
        )
        batch.started(expert.name, str(placement.device))
        ref = remote.options(**options).remote(expert, data_ref, placement, gpu)
        attempts[i] += 1
        running[ref] = _Job(i, lane, placement, time.perf_counter(), attempts[i])
        lane.running += 1

    def finish(job: _Job, outcome: TrainingOutcome, where: dict[str, Any] | None) -> None:
        i = job.index
        outcomes[i] = outcome
        where = where or {}
        records[i] = {
            "job": i,
            "expert": experts[i].name,
            "planned_device": str(placements[i].device),
            "device": outcome.device,
            "lane": job.lane.name,
            "bundle": job.lane.bundle,
            "node_id": where.get("node_id"),
            "node_ip": where.get("node_ip"),
            "cuda_visible_devices": where.get("cuda_visible_devices"),
            "attempts": attempts[i],
            "seconds": round(outcome.seconds, 3),
            "error": outcome.error,
        }
        if outcome.ok and not outcome.retried_on_cpu:
            durations.record(experts[i].name, outcome.device, outcome.seconds, rows)
        done = sum(o is not None for o in outcomes)
        if outcome.ok:
            logger.info("expert %s trained on %s in %.2fs (ray node %s) [%d/%d]",
                        outcome.expert.name, outcome.device, outcome.seconds,
                        where.get("node_ip"), done, total)  # fmt: skip
        else:
            logger.warning("expert %s failed on %s and is dropped: %s [%d/%d]",
                           experts[i].name, outcome.device, outcome.error, done,
                           total)  # fmt: skip
        batch.done(outcome)

    def lane_lost(lane: _Lane, why: str) -> None:
        """The lane's node is gone: its queue moves to the surviving lanes."""
        lane.alive = False
        survivors = [x for x in lanes if x.alive and x.bundle is not None]
        logger.warning("ray backend: %s lost (%s); %d job(s) move to %s", lane.name, why,
                       len(lane.queue), ", ".join(x.name for x in survivors) or "cpu")  # fmt: skip
        moved = list(lane.queue)
        lane.queue.clear()
        for k, i in enumerate(moved):
            rehome(i, survivors, k)

    def rehome(i: int, survivors: list[_Lane], k: int = 0) -> None:
        if survivors:
            survivors[k % len(survivors)].queue.appendleft(i)
            return
        plan[i] = cpu_placement(experts[i], plan[i].threads, "GPU node of the Ray cluster lost")
        cpu_cost[i] = float(max(1, min(plan[i].threads, int(node_cpus) or 1)))
        cpu_lane.queue.appendleft(i)

    def check_nodes() -> None:
        """Lanes whose bundle's node died: their job is cancelled and moves on (a task
        waiting for a bundle that cannot be placed again would wait forever)."""
        alive = {n["NodeID"] for n in alive_nodes(ray)}
        for lane in lanes:
            if lane.bundle is None or not lane.alive or bundle_nodes.get(lane.bundle) in alive:
                continue
            stuck = [(ref, job) for ref, job in running.items() if job.lane is lane]
            lane_lost(lane, f"node {str(bundle_nodes.get(lane.bundle))[:8]} died")
            for ref, job in stuck:
                ray.cancel(ref, force=True)
                running.pop(ref)
                lane.running -= 1
                rehome(job.index, [x for x in lanes if x.alive and x.bundle is not None])

    lost_errors = system_errors(ray)
    checked = time.perf_counter()
    try:
        while any(o is None for o in outcomes):
            if bundle_nodes and time.perf_counter() - checked > 1.0:
                check_nodes()
                checked = time.perf_counter()
            for lane in lanes:
                while lane.alive and lane.queue and lane.running < lane.slots:
                    submit(lane)
            if pg is not None and all(outcomes[i] is not None for i in gpu_jobs):
                remove_placement_group(pg)  # GPU work done: its CPUs go to the CPU jobs
                pg = None
                bundle_nodes.clear()
            if not running:
                if any(o is None for o in outcomes):  # pragma: no cover - guard
                    raise RuntimeError("ray backend: jobs left with no lane to run them")
                break
            ready, _ = ray.wait(list(running), num_returns=1, timeout=_POLL_SECONDS)
            for ref in ready:
                job = running.pop(ref)
                job.lane.running -= 1
                i = job.index
                try:
                    fitted, seconds, error, device, retried, lines, where = ray.get(ref)
                except lost_errors as exc:  # its worker or its node was lost
                    if attempts[i] > MAX_RESUBMITS:
                        finish(job, _dropped(experts[i], job, f"ray worker lost: {exc}"), None)
                        continue
                    logger.warning("ray backend: expert %s lost its worker on %s (%s); "
                                   "resubmitting", experts[i].name, job.lane.name,
                                   type(exc).__name__)  # fmt: skip
                    if job.lane.bundle is None:
                        cpu_lane.queue.appendleft(i)
                    else:  # never wait on a bundle whose node may be gone
                        lane_lost(job.lane, type(exc).__name__)
                        rehome(i, [x for x in lanes if x.alive and x.bundle is not None])
                    continue
                except Exception as exc:
                    finish(job, _dropped(experts[i], job, f"{type(exc).__name__}: {exc}"), None)
                    continue
                for level, line in lines:
                    logger.log(level, "[%s ray worker] %s", experts[i].name, line)
                shown = str(job.placement.device) if device != "cpu" else "cpu"
                finish(job, TrainingOutcome(fitted, seconds, error, shown, "ray", retried), where)
            if timeout is not None:
                now = time.perf_counter()
                for ref, job in list(running.items()):
                    if now - job.submitted > timeout:
                        ray.cancel(ref, force=True)
                        running.pop(ref)
                        job.lane.running -= 1
                        finish(
                            job,
                            _dropped(experts[job.index], job, f"timed out after {timeout:g}s"),
                            None,
                        )
    finally:
        for ref in running:
            ray.cancel(ref, force=True)
        if pg is not None:
            remove_placement_group(pg)
    store_round(ray, started, rows, [r for r in records if r is not None])
    return [o for o in outcomes if o is not None]


train_experts = batch_trainer(train_on_ray)
