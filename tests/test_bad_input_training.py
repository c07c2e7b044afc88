"""Bad input a running bot meets: training (issue 16; see docs/reliability.md).

Degenerate training input, experts that fail (out of memory, a missing library, a crash),
too little history, constant features, duplicated timestamps and zero volume get a named
error or a correct degraded result, never false certainty.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from hyperphysics_strategy.engine.hardware import Device, Placement
from hyperphysics_strategy.ensemble import make_expert
from tests.bad_input import FAST, fit_data, freqai_predictor, labels

# -- no false certainty: degenerate training input gets a named error ------------------


def _ensemble():
    from hyperphysics_strategy.ensemble import ExpertEnsemble

    return ExpertEnsemble(
        experts=("lightgbm",), expert_params={"lightgbm": {"n_estimators": 5}}, stacking_folds=0
    )


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("one-class-training", r"training labels hold one class \('neutral'\)"),
        ("one-class-validation", r"validation labels hold one class \('sell'\)"),
        ("lengths", "training set: 480 feature rows, 479 labels"),
        ("negative-weights", "training weights hold 1 negative values"),
        ("nan-weights", "validation weights hold 1 NaN/inf values"),
        ("zero-weights", "training weights are all zero"),
        ("text-features", "training features must be numeric"),
    ],
)
def test_degenerate_training_input_is_refused_by_name(case, message):
    """One class gave p = 1.0 on every row ("val log-loss 0.0000"); X and y of different
    lengths trained silently; negative weights gave p(sell) = 1. Now: named errors."""
    data = fit_data()
    X, y, w = data.X, labels(data.y), data.weight.copy()
    Xv, yv, wv = data.X_val, labels(data.y_val), data.weight_val.copy()
    if case == "one-class-training":
        y = np.full(len(y), "neutral", dtype=object)
    elif case == "one-class-validation":
        yv = np.full(len(yv), "sell", dtype=object)
    elif case == "lengths":
        y = y[:-1]
    elif case == "negative-weights":
        w[3] = -1.0
    elif case == "nan-weights":
        wv[0] = np.nan
    elif case == "zero-weights":
        w[:] = 0.0
    elif case == "text-features":
        X = X.astype(str)
    with pytest.raises(ValueError, match=message):
        _ensemble().fit(X, y, w, Xv, yv, wv)


# -- experts that fail: out of memory, a missing library, a crash ---------------------


def _cpu_and_cuda(experts):
    """Placement provider of a machine with one (fake) CUDA device for the torch experts."""
    placements = [
        Placement("torch", Device("cuda", 0)) if e.library == "torch" else Placement(e.library)
        for e in experts
    ]
    return placements, 2


def test_gpu_out_of_memory_retries_the_expert_once_on_the_cpu(cuda_out_of_memory, caplog):
    """A torch expert that raises ``torch.cuda.OutOfMemoryError`` on its GPU is trained
    again on the CPU; the ensemble keeps it and reports where it trained."""
    from hyperphysics_strategy.ensemble import ExpertEnsemble

    devices = cuda_out_of_memory
    data = fit_data()
    ensemble = ExpertEnsemble(
        experts=("lightgbm", "mlp"),
        expert_params={"lightgbm": {"n_estimators": 5}, "mlp": FAST["mlp"]},
        placement_provider=_cpu_and_cuda,
        use_processes=False,  # the patch lives in this process
        stacking_folds=0,
    )
    with caplog.at_level("WARNING"):
        ensemble.fit(data.X, labels(data.y), data.weight, data.X_val, labels(data.y_val))
    assert devices == ["cuda:0", "cpu"]
    assert "ran out of memory on cuda:0" in caplog.text
    report = {e.name: e for e in ensemble.report_.experts}
    assert report["mlp"].error is None and report["mlp"].device == "cpu"
    assert [e.name for e in ensemble.experts_] == ["lightgbm", "mlp"]
    assert np.isfinite(ensemble.predict_proba(data.X_val)).all()


def test_missing_gpu_library_is_named_with_the_pip_command(monkeypatch):
    """An expert whose library does not import fails by name (with ``pip install``), at
    the FreqAI model's start-up; the experts that do not need it still load."""
    import sys

    from hyperphysics_strategy.ensemble import EXPERT_REGISTRY
    from hyperphysics_strategy.freqai import HyperPhysicsCatBoostClassifier, HyperPhysicsEnsemble

    monkeypatch.setitem(sys.modules, "catboost", None)  # import catboost -> ImportError
    monkeypatch.delitem(
        sys.modules, "hyperphysics_strategy.ensemble.experts.catboost_expert", raising=False
    )
    named = r"expert 'catboost' cannot be loaded.*pip install catboost"
    with pytest.raises(ImportError, match=named):
        EXPERT_REGISTRY["catboost"]
    config = {"freqai": {"model_training_parameters": {"experts": ["lightgbm", "catboost"]}}}
    with pytest.raises(ImportError, match="pip install catboost"):
        HyperPhysicsEnsemble(config)
    with pytest.raises(ImportError, match="pip install catboost"):
        HyperPhysicsCatBoostClassifier({"freqai": {}})
    assert make_expert("lightgbm").name == "lightgbm"


def test_an_expert_that_crashes_is_dropped_and_the_rest_still_blend(monkeypatch):
    """One expert raising inside its library is logged and dropped; the ensemble trains
    with the others and says which expert was dropped and why."""
    from hyperphysics_strategy.ensemble import ExpertEnsemble
    from hyperphysics_strategy.ensemble.experts.xgboost_expert import XGBoostExpert

    def crash(self, data, placement):
        raise RuntimeError("segfault-free stand-in for a library crash")

    monkeypatch.setattr(XGBoostExpert, "fit", crash)
    data = fit_data()
    ensemble = ExpertEnsemble(
        experts=("lightgbm", "xgboost"),
        expert_params={"lightgbm": {"n_estimators": 5}},
        use_processes=False,
        stacking_folds=0,
    )
    ensemble.fit(data.X, labels(data.y), data.weight, data.X_val, labels(data.y_val))
    report = {e.name: e for e in ensemble.report_.experts}
    assert report["xgboost"].error == "RuntimeError: segfault-free stand-in for a library crash"
    assert any("xgboost" in line and "dropped" in line for line in ensemble.report_.lines())
    assert [e.name for e in ensemble.experts_] == ["lightgbm"]
    p = ensemble.predict_proba(data.X_val)
    assert np.isfinite(p).all() and np.allclose(p.sum(axis=1), 1.0)


# -- too little history, constant features, duplicated timestamps, zero volume -------


def test_too_little_history_is_a_named_error():
    data = fit_data()
    with pytest.raises(ValueError, match="12 rows are too few for a 15% validation split"):
        _ensemble().fit(data.X[:12], labels(data.y[:12]))


def test_constant_features_train_without_false_certainty():
    """A constant column is ignored by every expert (no division by its zero spread);
    when every column is constant, the ensemble predicts one prior for all rows."""
    from hyperphysics_strategy.ensemble import ExpertEnsemble

    data = fit_data()
    X, Xv = data.X.copy(), data.X_val.copy()
    X[:, 3], Xv[:, 3] = 7.0, 7.0
    params = {"lightgbm": {"n_estimators": 5}, "mlp": FAST["mlp"]}
    ensemble = ExpertEnsemble(
        experts=("lightgbm", "mlp"), expert_params=params, use_processes=False, stacking_folds=0
    )
    ensemble.fit(X, labels(data.y), None, Xv, labels(data.y_val))
    assert all(e.error is None for e in ensemble.report_.experts)
    p = ensemble.predict_proba(Xv)
    assert np.isfinite(p).all() and ensemble.report_.val_balanced_accuracy > 0.6

    flat = np.ones_like(X)
    p = _ensemble().fit(flat, labels(data.y)).predict_proba(np.ones_like(Xv))
    assert np.isfinite(p).all() and np.allclose(p, p[0]) and p.max() < 0.9


def _candles_file(folder: Path, edit: Callable) -> Path:
    import pandas as pd

    from hyperphysics_strategy.demo import demo_data_dir

    candles = pd.read_feather(demo_data_dir() / "ETH_USDT-1h.feather")
    folder.mkdir(exist_ok=True)
    path = folder / "ETH_USDT-1h.feather"
    edit(candles).reset_index(drop=True).to_feather(path)
    return path


def test_duplicated_timestamps_are_dropped_before_the_features(tmp_path):
    """30 repeated candles in the file: ``hyperphysics train``'s loader (freqtrade's)
    drops them, and the features and labels are exactly those of the clean file."""
    import pandas as pd

    from hyperphysics_strategy.cli.train_data import load_training_set

    def repeat(c):
        return pd.concat([c, c.iloc[100:130]]).sort_values("date", kind="stable")

    X, y, _ = load_training_set(_candles_file(tmp_path / "clean", lambda c: c), None, 12)
    X2, y2, dates2 = load_training_set(_candles_file(tmp_path / "dup", repeat), None, 12)
    assert dates2.is_unique and len(X2) == len(X)
    pd.testing.assert_frame_equal(X2.reset_index(drop=True), X.reset_index(drop=True))
    assert (y2.to_numpy() == y.to_numpy()).all()


def test_zero_volume_candles_cost_at_most_the_rows_they_touch(tmp_path):
    """20 zero-volume candles (freqtrade also fills missing candles with volume 0): the
    features stay finite, and the only rows lost are candles with zero volume."""
    import pandas as pd

    from hyperphysics_strategy.cli.train_data import load_training_set

    zeroed = range(500, 520)

    def zero_volume(c):
        return c.assign(volume=c["volume"].where(~c.index.isin(zeroed), 0.0))

    clean = _candles_file(tmp_path / "clean", lambda c: c)
    zero = _candles_file(tmp_path / "zero", zero_volume)
    X, _, dates = load_training_set(clean, None, 12)
    X0, _, dates0 = load_training_set(zero, None, 12)
    assert np.isfinite(X0.to_numpy()).all()
    zero_dates = set(pd.read_feather(zero)["date"].iloc[list(zeroed)])
    lost = set(dates) - set(dates0)
    assert set(dates0) <= set(dates) and lost <= zero_dates, sorted(lost - zero_dates)[:3]


# -- predictions: columns by name, no class for a row without numbers (issue 23) -------


def _named(X, columns=None):
    import pandas as pd

    return pd.DataFrame(X, columns=columns or [f"%f{i}" for i in range(X.shape[1])])


def test_prediction_columns_are_matched_by_name_or_refused():
    """``predict_proba`` took a DataFrame's columns by position: the same rows with the
    columns reordered gave probabilities off by up to 0.97. The fitted names are kept
    (``feature_names_in_``): reordered columns are put back in order, missing or extra
    ones are a ``ValueError`` naming both, an array of the wrong width is refused."""
    data = fit_data()
    X, Xv = _named(data.X), _named(data.X_val)
    ensemble = _ensemble().fit(X, labels(data.y), None, data.X_val, labels(data.y_val))
    assert list(ensemble.feature_names_in_) == list(X.columns)
    want = ensemble.predict_proba(Xv)
    assert np.allclose(ensemble.predict_proba(Xv[Xv.columns[::-1]]), want)
    assert np.allclose(ensemble.predict_proba(Xv.to_numpy()), want)  # arrays: by position
    renamed = Xv.rename(columns={"%f5": "%g"})
    with pytest.raises(ValueError, match=r"missing \['%f5'\], extra \['%g'\]"):
        ensemble.predict_proba(renamed)
    with pytest.raises(ValueError, match="have 5 columns, the model was fitted on 6"):
        ensemble.predict_proba(Xv.to_numpy()[:, :5])
    # names given as a parameter (FreqAI's and the facade's way) are matched the same way
    named = _ensemble().set_params(feature_names=list(X.columns))
    named.fit(data.X, labels(data.y), None, data.X_val, labels(data.y_val))
    assert np.allclose(named.predict_proba(Xv[Xv.columns[::-1]]), named.predict_proba(Xv))


def test_rows_with_nan_or_inf_features_get_nan_probabilities():
    """An all-NaN row got p(buy) = 0.63 and an all-inf row p(sell) = 0.96; a row holding
    any NaN or inf now gets NaN probabilities and no class, and the other rows predict
    exactly as without it."""
    data = fit_data()
    ensemble = _ensemble().fit(data.X, labels(data.y), None, data.X_val, labels(data.y_val))
    Xv = data.X_val.copy()
    clean = ensemble.predict_proba(Xv)
    Xv[0], Xv[1], Xv[2, 4] = np.nan, np.inf, -np.inf
    p = ensemble.predict_proba(Xv)
    assert np.isnan(p[:3]).all() and np.allclose(p[3:], clean[3:])
    classes = ensemble.predict(Xv)
    assert all(c != c for c in classes[:3]) and set(classes[3:]) <= {"sell", "neutral", "buy"}


def test_freqai_rows_with_nan_or_inf_features_get_do_predict_0():
    """FreqAI fills NaN and inf features with 0 before the model and then replaces its
    own NaN flags by the outlier check's, so such a row got a confident class with
    ``do_predict`` 1. ``HyperPhysicsEnsemble.predict`` gives it NaN probabilities and
    ``do_predict`` 0; the other rows keep FreqAI's prediction."""
    data = fit_data()
    model, dk = freqai_predictor()
    X = dk.feature_pipeline.fit_transform(_named(data.X))[0]
    Xv = dk.feature_pipeline.transform(_named(data.X_val))[0]
    model.model = _ensemble().fit(X, labels(data.y), None, Xv, labels(data.y_val))
    frame = _named(data.X_val)
    frame.iloc[0], frame.iloc[1], frame.iloc[2, 3] = np.nan, np.inf, np.nan
    pred, do_predict = model.predict(frame, dk)
    classes = ["sell", "neutral", "buy"]
    assert pred.loc[:2, classes].isna().all().all() and pred.loc[:2, "&s-direction"].isna().all()
    assert list(do_predict[:3]) == [0, 0, 0] and (do_predict[3:] == 1).all()
    assert np.isfinite(pred.loc[3:, classes].to_numpy()).all()
