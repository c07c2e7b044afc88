"""The progress callbacks of ``train_experts`` and ``ExpertEnsemble.fit``: one start and
one done per expert, start first, in thread lanes and in process lanes (in the parent)."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from hyperphysics_strategy.engine.hardware import Placement
from hyperphysics_strategy.ensemble import ExpertEnsemble, make_expert
from hyperphysics_strategy.ensemble.experts import FitData
from hyperphysics_strategy.ensemble.labels import LabelCodec
from hyperphysics_strategy.ensemble.scheduling import train_experts
from tests.executors import KINDS, executor_kind


def small_data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5)).astype(np.float32)
    y = np.where(X[:, 0] > 0.5, "buy", np.where(X[:, 0] < -0.5, "sell", "neutral"))
    return X, y


@pytest.fixture
def kind(request):
    return executor_kind(request)


class Recorder:
    def __init__(self):
        self.events: list[tuple[str, str, str, int, int]] = []
        self.lock = threading.Lock()

    def start(self, name, device):
        with self.lock:
            self.events.append(("start", name, device, os.getpid(), threading.get_ident()))

    def done(self, outcome):
        with self.lock:
            self.events.append(("done", outcome.expert.name, outcome.worker, os.getpid(), 0))


@pytest.mark.parametrize("kind", KINDS, indirect=True)
def test_start_callback_once_per_expert_in_each_lane_kind(kind):
    X, y = small_data()
    codes = LabelCodec().encode(y)
    data = FitData(X[:500], codes[:500], np.ones(500), X[500:], codes[500:], np.ones(100), 3)
    names = ["lightgbm", "xgboost", "xgboost_rf"]
    experts = [make_expert(n, {"n_estimators": 10}, seed=i) for i, n in enumerate(names)]
    placements = [Placement(e.library, reason="test") for e in experts]
    rec = Recorder()
    outcomes = kind.train(experts, data, placements, 2, rec.done, on_start=rec.start)
    assert all(o.ok and o.worker == kind.name for o in outcomes)
    starts = [e for e in rec.events if e[0] == "start"]
    assert sorted(e[1] for e in starts) == sorted(names)  # once each
    assert all(e[2] == "cpu" and e[3] == os.getpid() for e in starts)  # in the parent
    assert threading.get_ident() not in {e[4] for e in starts}  # from the lane threads
    for name in names:
        kinds = [e[0] for e in rec.events if e[1] == name]
        assert kinds == ["start", "done"], rec.events


def test_a_failing_start_callback_does_not_stop_training():
    X, y = small_data()
    codes = LabelCodec().encode(y)
    data = FitData(X[:500], codes[:500], np.ones(500), X[500:], codes[500:], np.ones(100), 3)

    def explode(name, device):
        raise RuntimeError("display broke")

    outcomes = train_experts(
        [make_expert("lightgbm", {"n_estimators": 5})],
        data,
        [Placement("lightgbm")],
        1,
        on_start=explode,
        use_processes=False,
    )
    assert outcomes[0].ok


def test_ensemble_fit_passes_the_start_callback_through():
    X, y = small_data()
    rec = Recorder()
    ExpertEnsemble(
        ["lightgbm", "xgboost"], {"lightgbm": {"n_estimators": 10}, "xgboost": {"n_estimators": 10}}
    ).fit(X, y, on_expert_start=rec.start, on_expert_done=rec.done)
    assert [e[:2] for e in rec.events if e[0] == "start"] in (
        [("start", "lightgbm"), ("start", "xgboost")],
        [("start", "xgboost"), ("start", "lightgbm")],
    )
    assert len([e for e in rec.events if e[0] == "done"]) == 2
