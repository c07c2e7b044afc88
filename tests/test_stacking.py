"""The stacked blend: forward-chaining folds, the logistic stacker, the ensemble's use of them."""

import pickle

import numpy as np
import pytest

from hyperphysics_strategy.ensemble import ExpertEnsemble
from hyperphysics_strategy.ensemble.crossfit import forward_folds
from hyperphysics_strategy.ensemble.experts.lightgbm_expert import LightGBMExpert
from hyperphysics_strategy.ensemble.metrics import log_loss
from hyperphysics_strategy.ensemble.stacking import fit_stacker

from .synthetic import three_class_signal as synthetic

FAST = {"lightgbm": {"n_estimators": 60}, "xgboost": {"n_estimators": 60}}


# -- folds ----------------------------------------------------------------------------------
def test_forward_folds_predict_the_future_of_their_training_rows_after_the_embargo():
    folds = forward_folds(1000, 3, embargo=12)
    assert len(folds) == 3
    covered = np.concatenate([f.predict for f in folds])
    np.testing.assert_array_equal(covered, np.arange(250, 1000))  # chunks 1..3, in order
    for f in folds:
        assert f.fit[0] == 0 and f.fit[-1] == f.predict[0] - 13  # 12 rows left out


def test_forward_folds_skip_folds_with_too_few_training_rows():
    assert [f.predict[0] for f in forward_folds(400, 3, embargo=20, min_fit_rows=100)] == [200, 300]
    assert forward_folds(1000, 0) == []
    with pytest.raises(ValueError, match="folds must be >= 0"):
        forward_folds(1000, -1)


# -- the stacker ----------------------------------------------------------------------------
def _onehot_noisy(codes, rng, strength):
    p = np.full((codes.size, 3), (1 - strength) / 3)
    p[np.arange(codes.size), codes] += strength
    return p


def test_stacker_gives_an_expert_without_skill_little_weight():
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 3, 3000)
    skilled = _onehot_noisy(
        np.where(rng.random(3000) < 0.6, codes, rng.integers(0, 3, 3000)), rng, 0.5
    )
    noise = rng.dirichlet(np.ones(3), 3000)
    stacker = fit_stacker([skilled, noise], codes, 3)
    w = stacker.expert_weights()
    assert w[0] > 0.9 and w[1] < 0.1
    assert np.isclose(w.sum(), 1.0)
    out = stacker.predict([skilled, noise])
    assert log_loss(out, codes) < log_loss(skilled, codes)  # it also recalibrates


def test_stacker_of_a_useless_expert_forecasts_the_class_frequencies():
    rng = np.random.default_rng(2)
    codes = rng.choice(3, size=4000, p=[0.2, 0.5, 0.3])
    stacker = fit_stacker([rng.dirichlet(np.ones(3), 4000)], codes, 3)
    out = stacker.predict([rng.dirichlet(np.ones(3), 500)])
    np.testing.assert_allclose(out.mean(axis=0), [0.2, 0.5, 0.3], atol=0.03)
    assert out.std(axis=0).max() < 0.03


def test_stacker_gives_classes_absent_from_its_rows_zero_probability():
    rng = np.random.default_rng(3)
    codes = rng.choice([0, 2], size=600)  # no neutral rows: scikit-learn's binary case
    probas = [_onehot_noisy(codes, rng, 0.6)]
    out = fit_stacker(probas, codes, 3).predict(probas)
    assert np.all(out[:, 1] == 0.0)
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    assert (out.argmax(axis=1) == codes).mean() > 0.95
    single = fit_stacker(probas, np.full(600, 2), 3).predict(probas)
    np.testing.assert_array_equal(single, np.tile([0.0, 0.0, 1.0], (600, 1)))


def test_stacker_names_bad_input():
    p = [np.full((10, 3), 1 / 3)]
    with pytest.raises(ValueError, match="C must be positive"):
        fit_stacker(p, np.zeros(10, int), 3, C=0)
    with pytest.raises(ValueError, match="10 prediction rows but 9 labels"):
        fit_stacker(p, np.zeros(9, int), 3)
    stacker = fit_stacker(p, np.arange(10) % 3, 3)
    with pytest.raises(ValueError, match="blends 1 experts, got 2"):
        stacker.predict(p + p)


# -- the ensemble ---------------------------------------------------------------------------
def test_stacked_ensemble_fits_on_out_of_fold_rows_and_pickles():
    X, y = synthetic()
    ens = ExpertEnsemble(expert_params=FAST, embargo=5, stacking_folds=3).fit(X, y)
    summary = ens.report_.to_dict()["calibration"]
    assert summary["method"] == "stack"
    assert summary["stacking_blocks"] == 4  # three folds and the validation block
    assert summary["stacking_rows"] > 2 * ens.report_.n_validation
    assert len(summary["expert_temperatures"]) == 2
    assert np.isclose(ens.weights_.sum(), 1.0)
    assert ens.report_.val_log_loss < 0.6
    assert any("stacked logistic model" in line for line in ens.report_.lines())
    assert ens.oof_blocks_ is None  # not kept in memory unless asked for
    kept = ExpertEnsemble(expert_params=FAST, embargo=5, keep_oof_blocks=True).fit(X, y)
    assert len(kept.oof_blocks_) == 4
    assert sum(b.codes.shape[0] for b in kept.oof_blocks_) == summary["stacking_rows"]
    clone = pickle.loads(pickle.dumps(ens))
    np.testing.assert_allclose(clone.predict_proba(X[:50]), ens.predict_proba(X[:50]))


def test_stacked_ensemble_beats_each_member_out_of_sample_on_noisy_data():
    X, y = synthetic(6000, seed=4, noise=1.5)
    train, test = slice(0, 5000), slice(5000, None)
    ens = ExpertEnsemble(expert_params=FAST, stacking_folds=3).fit(X[train], y[train])
    codes = ens.codec_.encode(y[test])
    stacked = log_loss(ens.predict_proba(X[test]), codes)
    for expert in ens.experts_:
        assert stacked < log_loss(expert.predict_proba(X[test]), codes)


class _NeedsManyRows(LightGBMExpert):
    """LightGBM that refuses small training sets: the early folds fail, the final fit not."""

    name = "lightgbm"

    def _fit(self, data):
        if data.X.shape[0] < 1500:
            raise RuntimeError("too few rows")
        super()._fit(data)


def test_a_fold_whose_expert_fails_is_left_out_and_the_rest_blend(caplog):
    X, y = synthetic()
    expert = _NeedsManyRows({"n_estimators": 40})
    ens = ExpertEnsemble([expert, "xgboost"], FAST, stacking_folds=3).fit(X, y)
    summary = ens.report_.to_dict()["calibration"]
    assert summary["stacking_blocks"] == 2  # fold 3 (1,900 rows) and the validation block
    assert "stacking fold 1/3 left out (lightgbm: RuntimeError: too few rows)" in caplog.text
    assert ens.predict_proba(X[:20]).shape == (20, 3)


def test_no_folds_blend_on_the_validation_block_alone():
    X, y = synthetic()
    val_only = ExpertEnsemble(expert_params=FAST, stacking_folds=0).fit(X, y)
    assert val_only.report_.to_dict()["calibration"]["stacking_blocks"] == 1
    with pytest.raises(ValueError, match="stacking_C must be positive"):
        ExpertEnsemble(stacking_C=0).fit(X, y)
