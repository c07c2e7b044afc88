"""The stacked blend: a multinomial logistic model over the experts' log-probabilities.

Each expert's calibrated probabilities ``P_e`` (n x K) become features
``log P_e`` (clipped at ``LOG_FLOOR``); a multinomial logistic regression with an L2
penalty maps the ``E * K`` features to the K class probabilities:

    p(c | x) ∝ exp(b_c + sum_e sum_j W[c, (e, j)] log P_e(j | x))

It is fitted on out-of-fold predictions (see :mod:`.crossfit`), never on the rows the
experts trained on. With every coefficient at zero the model is the intercepts alone,
the class frequencies of those rows: the L2 penalty (strength ``1 / C`` per row sum, as
in scikit-learn) pulls towards that no-skill forecast, so an expert without skill gets
coefficients near zero. ``W[c, (e, c)] = 1`` for one expert and zero elsewhere is that
expert itself; coefficients of one on every expert would be the product of experts (a
log-linear pool), so the stacker covers both pooling rules and learns how much to trust
each expert from data it has not seen.

An expert's weight (reported and logged) is the share of the absolute coefficients that
belong to its block of K features.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .class_axis import softmax

#: log-probabilities are clipped here (probability 1e-9), so a zero never gives -inf.
LOG_FLOOR = float(np.log(1e-9))
#: Default inverse regularisation strength (scikit-learn's ``C``).
DEFAULT_C = 0.03


def stack_features(probas: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """``[log P_1 | log P_2 | ...]`` with log-probabilities clipped at ``LOG_FLOOR``;
    ``probas``: one ``(n, K)`` array per expert, or their ``(E, n, K)`` stack."""
    stacked = np.asarray(probas, dtype=np.float64)  # no copy for a float64 stack
    logs = np.maximum(np.log(np.maximum(stacked, 1e-300)), LOG_FLOOR)  # (E, n, K)
    e, n, k = logs.shape
    return logs.transpose(1, 0, 2).reshape(n, e * k)


@dataclass
class Stacker:
    """Fitted coefficients for all K classes (absent classes get probability zero)."""

    coef: np.ndarray  # (K, E * K)
    intercept: np.ndarray  # (K,), -inf for classes absent from the fitting rows
    C: float

    @property
    def n_experts(self) -> int:
        k = self.coef.shape[0]
        return self.coef.shape[1] // k

    def predict(self, probas: Sequence[np.ndarray]) -> np.ndarray:
        if len(probas) != self.n_experts:
            raise ValueError(f"the stacker blends {self.n_experts} experts, got {len(probas)}")
        return softmax(stack_features(probas) @ self.coef.T + self.intercept[None, :])

    def expert_weights(self) -> np.ndarray:
        """Each expert's share of the absolute coefficients (zeros if all are zero)."""
        k = self.coef.shape[0]
        mass = np.abs(self.coef).reshape(k, self.n_experts, k).sum(axis=(0, 2))
        total = mass.sum()
        return mass / total if total > 0 else np.zeros_like(mass)


def fit_stacker(
    probas: Sequence[np.ndarray],
    codes: np.ndarray,
    n_classes: int,
    sample_weight: np.ndarray | None = None,
    C: float = DEFAULT_C,
) -> Stacker:
    """Fit the stacked logistic model on ``(probas, codes)``; see the module docstring."""
    if not probas:
        raise ValueError("no expert probabilities to stack")
    if C <= 0:
        raise ValueError(f"stacking C must be positive, got {C}")
    codes = np.asarray(codes, dtype=np.int64)
    Z = stack_features(probas)
    if Z.shape[0] != codes.shape[0]:
        raise ValueError(f"{Z.shape[0]} prediction rows but {codes.shape[0]} labels")
    present = np.unique(codes)
    coef = np.zeros((n_classes, Z.shape[1]))
    intercept = np.full(n_classes, -np.inf)
    if present.size == 1:  # nothing to discriminate: the one class seen
        intercept[present[0]] = 0.0
        return Stacker(coef, intercept, C)
    from sklearn.linear_model import LogisticRegression  # only the stacked blend needs it

    model = LogisticRegression(C=C, max_iter=1000)
    model.fit(Z, codes, sample_weight=sample_weight)
    classes = model.classes_.astype(np.int64)
    if classes.size == 2:  # scikit-learn keeps one logit z for the second class
        coef[classes[0]], coef[classes[1]] = -model.coef_[0] / 2, model.coef_[0] / 2
        intercept[classes[0]], intercept[classes[1]] = (
            -model.intercept_[0] / 2,
            model.intercept_[0] / 2,
        )
    else:
        coef[classes] = model.coef_
        intercept[classes] = model.intercept_
    return Stacker(coef, intercept, C)
