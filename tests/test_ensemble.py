import numpy as np
import pytest

from hyperphysics_strategy.ensemble import ExpertEnsemble, make_expert
from hyperphysics_strategy.ensemble.blending import fit_blend_weights
from hyperphysics_strategy.ensemble.experts import EXPERT_REGISTRY, FitData, Placement
from hyperphysics_strategy.ensemble.labels import LabelCodec
from hyperphysics_strategy.ensemble.splits import time_ordered_split


def synthetic(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 12)).astype(np.float32)
    score = X[:, 0] + 0.5 * X[:, 1] + 0.1 * rng.normal(size=n)
    y = np.where(score > 0.6, "buy", np.where(score < -0.6, "sell", "neutral"))
    return X, y


@pytest.mark.parametrize("name", sorted(EXPERT_REGISTRY))
def test_each_expert_learns_and_round_trips(name, tmp_path):
    X, y = synthetic()
    codec = LabelCodec()
    codes = codec.encode(y)
    data = FitData(X[:2400], codes[:2400], np.ones(2400), X[2400:], codes[2400:], np.ones(600), 3)
    expert = make_expert(name, {"n_estimators": 120}).fit(data, Placement(threads=1))
    proba = expert.predict_proba(X[2400:])
    assert proba.shape == (600, 3)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert np.mean(proba.argmax(axis=1) == codes[2400:]) > 0.8  # chance is about 0.45
    expert.save(tmp_path / name)
    loaded = type(expert).load(tmp_path / name)
    np.testing.assert_allclose(loaded.predict_proba(X[2400:]), proba, rtol=1e-6, atol=1e-9)


def test_expert_gives_zero_mass_to_a_class_it_never_saw():
    X, y = synthetic()
    y = np.where(y == "sell", "neutral", y)  # no sell labels at all
    ens = ExpertEnsemble(["lightgbm"], {"lightgbm": {"n_estimators": 60}}).fit(X, y)
    proba = ens.predict_proba(X[:100])
    assert proba.shape == (100, 3)
    assert proba[:, 0].max() < 0.05


def test_ensemble_predicts_declared_classes_and_pickles():
    import pickle

    X, y = synthetic()
    ens = ExpertEnsemble(
        expert_params={"lightgbm": {"n_estimators": 80}, "xgboost": {"n_estimators": 80}}
    )
    ens.fit(X, y)
    assert list(ens.classes_) == ["sell", "neutral", "buy"]
    assert set(ens.predict(X[:200])) <= {"sell", "neutral", "buy"}
    assert np.isclose(ens.weights.sum(), 1.0)
    assert ens.report.val_log_loss < 0.6
    clone = pickle.loads(pickle.dumps(ens))
    np.testing.assert_allclose(clone.predict_proba(X[:50]), ens.predict_proba(X[:50]))


def test_broken_expert_is_dropped_and_the_rest_predict():
    class Broken(type(make_expert("lightgbm"))):
        name = "broken"

        def _fit(self, data):
            raise MemoryError("simulated out of memory")

    X, y = synthetic()
    ens = ExpertEnsemble([Broken(), "xgboost"], {"xgboost": {"n_estimators": 60}}).fit(X, y)
    assert [e.name for e in ens.experts] == ["xgboost"]
    dropped = [r for r in ens.report.experts if r.error]
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


def test_blend_gives_a_useless_expert_near_zero_weight():
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 3, size=2000)
    good = np.full((2000, 3), 0.1)
    good[np.arange(2000), codes] = 0.8
    useless = np.full((2000, 3), 1 / 3)
    w = fit_blend_weights([good, useless], codes)
    assert w[0] > 0.95 and w[1] < 0.05


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
