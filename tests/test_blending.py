"""Blending and calibration: prior shift, shrunk weights, tempering."""

import numpy as np
import pytest

from hyperphysics_strategy.ensemble.blending import blend, fit_blend_weights, fit_shrunk_weights
from hyperphysics_strategy.ensemble.calibration import (
    Calibration,
    class_priors,
    fit_calibrated_blend,
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


def test_shrunk_weights_choose_uniform_for_noise_and_keep_a_real_expert():
    rng = np.random.default_rng(4)
    n = 2000
    codes = rng.integers(0, 3, size=n)
    noise = [rng.dirichlet(np.full(3, 20.0), size=n) for _ in range(4)]
    weights, lam = fit_shrunk_weights(noise, codes, gap=12)
    assert weights.sum() == pytest.approx(1.0)
    assert lam >= 0.5  # weights fitted on pure noise do not carry to the next block
    good = np.full((n, 3), 0.2)
    good[np.arange(n), codes] = 0.6
    weights, lam = fit_shrunk_weights([good, noise[0]], codes, gap=12)
    assert lam <= 0.2 and weights[0] > 0.85


def test_shrunk_weights_fall_back_without_enough_rows():
    codes = np.array([0, 1, 2] * 10)
    p = [np.full((30, 3), 1 / 3), np.eye(3)[codes] * 0.5 + 0.5 / 3]
    weights, lam = fit_shrunk_weights(p, codes)
    assert lam == 0.0
    np.testing.assert_allclose(weights, fit_blend_weights(p, codes))


def test_calibrated_blend_beats_raw_blend_of_balanced_experts_out_of_sample():
    # two experts that estimate the uniform-prior posterior with independent noise,
    # the way class-balanced experts do; the data is imbalanced
    def experts(seed):
        codes, balanced, _ = gaussian_classes(3000, seed)
        rng = np.random.default_rng(seed + 100)
        out = []
        for scale in (0.3, 0.6):
            logits = np.log(balanced) + scale * rng.normal(size=balanced.shape)
            p = np.exp(logits)
            out.append(p / p.sum(axis=1, keepdims=True))
        return codes, out

    y_train, _ = experts(10)
    y_val, val = experts(11)
    y_test, test = experts(12)
    source = class_priors(y_train, 3, balanced_sample_weights(y_train, 3))
    target = class_priors(y_train, 3, pseudo_count=1.0)
    raw = blend(test, fit_blend_weights(val, y_val, balanced_sample_weights(y_val, 3)))
    cal, weights, val_out = fit_calibrated_blend(val, y_val, source, target, gap=12)
    calibrated = cal.finish(blend([cal.shift(p) for p in test], weights))
    assert np.allclose(val_out.sum(axis=1), 1.0)
    assert log_loss(calibrated, y_test) < log_loss(raw, y_test) - 0.05
    assert isinstance(cal, Calibration) and cal.temperature > 0
    assert set(cal.to_dict()) == {
        "source_prior",
        "target_prior",
        "temperature",
        "shrinkage",
        "expert_temperatures",
    }
    assert cal.to_dict()["expert_temperatures"] is None  # the simplex blend: one temperature
