import functools
import pickle
import threading

import numpy as np
import pandas as pd
import pytest
import torch

from hyperphysics_strategy.engine.hardware import Device, DevicePlan
from hyperphysics_strategy.ensemble import ExpertEnsemble, make_expert
from hyperphysics_strategy.ensemble.drift import MAJOR, MODERATE, feature_drift, psi
from hyperphysics_strategy.ensemble.ensemble import planned_placements
from hyperphysics_strategy.ensemble.experts import (
    EXPERT_REGISTRY,
    TorchExpert,
    expert_libraries,
)
from hyperphysics_strategy.ensemble.labels import LabelCodec
from hyperphysics_strategy.ensemble.metrics import balanced_accuracy, log_loss
from hyperphysics_strategy.ensemble.sampling import stratified_indices
from hyperphysics_strategy.ensemble.splits import time_ordered_split
from hyperphysics_strategy.strategy import features as F

from .fake_machines import all_gpu_caps, make_info
from .synthetic import three_class_signal as synthetic


def test_expert_gives_zero_mass_to_a_class_it_never_saw():
    X, y = synthetic()
    y = np.where(y == "sell", "neutral", y)  # no sell labels at all
    ens = ExpertEnsemble(["lightgbm"], {"lightgbm": {"n_estimators": 60}}).fit(X, y)
    proba = ens.predict_proba(X[:100])
    assert proba.shape == (100, 3)
    assert proba[:, 0].max() < 0.05


def test_ensemble_predicts_declared_classes_and_pickles():
    X, y = synthetic()
    ens = ExpertEnsemble(
        expert_params={"lightgbm": {"n_estimators": 80}, "xgboost": {"n_estimators": 80}}
    )
    ens.fit(X, y)
    assert list(ens.classes_) == ["sell", "neutral", "buy"]
    assert set(ens.predict(X[:200])) <= {"sell", "neutral", "buy"}
    assert np.isclose(ens.weights_.sum(), 1.0)
    assert ens.report_.val_log_loss < 0.6
    clone = pickle.loads(pickle.dumps(ens))
    np.testing.assert_allclose(clone.predict_proba(X[:50]), ens.predict_proba(X[:50]))


def test_broken_expert_is_dropped_and_the_rest_predict():
    class Broken(type(make_expert("lightgbm"))):
        name = "broken"

        def _fit(self, data):
            raise MemoryError("simulated out of memory")

    X, y = synthetic()
    ens = ExpertEnsemble([Broken(), "xgboost"], {"xgboost": {"n_estimators": 60}}).fit(X, y)
    assert [e.name for e in ens.experts_] == ["xgboost"]
    dropped = [r for r in ens.report_.experts if r.error]
    assert len(dropped) == 1 and "simulated out of memory" in dropped[0].error
    assert ens.predict_proba(X[:10]).shape == (10, 3)


def test_all_experts_failing_raises_with_reasons():
    class Broken(type(make_expert("lightgbm"))):
        name = "broken"

        def _fit(self, data):
            raise ValueError("nope")

    X, y = synthetic(500)
    with pytest.raises(RuntimeError, match="nope"):
        ExpertEnsemble([Broken()]).fit(X, y)


def test_time_ordered_split_keeps_embargo_and_order():
    train, val = time_ordered_split(100, 0.2, embargo=5)
    assert train.max() + 5 < val.min()
    assert val.tolist() == list(range(80, 100))
    with pytest.raises(ValueError, match="too few"):
        time_ordered_split(20, 0.2, embargo=10)


def test_unknown_expert_is_named():
    with pytest.raises(ValueError, match="'catboostx'"):
        make_expert("catboostx")


def test_wrong_feature_count_is_named():
    X, y = synthetic(800)
    ens = ExpertEnsemble(["lightgbm"], {"lightgbm": {"n_estimators": 20}}).fit(X, y)
    with pytest.raises(ValueError, match=r"\(n, 12\)"):
        ens.predict_proba(X[:, :5])


# -- real candles, persistence, drift, sampling, round-robin, process workers ------------

SMALL = {
    "lightgbm": {"n_estimators": 60},
    "xgboost": {"n_estimators": 60},
    "catboost": {"n_estimators": 80},
    "mlp": {"max_epochs": 8},
}


@pytest.fixture(scope="module")
def eth_1h(shared_candles):
    df = pd.read_feather(shared_candles / "ETH_USDT-1h.feather")
    df = F.add_indicator_features(df, 14)
    df = F.add_basic_features(df)
    df["&s-direction"] = F.barrier_labels(df, 12, 100)
    df = df.dropna()
    cols = [c for c in df.columns if c.startswith("%")]
    return df[cols].to_numpy(np.float32), df["&s-direction"].to_numpy(), cols


def test_ensemble_on_real_candles_trains_predicts_saves_reloads(eth_1h, tmp_path):
    X, y, cols = eth_1h
    ens = ExpertEnsemble(
        list(SMALL), SMALL, embargo=12, feature_names=cols, use_processes=False
    ).fit(X[:-300], y[:-300])
    assert [e.name for e in ens.experts_] == list(SMALL)
    proba = ens.predict_proba(X[-300:])
    assert proba.shape == (300, 3) and np.allclose(proba.sum(axis=1), 1.0)
    assert np.isclose(ens.weights_.sum(), 1.0)
    lines = ens.report_.lines()
    assert all(any(line.strip().startswith(n) for line in lines) for n in SMALL)
    assert "feature drift (PSI" in lines[-1]
    meta = ens.report_.to_dict()
    assert {e["name"] for e in meta["experts"]} == set(SMALL) and meta["drift"]["psi"]

    path = tmp_path / "model.pkl"  # FreqAI's joblib save is a (cloud)pickle
    path.write_bytes(pickle.dumps(ens))
    clone = pickle.loads(path.read_bytes())
    np.testing.assert_allclose(clone.predict_proba(X[-300:]), proba, rtol=1e-6, atol=1e-9)
    for expert in ens.experts_:  # and every expert in its native format
        expert.save(tmp_path / expert.name)
        again = type(expert).load(tmp_path / expert.name)
        np.testing.assert_allclose(
            again.predict_proba(X[-50:]), expert.predict_proba(X[-50:]), rtol=1e-6, atol=1e-9
        )


def test_broken_expert_on_real_candles_is_dropped(eth_1h):
    class Broken(TorchExpert):
        name = "broken_net"

        def _train_on(self, device, data):
            raise RuntimeError("exploded")

    X, y, _ = eth_1h
    ens = ExpertEnsemble([Broken(), "lightgbm"], SMALL, embargo=12).fit(X, y)
    assert [e.name for e in ens.experts_] == ["lightgbm"]
    assert "exploded" in next(r.error for r in ens.report_.experts if r.error)
    assert ens.predict(X[:5]).shape == (5,)


def test_process_workers_train_torch_experts(eth_1h):
    """Torch experts go to a spawned worker process and come back fitted, on CPU."""
    X, y, _ = eth_1h
    ens = ExpertEnsemble(["lightgbm", "mlp"], SMALL, embargo=12).fit(X[:1500], y[:1500])
    workers = {r.name: r.worker for r in ens.report_.experts}
    assert workers == {"lightgbm": "thread", "mlp": "process"}
    mlp = ens.experts_[1]
    assert all(p.device.type == "cpu" for p in mlp.module.parameters())
    assert ens.predict_proba(X[:10]).shape == (10, 3)


def test_slow_expert_times_out_and_is_dropped():
    import time

    class Slow(type(make_expert("lightgbm"))):
        name = "slow"

        def _fit(self, data):
            time.sleep(3)
            super()._fit(data)

    X, y = synthetic(800)
    ens = ExpertEnsemble(
        [Slow(), "lightgbm"], {"lightgbm": {"n_estimators": 20}}, expert_timeout=0.5
    ).fit(X, y)
    assert [e.name for e in ens.experts_] == ["lightgbm"]
    assert "timed out" in next(r.error for r in ens.report_.experts if r.error)


def test_psi_detects_injected_drift():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(5000, 3))
    recent = rng.normal(size=(500, 3))
    recent[:, 1] += 1.0  # one standard deviation of drift in feature 1
    recent[:, 2] = recent[:, 2] * 1.3  # a milder change of scale in feature 2
    report = feature_drift(train, recent, ["stable", "shifted", "wider"])
    assert report.psi[0] < MODERATE
    assert report.psi[1] >= MAJOR
    assert report.status == "major" and report.top(1)[0][0] == "shifted"
    assert psi(train[:, 0], train[:, 0]) < 1e-3


def test_ensemble_reports_drift_of_recent_rows():
    X, y = synthetic(3000)
    X[-300:, 3] += 2.0  # the most recent rows drift in feature 3
    ens = ExpertEnsemble(["lightgbm"], {"lightgbm": {"n_estimators": 20}}, drift_rows=300)
    ens.fit(X, y)
    assert ens.report_.drift.status == "major"
    assert ens.report_.drift.top(1)[0][0] == "f3"


def test_stratified_downsampling_keeps_shares_and_order():
    codes = np.array([1] * 8000 + [0] * 1000 + [2] * 1000)
    keep = stratified_indices(codes, 1000, seed=1)
    assert keep.shape[0] == 1000 and np.all(np.diff(keep) > 0)
    assert np.bincount(codes[keep]).tolist() == [100, 800, 100]
    np.testing.assert_array_equal(keep, stratified_indices(codes, 1000, seed=1))
    assert stratified_indices(codes, None).shape[0] == codes.shape[0]
    X, y = synthetic(3000)
    ens = ExpertEnsemble(["lightgbm"], {"lightgbm": {"n_estimators": 10}}, max_train_rows=1000)
    ens.fit(X, y)
    assert ens.report_.n_train == 1000 and ens.report_.n_train_before_sampling > 2000


# -- round-robin over a simulated 8-GPU machine ------------------------------------------


def test_round_robin_hands_each_library_exactly_the_plans_device(monkeypatch):
    import catboost
    import lightgbm
    import xgboost

    info, caps = make_info("cuda", 8, usable=32), all_gpu_caps(8)
    seen: dict[str, dict] = {}

    class Intercepted(Exception):
        pass

    def record(name, params):
        seen[name] = dict(params)
        raise Intercepted(name)

    current = {}

    def lgb_train(params, *a, **k):
        record(current_name(), params)

    def xgb_train(params, *a, **k):
        record(current_name(), params)

    def cat_ctor(**params):
        record(current_name(), params)

    def torch_train_on(self, device, data):
        record(self.name, {"device": device, "threads": torch.get_num_threads()})

    def current_name():
        return current[threading.current_thread().name]

    from hyperphysics_strategy.ensemble.experts import base

    original_fit = base.Expert.fit

    def fit(self, data, placement=None):
        current[threading.current_thread().name] = self.name
        return original_fit(self, data, placement)

    from hyperphysics_strategy.ensemble.experts.param_check import library_parameter_names

    for library in ("lightgbm", "xgboost", "catboost"):  # cached lists, read off the real
        library_parameter_names(library)  # classes (run alone, the test built them patched)
    monkeypatch.setattr(base.Expert, "fit", fit)
    monkeypatch.setattr(lightgbm, "train", lgb_train)
    monkeypatch.setattr(xgboost, "train", xgb_train)
    monkeypatch.setattr(catboost, "CatBoostClassifier", cat_ctor)
    monkeypatch.setattr(TorchExpert, "_train_on", torch_train_on)

    names = list(EXPERT_REGISTRY)
    provider = functools.partial(planned_placements, info=info, capabilities=caps, env={})
    X, y = synthetic(600)
    ens = ExpertEnsemble(names, placement_provider=provider, use_processes=False)
    with pytest.raises(RuntimeError, match="every expert failed"):
        ens.fit(X, y)

    plan = DevicePlan.build(
        expert_libraries(names), names=names, info=info, capabilities=caps, env={}
    )
    assert sorted(seen) == sorted(names)
    for p in plan:
        expected = p.params()
        got = seen[p.task]
        assert p.device == Device("cuda", p.index % 8)
        if p.library == "torch":
            assert got["device"] == p.torch_device
            assert got["threads"] == p.threads
        else:
            assert {k: got[k] for k in expected} == expected, p.task


def imbalanced_noisy(n=6000, seed=0):
    """Mostly neutral labels and a weak, noisy signal (probabilities far from 0 and 1)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8)).astype(np.float32)
    score = 0.6 * X[:, 0] + rng.normal(size=n)
    y = np.where(score > 1.4, "buy", np.where(score < -1.4, "sell", "neutral"))
    return X, y


def test_calibrated_ensemble_beats_its_raw_experts_on_imbalanced_classes():
    X, y = imbalanced_noisy()
    params = {"lightgbm": {"n_estimators": 80}, "xgboost": {"n_estimators": 80}}
    fit_X, fit_y, test_X, test_y = X[:4500], y[:4500], X[4500:], y[4500:]
    codes = LabelCodec().encode(test_y)
    cal = ExpertEnsemble(expert_params=params).fit(fit_X, fit_y)
    # the raw experts (class-balanced, uncalibrated), averaged: what the blend starts from
    p_raw = np.mean([e.predict_proba(test_X) for e in cal.experts_], axis=0)
    p_cal = cal.predict_proba(test_X)
    np.testing.assert_allclose(p_cal.sum(axis=1), 1.0)
    assert log_loss(p_cal, codes) < log_loss(p_raw, codes) - 0.02
    # the prior shift trades balanced accuracy for likelihood: report, bound the loss
    ba_raw, ba_cal = balanced_accuracy(p_raw, codes), balanced_accuracy(p_cal, codes)
    print(f"balanced accuracy raw {ba_raw:.3f}, calibrated {ba_cal:.3f}")
    assert ba_cal > 1 / 3
    summary = cal.report_.to_dict()["calibration"]
    assert summary["target_prior"][1] > 0.6  # neutral dominates the training labels
    assert np.allclose(summary["source_prior"], 1 / 3, atol=1e-6)  # balanced experts
    assert any("calibration" in line for line in cal.report_.lines())
