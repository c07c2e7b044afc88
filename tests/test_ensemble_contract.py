"""``ExpertEnsemble`` follows scikit-learn's estimator contract: parameters stored as given,
fitted state ending in ``_``, ``classes_`` only after ``fit``, parameters checked by ``fit``."""

import numpy as np
import pytest

from hyperphysics_strategy.ensemble import ExpertEnsemble, make_expert


def synthetic(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 12)).astype(np.float32)
    score = X[:, 0] + 0.5 * X[:, 1] + 0.1 * rng.normal(size=n)
    y = np.where(score > 0.6, "buy", np.where(score < -0.6, "sell", "neutral"))
    return X, y


def test_parameters_are_stored_as_given_and_fitted_state_ends_in_underscore():
    from sklearn.base import clone

    def fitted_state(ens):  # scikit-learn's check_is_fitted rule: attributes ending in "_"
        return sorted(k for k in vars(ens) if k.endswith("_") and not k.startswith("__"))

    experts = ["lightgbm"]
    params = {"lightgbm": {"n_estimators": 20}}
    ens = ExpertEnsemble(experts, params, stacking_folds=0)
    assert ens.experts is experts and ens.expert_params is params  # nothing built
    assert not hasattr(ens, "classes_") and fitted_state(ens) == []
    with pytest.raises(RuntimeError, match="not fitted"):
        ens.predict_proba(np.zeros((2, 12), np.float32))
    got = ens.get_params()
    assert got["experts"] is experts and got["stacking_folds"] == 0
    assert set(got) == set(ExpertEnsemble().get_params())
    twin = clone(ens)
    assert twin.get_params()["expert_params"] == params and twin is not ens

    X, y = synthetic(1200)
    ens.fit(X, y)
    assert {"classes_", "experts_", "report_", "stacker_", "weights_"} <= set(fitted_state(ens))
    assert ens.experts == ["lightgbm"] and ens.experts is experts  # fit changed no parameter
    assert list(ens.classes_) == ["sell", "neutral", "buy"] and ens.n_features_in_ == 12
    assert [e.name for e in ens.experts_] == ["lightgbm"]
    assert ens.set_params(seed=3) is ens and ens.seed == 3
    with pytest.raises(ValueError, match="invalid parameter 'stacking_c'"):
        ens.set_params(stacking_c=1.0)


def test_fit_copies_expert_objects_and_checks_its_parameters():
    template = make_expert("lightgbm", {"n_estimators": 10})
    X, y = synthetic(1200)
    ens = ExpertEnsemble([template], stacking_folds=0).fit(X, y)
    assert ens.experts_[0] is not template and template.n_features is None  # left unfitted
    for bad, message in (
        ({"experts": []}, "at least one expert"),
        ({"stacking_folds": -1}, "stacking_folds must be >= 0"),
        ({"stacking_C": 0}, "stacking_C must be positive"),
    ):
        with pytest.raises(ValueError, match=message):
            ExpertEnsemble(**bad).fit(X, y)
