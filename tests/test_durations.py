"""Longest-first scheduling: lanes start the slowest expert first, from priors and then
from the times measured in earlier rounds."""

from __future__ import annotations

import numpy as np
import pytest

from hyperphysics_strategy.engine.hardware import Device, Placement
from hyperphysics_strategy.ensemble import durations
from hyperphysics_strategy.ensemble.experts import Expert, FitData
from hyperphysics_strategy.ensemble.scheduling import use_scheduler
from tests.executors import executor_kind, kind_params
from tests.fake_experts import Sleeper


@pytest.fixture(autouse=True)
def _fresh_measurements():
    durations.clear()
    yield
    durations.clear()


def fit_data(n: int = 100) -> FitData:
    X = np.zeros((n, 2), dtype=np.float32)
    y = np.arange(n) % 3
    return FitData(X, y, np.ones(n), X[:30], y[:30], np.ones(30), 3)


def cpu(n: int) -> list[Placement]:
    return [Placement("torch") for _ in range(n)]


# process: longest first in a worker process is test_scheduler's
@pytest.fixture(params=kind_params("thread", "ray"))
def kind(request):
    return executor_kind(request)


def start_order(kind, experts: list[Expert], lanes: int) -> list[str]:
    """Train ``experts`` on ``lanes`` CPU lanes of ``kind``'s executor; the names in the
    order started."""
    started: list[str] = []
    with use_scheduler(kind.scheduler(cpu_budget=lanes)):
        kind.train(
            experts,
            fit_data(),
            cpu(len(experts)),
            lanes,
            on_start=lambda name, device: started.append(name),
        )
    return started


def test_priors_put_the_transformer_first_and_kan_last():
    names = ["kan", "mlp", "transformer", "lightgbm", "xgboost_dart"]
    experts = [Sleeper(n, 0) for n in names]
    order = durations.longest_first(range(5), experts, cpu(5), rows=1000)
    assert [names[i] for i in order] == ["transformer", "xgboost_dart", "mlp", "lightgbm", "kan"]


def test_measured_times_override_priors_and_scale_the_unmeasured():
    experts = [Sleeper(n, 0) for n in ("transformer", "kan", "mlp")]
    # measured: the transformer is fast here (1 s), kan slow (4 s); prior ratio 300 : 5
    durations.record("transformer", "cuda:0", 1.0, rows=1000)
    durations.record("kan", "cuda:0", 4.0, rows=1000)
    gpu = [Placement("torch", Device("cuda", 0)) for _ in experts]
    # median of measured/prior = median(1/300, 4/5) = 0.4017; mlp: 15 * 0.4017 = 6.0 s
    assert durations.expected_seconds("kan", "cuda:1", 2000) == pytest.approx(8.0)
    assert durations.longest_first([0, 1, 2], experts, gpu, 1000) == [2, 1, 0]
    # measurements are per kind of device: on the CPU the priors still rule
    assert durations.longest_first([0, 1, 2], experts, cpu(3), 1000) == [0, 2, 1]


def test_one_lane_starts_longest_first_and_learns_from_the_round(kind):
    experts = [Sleeper("a_fast", 0.01), Sleeper("b_slow", 0.3), Sleeper("c_mid", 0.1)]
    # unknown names: equal priors, the given order
    assert start_order(kind, experts, 1) == ["a_fast", "b_slow", "c_mid"]
    assert start_order(kind, experts, 1) == ["b_slow", "c_mid", "a_fast"]  # measured in round 1


def test_two_lanes_hand_out_the_slow_expert_first(kind):
    # the given order puts the slow expert last: handed out in that order, it would start
    # only when a lane is free again and trail alone
    experts = [Sleeper("quick1", 0.05), Sleeper("quick2", 0.05), Sleeper("slow", 0.2)]
    for expert in experts:
        durations.record(expert.name, "cpu", expert.params["seconds"], rows=100)
    started = start_order(kind, experts, 2)
    assert set(started[:2]) == {"slow", "quick1"}  # one on each lane, in either order
    assert started[-1] == "quick2"
