"""The round scheduler: concurrent ``train_experts`` calls (one per pair) share one set of
device lanes on a simulated machine with logical GPUs. Tiny experts that sleep stand in
for real ones; what is asserted is placement, order, budgets and who gets which result,
for each executor (``tests/executors.py``: thread, worker process, Ray task) where the
test's point applies to it."""

from __future__ import annotations

import functools
import threading
import time

import numpy as np
import pytest

from hyperphysics_strategy.engine.hardware import Device
from hyperphysics_strategy.ensemble import durations
from hyperphysics_strategy.ensemble.ensemble import planned_placements
from hyperphysics_strategy.ensemble.experts import FitData, Placement
from hyperphysics_strategy.ensemble.scheduling import (
    JobLost,
    LocalExecutor,
    RoundScheduler,
    round_robin,
    train_experts,
    use_scheduler,
)
from tests.executors import KINDS, executor_kind, kind_params
from tests.fake_experts import Sleeper
from tests.fake_machines import all_gpu_caps, make_info


@pytest.fixture(autouse=True)
def _fresh_measurements():
    durations.clear()
    yield
    durations.clear()


@pytest.fixture(params=KINDS)
def kind(request):
    return executor_kind(request)


def kinds(*names):
    """Narrow the ``kind`` fixture to ``names``."""
    return pytest.mark.parametrize("kind", kind_params(*names), indirect=True)


def fit_data(value: float = 0.0, n: int = 60) -> FitData:
    X = np.full((n, 2), value, dtype=np.float32)
    y = np.arange(n) % 3
    return FitData(X, y, np.ones(n), X[:30], y[:30], np.ones(30), 3)


def gpu_machine(n_gpus: int = 8, usable: int = 16):
    caps = {"torch": all_gpu_caps(n_gpus)["torch"]}
    info = make_info("cuda", n_gpus, usable)
    return functools.partial(planned_placements, info=info, capabilities=caps, env={})


def run_pairs(batches, workers=2, *, kind=None, **kwargs):
    """``train_experts`` (on ``kind``'s executor, else in threads) for every batch at
    once, one thread each; outcomes per batch."""
    results: dict[int, list] = {}
    train = kind.train if kind else train_experts

    def one(i, experts, data, placements):
        results[i] = train(experts, data, placements, workers, **kwargs)

    threads = [threading.Thread(target=one, args=(i, *batch)) for i, batch in enumerate(batches)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == len(batches), "a batch never returned"
    return results


@kinds("thread", "ray")  # process: as thread, plus eight worker start-ups
def test_a_round_spreads_every_pairs_jobs_round_robin_over_all_gpus(kind):
    provider = gpu_machine(8)
    batches = []
    for pair in range(8):
        experts = [Sleeper("mlp", tag=f"p{pair}"), Sleeper("tide", tag=f"p{pair}")]
        placements, _ = provider(experts)
        # alone, each pair's plan uses the first two GPUs only
        assert [str(p.device) for p in placements] == ["cuda:0", "cuda:1"]
        assert len(placements[0].pool) == 8
        batches.append((experts, fit_data(pair), placements))
    scheduler = kind.scheduler(cpu_budget=16)
    with use_scheduler(scheduler), scheduler.round() as number:
        results = run_pairs(batches, kind=kind)
    jobs = scheduler.jobs_of_round(number)
    assert sorted(r.job for r in jobs) == list(range(16))
    assert all(r.device == f"cuda:{r.job % 8}" for r in jobs), jobs
    per_device = {f"cuda:{d}": sum(r.device == f"cuda:{d}" for r in jobs) for d in range(8)}
    assert set(per_device.values()) == {2}, per_device
    # one lane per GPU, shared by all pairs
    assert {r.lane for r in jobs} == {kind.gpu_lane(d) for d in range(8)}
    assert all(r.lane == kind.gpu_lane(r.job % 8) for r in jobs), jobs
    # every caller got its own experts back, in its order, trained on its own data
    for pair, outcomes in results.items():
        assert [o.expert.name for o in outcomes] == ["mlp", "tide"]
        assert all(o.ok and o.expert.params["tag"] == f"p{pair}" for o in outcomes)
        assert all(o.expert.seen_mean == pair for o in outcomes)
        assert all(kind.device_seen(o.device) == str(o.expert.placement.device) for o in outcomes)


@kinds("thread", "ray")
def test_outside_a_round_a_lone_ensemble_keeps_its_plans_devices(kind):
    provider = gpu_machine(8)
    scheduler = kind.scheduler(cpu_budget=4)
    with use_scheduler(scheduler):
        for _ in range(2):  # e.g. the final experts, then a stacking fold: numbered anew
            experts = [Sleeper("mlp"), Sleeper("tide"), Sleeper("kan")]
            placements, workers = provider(experts)
            outcomes = kind.train(experts, fit_data(), placements, workers)
            assert [o.device for o in outcomes] == ["cuda:0", "cuda:1", "cuda:2"]
    assert scheduler.current_round == 2


@kinds("thread", "ray")
def test_a_batch_returns_only_once_its_lanes_let_go_so_the_next_one_numbers_anew(kind):
    """The first expert to finish is still reporting (a slow on_done) when the last one
    finishes: the batch used to return then, the scheduler looked busy, and the next lone
    batch joined the old round (cuda:3, 4, 5 instead of cuda:0, 1, 2)."""
    provider = gpu_machine(8)
    reported: list[str] = []

    def slow_report(outcome):
        reported.append(outcome.expert.name)
        if len(reported) % 3 == 1:  # the first of each batch
            time.sleep(1.0)

    with use_scheduler(kind.scheduler(cpu_budget=4)) as scheduler:
        for _ in range(2):
            experts = [Sleeper("mlp", seconds=0.3), Sleeper("tide", seconds=0.3), Sleeper("kan")]
            placements, workers = provider(experts)
            outcomes = kind.train(experts, fit_data(), placements, workers, slow_report)
            assert [o.device for o in outcomes] == ["cuda:0", "cuda:1", "cuda:2"]
    assert scheduler.current_round == 2


def test_round_robin_moves_a_placement_within_its_pool_only():
    provider = gpu_machine(4)
    (placement,), _ = provider([Sleeper("mlp")])
    assert [str(round_robin(placement, k).device) for k in range(6)] == [
        "cuda:0", "cuda:1", "cuda:2", "cuda:3", "cuda:0", "cuda:1",
    ]  # fmt: skip
    moved = round_robin(placement, 3)
    assert moved.params()["device"].index == 3 and moved.threads == placement.threads
    fixed = Placement("torch", Device("cuda", 5))  # no pool: a caller's own choice is kept
    assert round_robin(fixed, 2) is fixed


@kinds("thread", "ray")  # process: its timeout counts the worker's start (seconds here)
def test_failures_timeouts_and_out_of_memory_stay_with_their_job(kind):
    # a Ray task's time includes its worker's first import of the package: more slack
    slow, timeout = (5.0, 1.0) if kind.name == "thread" else (20.0, 8.0)
    provider = gpu_machine(2)
    batches = []
    specs = [
        [Sleeper("mlp"), Sleeper("tide", fail="raise")],  # one broken expert
        [Sleeper("mlp"), Sleeper("kan")],  # a healthy pair
        [Sleeper("mlp", seconds=slow), Sleeper("tide")],  # one expert too slow
        [Sleeper("mlp", fail="oom"), Sleeper("kan")],  # no memory left on its GPU
    ]
    for i, experts in enumerate(specs):
        batches.append((experts, fit_data(i), provider(experts)[0]))
    scheduler = kind.scheduler(cpu_budget=4)
    started = time.monotonic()
    with use_scheduler(scheduler), scheduler.round():
        results = run_pairs(batches, kind=kind, timeout=timeout)
    if kind.name == "thread":  # the others start workers first (seconds on two cores)
        assert time.monotonic() - started < 4.5  # nobody waited for the slow expert
    assert [o.ok for o in results[0]] == [True, False]
    assert "tide is broken" in results[0][1].error
    assert all(o.ok for o in results[1])
    assert [o.ok for o in results[2]] == [False, True]
    assert f"timed out after {timeout:g}s" in results[2][0].error
    oom = results[3][0]
    assert oom.ok and oom.retried_on_cpu and oom.device == "cpu"
    assert results[3][1].ok and results[3][1].device.startswith("cuda")


def test_longest_job_of_any_caller_starts_first(kind):
    for name, seconds in (("quick1", 1.0), ("quick2", 1.0), ("slow", 9.0), ("blocker", 0.5)):
        durations.record(name, "cpu", seconds, rows=60)
    cpu = [Placement("torch")]
    started: list[str] = []
    scheduler = kind.scheduler(cpu_budget=1)  # one CPU lane for everybody
    with use_scheduler(scheduler), scheduler.round():
        blocker = threading.Thread(
            target=kind.train,
            args=([Sleeper("blocker", 0.5)], fit_data(), cpu, 1),
            kwargs={"on_start": lambda n, d: started.append(n)},
        )
        blocker.start()
        time.sleep(0.2)  # the lane is busy: what follows queues up behind it
        batches = [
            ([Sleeper("quick1", 0.01), Sleeper("quick2", 0.01)], fit_data(1), cpu * 2),
            ([Sleeper("slow", 0.01)], fit_data(2), cpu),
        ]
        results = run_pairs(batches, kind=kind, on_start=lambda n, d: started.append(n))
        blocker.join()
    assert started == ["blocker", "slow", "quick1", "quick2"]
    assert [o.expert.name for o in results[0]] == ["quick1", "quick2"]


def test_cpu_jobs_of_all_callers_stay_within_the_core_budget():
    # thread only: the count is shared memory (a process or Ray task would not share it)
    running = [0]
    most = [0]
    lock = threading.Lock()

    class Counted(Sleeper):
        def _fit(self, data):
            with lock:
                running[0] += self.placement.threads
                most[0] = max(most[0], running[0])
            try:
                time.sleep(0.05)
            finally:
                with lock:
                    running[0] -= self.placement.threads

    two_threads = [Placement("torch", threads=2)] * 3
    batches = [([Counted(f"e{i}") for i in range(3)], fit_data(p), two_threads) for p in range(4)]
    scheduler = RoundScheduler(cpu_budget=5)
    with use_scheduler(scheduler), scheduler.round():
        results = run_pairs(batches, workers=3, use_processes=False)
    assert all(o.ok for outs in results.values() for o in outs)
    assert most[0] == 4  # two 2-thread jobs at once: a third would exceed the 5 cores


def test_process_lanes_serve_several_callers_each_with_its_own_data():
    # One CPU lane, a worker that keeps one training set: the jobs of the two callers
    # alternate (longest first), so each set is sent again when its turn comes back.
    for name, seconds in (("a1", 4.0), ("b1", 3.0), ("a2", 2.0), ("b2", 1.0)):
        durations.record(name, "cpu", seconds, rows=60)
    cpu = [Placement("torch")] * 2
    scheduler = RoundScheduler(cpu_budget=1, worker_cache=1)
    results: dict[str, list] = {}
    a_started = threading.Event()

    def caller(key, experts, value, on_start=None):
        results[key] = train_experts(
            experts, fit_data(value), cpu, 2, use_processes=True, on_start=on_start
        )

    with use_scheduler(scheduler), scheduler.round():
        a = threading.Thread(
            target=caller,
            args=("a", [Sleeper("a1", 1.0), Sleeper("a2", 0.0)], 1.0, lambda n, d: a_started.set()),
        )
        a.start()
        assert a_started.wait(30)  # a1 is in the lane's worker: b queues behind it
        b = threading.Thread(
            target=caller, args=("b", [Sleeper("b1", 0.0), Sleeper("b2", 0.0)], 2.0)
        )
        b.start()
        a.join(60)
        b.join(60)
    results = {0: results["a"], 1: results["b"]}
    for value, outcomes in ((1.0, results[0]), (2.0, results[1])):
        assert all(o.ok and o.worker == "process" for o in outcomes), outcomes
        assert [o.expert.seen_mean for o in outcomes] == [value, value]
    assert [r.expert for r in scheduler.history] == ["a1", "b1", "a2", "b2"]
    assert len({r.lane for r in scheduler.history}) == 1


@kinds("thread", "ray")  # process: the same core path, plus two worker start-ups
def test_cancelling_a_round_drops_its_queued_jobs_and_later_batches(kind):
    scheduler = kind.scheduler(cpu_budget=1)
    cpu = [Placement("torch")] * 3
    experts = [Sleeper("first", 0.3), Sleeper("second", 0.3), Sleeper("third", 0.3)]
    started = threading.Event()
    with use_scheduler(scheduler), scheduler.round():
        result: list = []
        caller = threading.Thread(
            target=lambda: result.extend(
                kind.train(experts, fit_data(), cpu, 1, on_start=lambda n, d: started.set())
            )
        )  # fmt: skip
        caller.start()
        assert started.wait(30)
        assert scheduler.cancel_round("stopping") == 2
        caller.join(30)
        later = kind.train([Sleeper("fold")], fit_data(), cpu[:1], 1)
    assert [o.ok for o in result] == [True, False, False]
    assert result[1].error == "cancelled: stopping"
    assert later[0].error == "cancelled: stopping"
    # the next round trains again
    assert kind.train([Sleeper("next")], fit_data(), cpu[:1], 1)[0].ok


class _LosesCuda0(LocalExecutor):
    """Threads; the first job on cuda:0 finds its node gone (as a Ray bundle would)."""

    max_resubmits = 1
    lost = False

    def place(self, placement, k):
        key, placed = super().place(placement, k)
        return super().place(placement, 1) if self.lost and key == "cuda:0" else (key, placed)

    def run(self, lane, job):
        if job.key == "cuda:0" and not self.lost:
            self.lost = True
            raise JobLost("node died", lane_lost=True)
        return super().run(lane, job)


def test_a_lost_lanes_job_and_queue_move_to_the_other_lanes():
    provider = gpu_machine(2)
    experts = [Sleeper(f"e{i}") for i in range(4)]
    placements, workers = provider(experts)
    scheduler = RoundScheduler(executor=_LosesCuda0(4))
    with use_scheduler(scheduler):
        outcomes = train_experts(experts, fit_data(), placements, workers, use_processes=False)
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    assert sorted(r.expert for r in scheduler.history) == ["e0", "e1", "e2", "e3"]
    assert {r.lane for r in scheduler.history} == {"cuda:1"}  # cuda:0's jobs moved there


def test_a_lane_that_cannot_start_fails_its_jobs_and_the_call_returns():
    class NoLane(LocalExecutor):
        def open_lane(self, name, key):
            raise RuntimeError("no bundle can be placed")

    with use_scheduler(RoundScheduler(executor=NoLane(2))):
        outcomes = train_experts([Sleeper("a")], fit_data(), [Placement("torch")], 1)
    assert not outcomes[0].ok
    assert "could not start: RuntimeError: no bundle can be placed" in outcomes[0].error


def test_finished_jobs_is_a_copy_a_reader_can_take_while_lanes_append():
    """``hyperphysics search``'s progress table reads the job history while lanes append to
    it: iterating ``history`` itself raised "deque mutated during iteration" mid-search."""
    from hyperphysics_strategy.ensemble.scheduling.core import JobRecord
    from hyperphysics_strategy.trading.search.usage import busy_fraction

    scheduler = RoundScheduler(cpu_budget=1, history=5_000)
    record = JobRecord(1, 0, 1, "e", "cpu", "cpu#0", 0.0, 1.0, True)
    stop = threading.Event()

    def lanes() -> None:  # appends as a lane does: under the scheduler's lock
        while not stop.is_set():
            with scheduler._cond:
                scheduler.history.extend([record] * 50)

    writer = threading.Thread(target=lanes)
    writer.start()
    try:
        for _ in range(200):
            snapshot = scheduler.finished_jobs()
            assert busy_fraction(snapshot, 1, 0.0, 1.0) == (1.0 if snapshot else 0.0)
    finally:
        stop.set()
        writer.join()
    before = scheduler.finished_jobs()
    later = JobRecord(2, 0, 2, "f", "cpu", "cpu#0", 1.0, 2.0, True)
    scheduler.history.append(later)
    assert before[-1] is record and scheduler.history[-1] is later  # a copy, not a view
