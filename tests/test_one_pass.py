"""FreqAI's classifier ``predict`` asks the model for labels and then for probabilities on
the same frame; ``HyperPhysicsEnsemble`` answers both from one ensemble pass."""

from __future__ import annotations

import numpy as np
import pytest

from hyperphysics_strategy.ensemble import ExpertEnsemble
from hyperphysics_strategy.freqai.one_pass import OnePass, one_pass


@pytest.fixture(scope="module")
def predictor():
    from tests.bad_input import fitted_freqai_predictor

    return fitted_freqai_predictor({"lightgbm": {"n_estimators": 5}})


def test_one_ensemble_pass_per_prediction(predictor, monkeypatch):
    model, dk, frame = predictor
    ensemble = model.model
    calls = []
    original = ExpertEnsemble.predict_proba

    def counted(self, X):
        calls.append(len(X))
        return original(self, X)

    monkeypatch.setattr(ExpertEnsemble, "predict_proba", counted)
    pred_df, _ = model.predict(frame, dk)
    assert calls == [len(frame)]  # the two-pass FreqAI path made two calls
    assert model.model is ensemble  # given back after the call
    features = dk.feature_pipeline.transform(frame.copy())[0]
    proba = original(ensemble, features)
    classes = list(ensemble.classes_)
    np.testing.assert_array_equal(pred_df[classes].to_numpy(), proba)
    labels = pred_df[dk.label_list[0]].to_numpy()
    np.testing.assert_array_equal(labels, ensemble.labels(proba))


def test_another_frame_or_an_error_goes_to_the_model():
    calls = []

    class Model:
        classes_ = ("a", "b")

        def predict_proba(self, X):
            calls.append(X)
            return np.asarray(X, dtype=float)

        def labels(self, proba):
            return np.where(proba[:, 0] > proba[:, 1], "a", "b")

    first, second = np.array([[0.9, 0.1]]), np.array([[0.2, 0.8]])
    served = OnePass(Model())
    assert list(served.predict(first)) == ["a"]
    np.testing.assert_array_equal(served.predict_proba(first), first)
    assert len(calls) == 1  # the same frame: the probabilities of the labels' pass
    np.testing.assert_array_equal(served.predict_proba(second), second)  # not the cached one
    assert len(calls) == 2
    assert served.classes_ == ("a", "b")

    class Owner:
        model = Model()

    owner, original = Owner(), Owner.model
    with pytest.raises(RuntimeError), one_pass(owner):
        assert isinstance(owner.model, OnePass)
        raise RuntimeError("FreqAI failed")
    assert owner.model is original
