"""Compiled tree inference (``ensemble/experts/forest``): equal to each library's own
predictor on random and real-like data (NaN, zeros, ties with thresholds, a class
absent), through pickling and native save/load, with a fallback when the check fails."""

from __future__ import annotations

import logging
import pickle

import catboost
import lightgbm as lgb
import numpy as np
import pytest
import xgboost as xgb

from hyperphysics_strategy.ensemble import make_expert
from hyperphysics_strategy.ensemble.experts import FitData
from hyperphysics_strategy.ensemble.experts.forest import (
    CompiledForest,
    Unsupported,
    check_rows,
    from_catboost,
    from_lightgbm,
    from_xgboost,
)
from hyperphysics_strategy.ensemble.experts.forest.convert_lightgbm import lightgbm_threshold

TREES = ("lightgbm", "xgboost", "catboost", "xgboost_rf", "xgboost_dart", "catboost_alt")
# 60 boosting rounds each; the random forest and DART trees cost more per round
SMALL = {name: {"n_estimators": 60} for name in TREES} | {
    "xgboost_rf": {"n_estimators": 20},
    "xgboost_dart": {"n_estimators": 30},
}


def real_like(n=2500, f=10, seed=0, absent=None):
    """Heavy tails, integer-valued and mostly-zero columns, NaN gaps, little signal."""
    rng = np.random.default_rng(seed)
    X = rng.standard_t(3, size=(n, f)).astype(np.float32)
    X[:, 1] = rng.integers(-3, 4, size=n)  # ties: thresholds between integers
    X[:, 2] = np.where(rng.random(n) < 0.6, 0.0, rng.exponential(size=n))  # mostly zero
    X[:, 3] = np.round(X[:, 3], 1)
    X[rng.random((n, f)) < 0.05] = np.nan
    Z = np.nan_to_num(X)
    score = Z[:, 0] + 0.5 * Z[:, 1] + 0.3 * Z[:, 2] + 1.5 * rng.normal(size=n)
    y = np.digitize(score, np.quantile(score, [0.3, 0.7]))
    if absent is not None:
        y = np.where(y == absent, 1 if absent != 1 else 2, y)
    return X, y


def fit_data(X, y, split=0.8):
    s = int(len(y) * split)
    return FitData(X[:s], y[:s], np.ones(s), X[s:], y[s:], np.ones(len(y) - s), 3)


def hard_rows(compiled, X):
    """Validation rows, rows on split points and their float32 neighbours, NaN, zeros."""
    return check_rows(compiled, X, n=800, seed=7)


def finite_rows(rows):
    """The rows without NaN: on split points, their float32 neighbours, zeros (check_rows
    makes 800 such rows before it punches NaN holes)."""
    finite = np.ascontiguousarray(rows[np.isfinite(rows).all(axis=1)])
    assert len(finite) >= 800
    return finite


@pytest.fixture(scope="module")
def data():
    return real_like()


@pytest.mark.parametrize("name", TREES)
def test_compiled_equals_native(name, data):
    X, y = data
    expert = make_expert(name, SMALL[name], seed=1).fit(fit_data(X, y))
    assert expert.compiled is not None
    rows = hard_rows(expert.compiled, X)
    assert np.isnan(rows).any() and (rows == 0).any()
    native = expert._native_proba(rows)
    np.testing.assert_allclose(expert.predict_proba(rows), native, rtol=0, atol=1e-6)
    # odd batch sizes exercise the kernel's 16-row chains and 64-row blocks
    for n in (1, 15, 17, 65):
        np.testing.assert_allclose(expert.predict_proba(rows[:n]), native[:n], atol=1e-6)
    assert expert.predict_proba(rows[:0]).shape == (0, 3)


def test_lightgbm_raw_scores_are_bit_exact(data):
    X, y = data
    X = X.copy()
    X[::9, 4] = 1e-36  # LightGBM reads |x| <= 1e-35 as 0
    booster = lgb.train(
        {"objective": "multiclass", "num_class": 3, "verbosity": -1, "num_leaves": 15},
        lgb.Dataset(X, label=y),
        num_boost_round=40,
    )
    for num_iteration in (None, 7):
        compiled = from_lightgbm(booster, num_iteration)
        assert compiled.n_trees == 3 * (num_iteration or 40)
        rows = hard_rows(compiled, X)
        raw = booster.predict(rows, raw_score=True, num_iteration=num_iteration)
        np.testing.assert_array_equal(compiled.raw(rows), raw)
        proba = booster.predict(rows, num_iteration=num_iteration)
        np.testing.assert_allclose(compiled.predict_proba(rows), proba, rtol=0, atol=1e-15)
        finite = finite_rows(rows)  # the layout for inputs without NaN or inf
        raw = booster.predict(finite, raw_score=True, num_iteration=num_iteration)
        np.testing.assert_array_equal(compiled.raw(finite), raw)


def test_lightgbm_missing_as_zero_and_zero_band(data):
    """``use_missing=False`` (missing type None: NaN read as 0), thresholds at 0."""
    X, y = data
    X = X.copy()
    X[:, 5] = np.where(np.arange(len(X)) % 3 == 0, 0.0, X[:, 5])
    booster = lgb.train(
        {"objective": "multiclass", "num_class": 3, "verbosity": -1, "use_missing": False},
        lgb.Dataset(X, label=y),
        num_boost_round=20,
    )
    compiled = from_lightgbm(booster)
    rows = hard_rows(compiled, X)
    for tiny in (0.0, -0.0, 1e-36, -1e-36, 1e-35, -1e-35, 2e-35, -2e-35):
        rows[:50, 5] = tiny
        rows[50:100, 2] = tiny
        raw = booster.predict(rows, raw_score=True)
        np.testing.assert_array_equal(compiled.raw(rows), raw)


def test_lightgbm_threshold_rounding():
    z = float(np.float32(1e-35))
    t = np.array([0.1, -0.1, 1.0, 0.0, -z, -z / 2, z / 2, z, 3e38, -3e38, 1e300])
    T = lightgbm_threshold(t)
    for ti, Ti in zip(t, T, strict=True):
        # every float32 near T goes left exactly when LightGBM's rule says so
        with np.errstate(over="ignore"):
            around = (np.nextafter(Ti, np.float32(np.inf)), np.nextafter(Ti, np.float32(-np.inf)))
        for x in (Ti, *around):
            v = 0.0 if abs(float(x)) <= z else max(-1e300, min(1e300, float(x)))
            clipped = np.clip(x, -np.finfo(np.float32).max, np.finfo(np.float32).max)
            assert (clipped <= Ti) == (v <= ti), (ti, x)  # the compiled forest clips x


def test_xgboost_margins_are_bit_exact(data):
    X, y = data
    booster = xgb.train(
        {"objective": "multi:softprob", "num_class": 3, "max_depth": 4, "nthread": 1},
        xgb.DMatrix(X, label=y),
        num_boost_round=30,
    )
    for iterations in (None, 11):
        compiled = from_xgboost(booster, iterations)
        rows = hard_rows(compiled, X)
        rng = (0, iterations or 0)
        margin = booster.inplace_predict(rows, iteration_range=rng, predict_type="margin")
        np.testing.assert_array_equal(compiled.raw(rows), margin)
        proba = booster.inplace_predict(rows, iteration_range=rng)
        np.testing.assert_allclose(compiled.predict_proba(rows), proba, rtol=0, atol=1e-6)
        finite = finite_rows(rows)  # the layout for inputs without NaN or inf
        margin = booster.inplace_predict(finite, iteration_range=rng, predict_type="margin")
        np.testing.assert_array_equal(compiled.raw(finite), margin)


def test_catboost_raw_scores(data):
    X, y = data
    model = catboost.CatBoostClassifier(
        loss_function="MultiClass",
        iterations=40,
        depth=4,
        verbose=False,
        thread_count=1,
        allow_writing_files=False,
    )
    model.fit(X, y)
    compiled = from_catboost(model, X.shape[1])
    rows = hard_rows(compiled, X)
    raw = model.predict(rows, prediction_type="RawFormulaVal")
    np.testing.assert_allclose(compiled.raw(rows), raw, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ["lightgbm", "xgboost", "catboost"])
def test_a_class_absent_from_training(name):
    X, y = real_like(seed=3, absent=0)
    assert 0 not in y
    expert = make_expert(name, SMALL[name]).fit(fit_data(X, y))
    assert expert.compiled is not None
    rows = hard_rows(expert.compiled, X)
    proba = expert.predict_proba(rows)
    assert proba.shape == (len(rows), 3) and proba[:, 0].max() < 0.1
    np.testing.assert_allclose(proba, expert._native_proba(rows), atol=1e-6)


@pytest.mark.parametrize("name", ["lightgbm", "xgboost", "catboost"])
def test_pickle_and_native_round_trips(name, data, tmp_path):
    X, y = data
    expert = make_expert(name, SMALL[name]).fit(fit_data(X, y))
    rows = hard_rows(expert.compiled, X)
    proba = expert.predict_proba(rows)

    blob = pickle.dumps(expert)
    clone = pickle.loads(blob)
    assert "_compiled" not in clone.__dict__  # arrays are not pickled ...
    np.testing.assert_array_equal(clone.predict_proba(rows), proba)
    assert clone.compiled is not None  # ... but rebuilt from the native model

    expert.save(tmp_path / name)
    loaded = type(expert).load(tmp_path / name)
    assert loaded.__dict__.get("_compiled") is not None  # built and checked on load
    np.testing.assert_allclose(loaded.predict_proba(rows), proba, rtol=0, atol=1e-12)


def test_fallback_to_native_when_the_check_fails(data, monkeypatch, caplog):
    X, y = data
    original = CompiledForest.predict_proba

    def wrong(self, X, threads=1):
        return original(self, X, threads) + 1e-3

    monkeypatch.setattr(CompiledForest, "predict_proba", wrong)
    with caplog.at_level(logging.WARNING):
        expert = make_expert("lightgbm", SMALL["lightgbm"]).fit(fit_data(X, y))
    assert expert.compiled is None
    assert "native predictor, the compiled forest differs" in caplog.text
    rows = X[:100]
    native = expert._native_proba(rows)
    np.testing.assert_allclose(expert.predict_proba(rows), native / native.sum(1, keepdims=True))


def test_the_finite_input_layout_is_checked_too(data, monkeypatch, caplog):
    """Batches without NaN walk a second layout of the same trees: the check covers it."""
    from hyperphysics_strategy.ensemble.experts.forest import compiled

    X, y = data
    original = compiled.finite_tree

    def crossed(tree, n_features):  # every split sends rows the wrong way
        tree = original(tree, n_features)
        return type(tree)(tree.klass, tree.feature, tree.threshold, tree.high, tree.low, tree.leaf)

    monkeypatch.setattr(compiled, "finite_tree", crossed)
    with caplog.at_level(logging.WARNING):
        expert = make_expert("xgboost", SMALL["xgboost"]).fit(fit_data(X, y))
    assert expert.compiled is None
    assert "the compiled forest differs" in caplog.text
    monkeypatch.setattr(compiled, "finite_tree", original)
    assert make_expert("xgboost", SMALL["xgboost"]).fit(fit_data(X, y)).compiled is not None


def test_all_finite_finds_any_nan_or_inf():
    from hyperphysics_strategy.ensemble.experts.base import all_finite

    X = np.random.default_rng(0).normal(size=(300, 20)).astype(np.float32)
    assert all_finite(X) and all_finite(X[:0])
    for bad in (np.nan, np.inf, -np.inf):
        Y = X.copy()
        Y[123, 7] = bad
        assert not all_finite(Y)
    assert all_finite(np.full((2, 20), 3e38, dtype=np.float32))  # huge is still finite


def test_forests_walked_together_equal_each_alone(data):
    """``predict_experts`` hands every compiled forest's rows to the threads at once: the
    same probabilities as each expert alone, with and without NaN in the batch."""
    from hyperphysics_strategy.ensemble.experts.forest import predict_experts

    X, y = data
    experts = [
        make_expert(name, SMALL.get(name, {"max_epochs": 1}), seed=1).fit(fit_data(X, y))
        for name in ("lightgbm", "xgboost", "catboost", "mlp")
    ]
    rows = np.ascontiguousarray(np.resize(X, (1100, X.shape[1])))  # two threads' chunks
    holes = rows.copy()
    holes[::7, 3] = np.nan
    for batch in (rows, holes, rows[:5]):
        alone = [e.predict_proba(batch) for e in experts[:3]]
        together = predict_experts(experts, batch)
        for a, b in zip(alone, together[:3], strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(together[3], experts[3].predict_proba(batch), atol=1e-6)


def test_unsupported_models_predict_natively(data, caplog):
    X, y = data
    params = {**SMALL["lightgbm"], "linear_tree": True}
    with caplog.at_level(logging.DEBUG, logger="hyperphysics_strategy.ensemble.experts.forest"):
        expert = make_expert("lightgbm", params).fit(fit_data(np.nan_to_num(X), y))
    assert expert.compiled is None
    assert "native predictor (categorical splits or linear trees)" in caplog.text
    booster = lgb.train(
        {"objective": "multiclass", "num_class": 3, "verbosity": -1, "zero_as_missing": True},
        lgb.Dataset(X, label=y),
        num_boost_round=3,
    )
    with pytest.raises(Unsupported, match="zero as missing"):
        from_lightgbm(booster)
    booster = xgb.train({"objective": "multi:softmax", "num_class": 3}, xgb.DMatrix(X, y), 2)
    with pytest.raises(Unsupported, match="objective"):
        from_xgboost(booster)


def test_options_are_not_passed_to_the_library(data):
    X, y = data
    # CatBoost rejects unknown parameters: the options must be taken out first
    off = make_expert("catboost", {**SMALL["catboost"], "fast_inference": False}).fit(
        fit_data(X, y)
    )
    assert off.compiled is None
    two = make_expert("lightgbm", {**SMALL["lightgbm"], "inference_threads": 2}).fit(fit_data(X, y))
    rows = np.repeat(X, 2, axis=0)[:3000]  # enough rows for two threads
    np.testing.assert_array_equal(
        two._predict_proba(rows), two.compiled.predict_proba(rows, threads=1)
    )


def test_single_leaf_trees_and_wide_inputs():
    """Trees without a split (nothing to learn), and 300 features (negated columns)."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(400, 300)).astype(np.float32)
    X[rng.random(X.shape) < 0.1] = np.nan
    y = rng.integers(0, 3, size=400)
    for min_leaf, depth in ((300, 0), (40, None)):
        params = {"objective": "multiclass", "num_class": 3, "verbosity": -1}
        booster = lgb.train(
            {**params, "min_data_in_leaf": min_leaf}, lgb.Dataset(X, label=y), num_boost_round=5
        )
        compiled = from_lightgbm(booster)
        assert depth is None or (compiled.nodes.depth == depth).all()
        assert depth == 0 or compiled.negated
        rows = hard_rows(compiled, X)
        np.testing.assert_array_equal(compiled.raw(rows), booster.predict(rows, raw_score=True))


def test_default_inference_threads_follow_the_cores_this_process_may_use(monkeypatch):
    from hyperphysics_strategy.ensemble.experts.forest import gate

    monkeypatch.setattr(gate.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert gate.default_inference_threads() == 1
    monkeypatch.setattr(gate.os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
    assert gate.default_inference_threads() == 2
