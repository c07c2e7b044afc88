"""Fast inference (``ensemble/serving.py``): the fastest verified path per expert, never a
probability changed by more than 1e-5, and nothing of it survives a pickle."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from hyperphysics_strategy.ensemble import ExpertEnsemble
from hyperphysics_strategy.ensemble.export import TOLERANCE, available
from hyperphysics_strategy.ensemble.serving import (
    Router,
    choose_inference,
    ensure_inference,
    use_native,
)

CLASSES = ("down", "neutral", "up")


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 5)).astype(np.float32)
    y = np.asarray(CLASSES, dtype=object)[(X[:, 0] > 0).astype(int) + (X[:, 1] > 0.8)]
    ensemble = ExpertEnsemble(
        experts=("lightgbm", "mlp"),
        expert_params={"lightgbm": {"n_estimators": 10}, "mlp": {"max_epochs": 1}},
        classes=CLASSES,
        stacking_folds=0,
        use_processes=False,
    ).fit(X[:400], y[:400])
    return ensemble, X[400:]


def test_choice_keeps_probabilities_and_is_logged(fitted, caplog):
    ensemble, X = fitted
    before = ensemble.predict_proba(X)
    with caplog.at_level("INFO", logger="hyperphysics_strategy.ensemble.serving"):
        plan = choose_inference(ensemble, X, batch_rows=64, repeat=1)
    try:
        assert [c.name for c in plan.experts] == ["lightgbm", "mlp"]
        for choice in plan.experts:
            paths = {r.path: r for r in choice.results}
            assert paths["native"].ok
            assert choice.small in paths and paths[choice.small].ok
            assert choice.large in paths and paths[choice.large].ok
            assert "cuda" not in paths or choice.name == "mlp"  # a torch-only path
            if available():
                assert paths["onnxruntime"].ok, paths["onnxruntime"].error
                assert paths["onnxruntime"].max_abs_diff <= TOLERANCE
        assert ensemble.inference_plan_ is plan
        assert "inference lightgbm:" in caplog.text and "inference mlp:" in caplog.text
        assert np.abs(ensemble.predict_proba(X) - before).max() <= TOLERANCE
        assert np.abs(ensemble.predict_proba(X[:1]) - before[:1]).max() <= TOLERANCE
        assert ensure_inference(ensemble) is plan  # chosen once
    finally:
        use_native(ensemble)


def test_a_path_beyond_the_tolerance_is_refused(fitted, monkeypatch):
    from hyperphysics_strategy.ensemble import serving

    ensemble, X = fitted

    def off_by_a_bit(expert, path, rows, threads):
        if path == "native":
            return None
        return lambda Z: expert.predict_proba(Z, native=True) + 1e-4

    monkeypatch.setattr(serving, "_build", off_by_a_bit)
    try:
        plan = choose_inference(
            ensemble, X, paths=("native", "onnxruntime"), repeat=1, batch_rows=64
        )
        for choice in plan.experts:
            (onnx,) = [r for r in choice.results if r.path == "onnxruntime"]
            assert not onnx.ok and "> 1e-05" in onnx.error
            assert choice.small == choice.large == "native"
        assert all(e.__dict__.get("serving_") is None for e in ensemble.experts_)
    finally:
        use_native(ensemble)


def test_a_choice_slower_for_the_whole_ensemble_goes_back_to_native(fitted, monkeypatch):
    """Per expert a path may win and still slow the ensemble down (its threads and the
    others' share two cores): the whole ensemble is timed both ways after the choice, and
    a size where all native is faster goes native for every expert."""
    from hyperphysics_strategy.ensemble import serving

    ensemble, X = fitted

    def exact_copy(expert, path, rows, threads):
        if path == "native":
            return None
        return lambda Z: expert.predict_proba(Z, native=True)

    real = serving._medians

    def timed(calls, repeat):
        if set(calls) == {"chosen", "native"}:  # the whole ensemble: native wins
            real(calls, 1)
            return {"chosen": 2.0, "native": 1.0}
        return {name: (0.5 if name == "onnxruntime" else 1.0) for name in calls}

    monkeypatch.setattr(serving, "_build", exact_copy)
    monkeypatch.setattr(serving, "_medians", timed)
    try:
        plan = choose_inference(ensemble, X, paths=("native", "onnxruntime"), batch_rows=64)
        assert all(e.__dict__.get("serving_") is None for e in ensemble.experts_)
        assert all(c.small == c.large == "native" for c in plan.experts)
        assert plan.whole["batch"] == {"chosen": 2.0, "native": 1.0}
        assert any(
            "whole ensemble, batch" in line and "kept native" in line for line in plan.lines()
        )
    finally:
        use_native(ensemble)
    monkeypatch.setattr(serving, "_medians", lambda calls, repeat: {
        name: (0.5 if name in ("onnxruntime", "chosen") else 1.0) for name in calls
    })  # fmt: skip
    try:
        plan = choose_inference(ensemble, X, paths=("native", "onnxruntime"), batch_rows=64)
        assert all(c.small == c.large == "onnxruntime" for c in plan.experts)
        assert all(e.__dict__.get("serving_") is not None for e in ensemble.experts_)
    finally:
        use_native(ensemble)


def test_an_unknown_path_is_refused_by_name(fitted):
    ensemble, X = fitted
    try:
        plan = choose_inference(ensemble, X, paths=("native", "tpu"), repeat=1, batch_rows=64)
        (tpu,) = [r for r in plan.experts[0].results if r.path == "tpu"]
        assert "unknown inference path 'tpu'" in tpu.error
    finally:
        use_native(ensemble)


def test_router_and_plan_do_not_survive_a_pickle(fitted):
    ensemble, X = fitted
    expected = ensemble.predict_proba(X)
    try:
        choose_inference(ensemble, X, repeat=1, batch_rows=64)
        ensemble.experts_[0].serving_ = Router(lambda Z: np.full((len(Z), 3), 1 / 3), None)
        assert np.allclose(ensemble.experts_[0].predict_proba(X[:2]), 1 / 3)  # routed
        for clone in (pickle.loads(pickle.dumps(ensemble)), copy.deepcopy(ensemble)):
            assert clone.inference_plan_ is None
            assert all(e.__dict__.get("serving_") is None for e in clone.experts_)
            assert np.abs(clone.predict_proba(X) - expected).max() == 0.0
    finally:
        use_native(ensemble)


def test_freqai_model_serves_dry_and_live_runs_through_the_choice(caplog):
    """A dry/live ``HyperPhysicsEnsemble`` chooses the paths at its first prediction (a
    model loaded from disk has none) and predicts what the native predictors predict;
    a backtest (``live`` False) keeps the native predictors."""
    from tests.bad_input import fitted_freqai_predictor

    model, dk, frame = fitted_freqai_predictor(
        {"lightgbm": {"n_estimators": 5}, "mlp": {"max_epochs": 1}}, use_processes=False
    )
    model.live = False
    native, _ = model.predict(frame, dk)
    assert getattr(model.model, "inference_plan_", None) is None
    model.live = True
    with caplog.at_level("INFO", logger="hyperphysics_strategy.ensemble.serving"):
        served, _ = model.predict(frame, dk)
    try:
        assert model.model.inference_plan_ is not None
        assert "inference lightgbm:" in caplog.text
        classes = list(model.model.classes_)
        gap = np.abs(served[classes].to_numpy() - native[classes].to_numpy()).max()
        assert gap <= TOLERANCE
    finally:
        use_native(model.model)
