"""Probability calibration of each expert before the stacked blend.

Two steps, both fitted on out-of-sample predictions the ensemble already has (the
out-of-fold blocks and the validation block), so nothing is re-trained:

**Prior shift.** Experts train with class-balanced sample weights, so each learns
``p_bal(c | x)`` for a world whose class priors are ``pi_bal`` (uniform over the present
classes when the only weights are the balancing ones). By Bayes' rule the posterior under
the real priors ``pi`` is ``p(c | x) ∝ p_bal(c | x) * pi(c) / pi_bal(c)`` (renormalised
per row). Both priors are the class masses of the training rows: ``pi`` under the weights
the caller gave (ones by default), ``pi_bal`` under the weights the experts saw (the
caller's weights times the balancing weights). ``pi`` gets a pseudo-count of one row per
class, so a class absent from training keeps a small non-zero probability.

The shift changes the argmax towards the frequent classes; it lowers the plain log-loss
(the right metric for probabilities) and may lower the balanced accuracy, which the
class-balanced probabilities optimise. :func:`prior_shift` is exact and invertible;
callers that want balanced decisions can shift back with the priors swapped.

**Tempering around the prior.** One parameter ``T > 0`` per expert maps its
probabilities to ``log p'(c) = log pi(c) + (log p(c) - log pi(c)) / T`` (renormalised):
``T > 1`` pulls an over-confident forecast towards the training prior (``T -> inf`` is
the prior itself), ``T < 1`` sharpens an under-confident one, ``T = 1`` is the identity.
``T`` minimises the log-loss (a one-dimensional bounded search on ``log T``).

:func:`fit_expert_calibration` shifts each block of out-of-fold predictions with the
priors of the experts that made it and tempers **each expert** with its own ``T`` fitted
on the pooled blocks; then the stacker (:mod:`.stacking`) combines them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

from .class_axis import class_sum, softmax
from .metrics import log_loss

EPS = 1e-12
#: ``log T`` is searched in this interval (T from about 0.14 to 150).
LOG_T_BOUNDS = (-2.0, 5.0)


def class_priors(
    codes: np.ndarray,
    n_classes: int,
    sample_weight: np.ndarray | None = None,
    pseudo_count: float = 0.0,
) -> np.ndarray:
    """Weighted class frequencies of ``codes`` plus ``pseudo_count`` mean-weight rows per class."""
    codes = np.asarray(codes, dtype=np.int64)
    w = np.ones(codes.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
    mass = np.bincount(codes, weights=w, minlength=n_classes).astype(np.float64)
    mean_w = float(w.mean()) if w.size else 1.0
    mass = mass + pseudo_count * mean_w
    total = mass.sum()
    if total <= 0:
        return np.full(n_classes, 1.0 / n_classes)
    return mass / total


def prior_shift(
    proba: np.ndarray, source_prior: np.ndarray, target_prior: np.ndarray
) -> np.ndarray:
    """Re-weight posteriors from ``source_prior`` to ``target_prior`` (Bayes), renormalised.

    Classes with zero source prior (never seen in training) keep their probability
    unscaled: the model carries no information about them beyond what it predicts.
    """
    source = np.asarray(source_prior, float)
    ratio = np.where(source > 0, np.asarray(target_prior, float) / np.maximum(source, EPS), 1.0)
    out = np.asarray(proba, np.float64) * ratio  # classes on the last axis
    total = class_sum(out)
    return out / np.where(total > 0, total, 1.0)


def temper(proba: np.ndarray, prior: np.ndarray, temperature: float | np.ndarray) -> np.ndarray:
    """``p' ∝ prior * (p / prior) ** (1 / temperature)``, computed in log space.

    Classes on the last axis; ``temperature`` a number, or an array broadcasting against
    ``proba`` (one per expert of an ``(E, n, K)`` stack: ``(E, 1, 1)``). Where it is 1 the
    probabilities are returned as given."""
    proba = np.asarray(proba, np.float64)
    identity = np.asarray(temperature) == 1.0
    if identity.all():
        return proba
    log_prior = np.log(np.maximum(np.asarray(prior, float), EPS))
    logits = log_prior + (np.log(np.clip(proba, EPS, 1.0)) - log_prior) / temperature
    out = softmax(logits)
    return np.where(identity, proba, out) if identity.any() else out


def fit_temperature(
    proba: np.ndarray,
    codes: np.ndarray,
    prior: np.ndarray,
    sample_weight: np.ndarray | None = None,
) -> float:
    """The ``T`` of :func:`temper` minimising the weighted log-loss on ``(proba, codes)``."""
    codes = np.asarray(codes, dtype=np.int64)
    if codes.shape[0] == 0:
        return 1.0
    sw = np.ones(codes.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
    result = minimize_scalar(
        lambda log_t: log_loss(temper(proba, prior, float(np.exp(log_t))), codes, sw),
        bounds=LOG_T_BOUNDS,
        method="bounded",
        options={"xatol": 1e-4},
    )
    temperature = float(np.exp(result.x))
    # keep the identity unless tempering really helps (ties and flat objectives)
    if log_loss(temper(proba, prior, temperature), codes, sw) >= log_loss(proba, codes, sw):
        return 1.0
    return temperature


@dataclass
class Calibration:
    """What the ensemble applies to each expert's probabilities before the stacker."""

    source_prior: np.ndarray  # class prior the experts were trained under (balanced)
    target_prior: np.ndarray  # class prior of the training labels
    expert_temperatures: np.ndarray  # one temperature per expert

    def shift(self, proba: np.ndarray) -> np.ndarray:
        return prior_shift(proba, self.source_prior, self.target_prior)

    def expert(self, proba: np.ndarray, index: int) -> np.ndarray:
        """Expert ``index``'s probabilities shifted to the target prior and tempered alone."""
        temperature = float(self.expert_temperatures[index])
        return temper(self.shift(proba), self.target_prior, temperature)

    def experts(self, probas: Sequence[np.ndarray]) -> np.ndarray:
        """:meth:`expert` for every expert at once: ``(E, n, K)``, row ``e`` calibrated
        with expert ``e``'s temperature (a dozen numpy calls in all, not a dozen each)."""
        stacked = np.stack([np.asarray(p, np.float64) for p in probas])
        temperatures = np.asarray(self.expert_temperatures, float)[:, None, None]
        return temper(self.shift(stacked), self.target_prior, temperatures)

    def to_dict(self) -> dict[str, object]:
        return {
            "source_prior": [round(float(v), 6) for v in self.source_prior],
            "target_prior": [round(float(v), 6) for v in self.target_prior],
            "expert_temperatures": [round(float(t), 6) for t in self.expert_temperatures],
        }


@dataclass
class PredictionBlock:
    """Out-of-sample expert probabilities for a block of rows, with the priors (source:
    what the experts trained under, target: their training labels') of the experts that
    made them."""

    probas: list[np.ndarray]
    codes: np.ndarray
    source_prior: np.ndarray
    target_prior: np.ndarray
    sample_weight: np.ndarray | None = None


def fit_expert_calibration(
    blocks: Sequence[PredictionBlock], source_prior: np.ndarray, target_prior: np.ndarray
) -> tuple[Calibration, list[np.ndarray], np.ndarray, np.ndarray]:
    """Per-expert prior shift and temperature, fitted on pooled out-of-sample blocks.

    Each block's probabilities are shifted with the block's own priors (its experts were
    trained on other rows), pooled, and one temperature per expert minimises the pooled
    log-loss. Returns ``(calibration for the final experts, calibrated pooled probabilities
    per expert, pooled codes, pooled weights)``.
    """
    if not blocks:
        raise ValueError("no prediction blocks to calibrate on")
    n_experts = len(blocks[0].probas)
    pooled = [
        np.concatenate([prior_shift(b.probas[e], b.source_prior, b.target_prior) for b in blocks])
        for e in range(n_experts)
    ]
    codes = np.concatenate([b.codes for b in blocks]).astype(np.int64)
    weights = np.concatenate(
        [np.ones(b.codes.shape[0]) if b.sample_weight is None else b.sample_weight for b in blocks]
    )
    target = np.asarray(target_prior, float)
    temperatures = np.array([fit_temperature(p, codes, target, weights) for p in pooled])
    cal = Calibration(np.asarray(source_prior, float), target, temperatures)
    calibrated = [temper(p, target, t) for p, t in zip(pooled, temperatures, strict=True)]
    return cal, calibrated, codes, weights
