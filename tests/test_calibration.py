"""Calibration before the stacked blend: class priors, prior shift, tempering."""

import numpy as np
import pytest

from hyperphysics_strategy.ensemble.calibration import (
    class_priors,
    fit_temperature,
    prior_shift,
    temper,
)
from hyperphysics_strategy.ensemble.metrics import balanced_accuracy, log_loss
from hyperphysics_strategy.ensemble.weights import balanced_sample_weights

PRIOR = np.array([0.15, 0.7, 0.15])  # sell / neutral / buy, neutral dominates
MEANS = np.array([-1.0, 0.0, 1.0])


def gaussian_classes(n, seed, prior=PRIOR):
    """1-D Gaussian classes: returns codes and the exact posterior under uniform priors.

    The uniform-prior posterior is what an expert trained with class-balanced weights
    estimates; the Bayes posterior under ``prior`` is the best possible forecast.
    """
    rng = np.random.default_rng(seed)
    codes = rng.choice(3, size=n, p=prior)
    x = MEANS[codes] + rng.normal(size=n)
    lik = np.exp(-0.5 * (x[:, None] - MEANS[None, :]) ** 2)
    return codes, lik / lik.sum(axis=1, keepdims=True), lik * prior / (lik * prior).sum(1)[:, None]


def test_class_priors_with_weights_and_pseudo_count():
    codes = np.array([0, 1, 1, 1])
    np.testing.assert_allclose(class_priors(codes, 3), [0.25, 0.75, 0.0])
    np.testing.assert_allclose(class_priors(codes, 3, pseudo_count=1.0), [2 / 7, 4 / 7, 1 / 7])
    balanced = class_priors(codes, 3, balanced_sample_weights(codes, 3))
    np.testing.assert_allclose(balanced, [0.5, 0.5, 0.0])


def test_prior_shift_is_bayes_and_invertible():
    codes, balanced, bayes = gaussian_classes(5000, 0)
    uniform = np.full(3, 1 / 3)
    shifted = prior_shift(balanced, uniform, PRIOR)
    np.testing.assert_allclose(shifted, bayes, atol=1e-12)
    np.testing.assert_allclose(prior_shift(shifted, PRIOR, uniform), balanced, atol=1e-12)
    np.testing.assert_allclose(prior_shift(balanced, PRIOR, PRIOR), balanced)


def test_prior_shift_improves_log_loss_on_imbalanced_classes():
    codes, balanced, _ = gaussian_classes(20000, 1)
    source = class_priors(codes, 3, balanced_sample_weights(codes, 3))  # uniform
    target = class_priors(codes, 3, pseudo_count=1.0)
    shifted = prior_shift(balanced, source, target)
    before, after = log_loss(balanced, codes), log_loss(shifted, codes)
    assert after < before - 0.05, (before, after)
    # the argmax moves towards the frequent class: balanced accuracy is what the
    # class-balanced probabilities optimise, so it may only go down; report it
    ba_before, ba_after = balanced_accuracy(balanced, codes), balanced_accuracy(shifted, codes)
    print(f"log-loss {before:.4f} -> {after:.4f}, bal.acc {ba_before:.3f} -> {ba_after:.3f}")
    assert ba_after <= ba_before + 0.01
    # shifting back restores the balanced decisions exactly
    back = prior_shift(shifted, target, source)
    assert balanced_accuracy(back, codes) == pytest.approx(ba_before)


def test_prior_shift_leaves_unseen_classes_unscaled():
    proba = np.array([[0.0, 0.5, 0.5], [0.01, 0.9, 0.09]])
    out = prior_shift(proba, np.array([0.0, 0.5, 0.5]), np.array([0.01, 0.8, 0.19]))
    assert out[0, 0] == 0.0
    # row 1: the unseen class keeps 0.01 unscaled, the others scale by 0.8/0.5 and 0.19/0.5
    expected = np.array([0.01, 0.9 * 1.6, 0.09 * 0.38])
    np.testing.assert_allclose(out[1], expected / expected.sum())
    np.testing.assert_allclose(out.sum(axis=1), 1.0)


def test_temper_identity_and_limits():
    codes, _, bayes = gaussian_classes(100, 2)
    np.testing.assert_allclose(temper(bayes, PRIOR, 1.0), bayes)
    flat = temper(bayes, PRIOR, 1e6)
    np.testing.assert_allclose(flat, np.tile(PRIOR, (100, 1)), atol=1e-4)


def test_fit_temperature_undoes_overconfidence_and_keeps_calibrated():
    codes, _, bayes = gaussian_classes(20000, 3)
    overconfident = temper(bayes, PRIOR, 0.4)  # sharpened: T = 0.4
    t = fit_temperature(overconfident, codes, PRIOR)
    assert t == pytest.approx(1 / 0.4, rel=0.1)
    assert log_loss(temper(overconfident, PRIOR, t), codes) < log_loss(overconfident, codes)
    assert fit_temperature(bayes, codes, PRIOR) == pytest.approx(1.0, abs=0.1)


def test_class_axis_reductions_equal_numpys():
    from hyperphysics_strategy.ensemble.class_axis import class_max, class_sum, softmax

    rng = np.random.default_rng(0)
    for k in (1, 2, 3, 7):
        a = rng.normal(size=(4, 50, k))
        a[1, 3, 0] = np.nan
        np.testing.assert_array_equal(class_sum(a), a.sum(axis=-1, keepdims=True))
        np.testing.assert_array_equal(class_max(a), a.max(axis=-1, keepdims=True))
        logits = a[0]
        expected = np.exp(logits - logits.max(axis=1, keepdims=True))
        expected /= expected.sum(axis=1, keepdims=True)
        np.testing.assert_allclose(softmax(logits.copy()), expected, rtol=1e-15)


def test_all_experts_calibrated_at_once_equal_one_by_one():
    """``Calibration.experts`` (the blend's path) is ``Calibration.expert`` for each expert,
    bit for bit, a temperature of 1 included."""
    from hyperphysics_strategy.ensemble.calibration import Calibration

    rng = np.random.default_rng(1)
    probas = [rng.dirichlet(np.ones(3), size=200) for _ in range(4)]
    probas[2][5] = [1.0, 0.0, 0.0]  # a zero probability, clipped at EPS by the tempering
    cal = Calibration(np.full(3, 1 / 3), PRIOR, np.array([0.7, 1.0, 2.5, 1.3]))
    together = cal.experts(probas)
    assert together.shape == (4, 200, 3)
    for i, p in enumerate(probas):
        np.testing.assert_array_equal(together[i], cal.expert(p, i))
