"""The simplex blend, kept only as the walk-forward's comparison (``quality_walkforward.py``).

The ensemble used to blend its experts this way before the stacked blend replaced it; the
walk-forward in docs/ensemble.md showed it losing to the stacked blend and even to the
class prior (the "simplex blend" rows), so the package no longer ships it. On the
validation block only:

1. every expert's probabilities are shifted from the balanced prior the experts trained
   under to the training labels' prior (``calibration.prior_shift``);
2. simplex weights ``w_e >= 0``, ``sum w_e = 1`` minimise the log-loss of
   ``sum_e w_e P_e`` (convex in ``w``, so SLSQP finds the optimum);
3. the weights are shrunk towards uniform, ``(1 - lam) w + lam / E``, with ``lam`` chosen on
   a second time-ordered split of the validation block (weights fitted on its first half,
   scored on its second half after a gap of ``gap`` rows);
4. the blend is tempered around the target prior by one temperature
   (``calibration.fit_temperature``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize

from hyperphysics_strategy.ensemble.calibration import fit_temperature, prior_shift, temper
from hyperphysics_strategy.ensemble.metrics import log_loss

EPS = 1e-12
SHRINKAGE_GRID = tuple(np.round(np.linspace(0.0, 1.0, 11), 2))


def blend(probas: Sequence[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """Weighted sum of probability matrices, renormalised per row."""
    out = sum(w * p for p, w in zip(probas, weights, strict=True) if w > 0)
    return out / out.sum(axis=1, keepdims=True)


def fit_blend_weights(
    probas: Sequence[np.ndarray], codes: np.ndarray, sample_weight: np.ndarray
) -> np.ndarray:
    """Simplex weights minimising the weighted log-loss of the blend."""
    n_experts = len(probas)
    if n_experts == 1:
        return np.ones(1)
    rows = np.arange(codes.shape[0])
    Q = np.clip(np.stack([p[rows, codes] for p in probas], axis=1), EPS, 1.0)
    sw = sample_weight / sample_weight.sum()

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        mix = np.maximum(Q @ w, EPS)
        return float(-(sw * np.log(mix)).sum()), -(Q * (sw / mix)[:, None]).sum(axis=0)

    start = np.full(n_experts, 1.0 / n_experts)
    result = minimize(
        loss,
        start,
        jac=True,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * n_experts,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0}],
        options={"maxiter": 200, "ftol": 1e-10},
    )
    weights = np.clip(result.x if result.success else start, 0.0, None)
    return weights / weights.sum()


def fit_shrunk_weights(
    probas: Sequence[np.ndarray], codes: np.ndarray, gap: int, min_rows: int = 40
) -> np.ndarray:
    """Simplex weights shrunk towards uniform by the ``lam`` that scores best out of sample."""
    n, n_experts = codes.shape[0], len(probas)
    sw = np.ones(n)
    full = fit_blend_weights(probas, codes, sw)
    half = (n - gap) // 2
    if n_experts == 1 or half < min_rows:
        return full
    first, second = slice(0, half), slice(n - half, n)
    w_first = fit_blend_weights([p[first] for p in probas], codes[first], sw[first])
    uniform = np.full(n_experts, 1.0 / n_experts)
    held = [p[second] for p in probas]
    scores = [
        log_loss(blend(held, (1 - lam) * w_first + lam * uniform), codes[second])
        for lam in SHRINKAGE_GRID
    ]
    lam = float(SHRINKAGE_GRID[int(np.argmin(scores))])
    weights = (1 - lam) * full + lam * uniform
    return weights / weights.sum()


def simplex_predict(
    val_probas: Sequence[np.ndarray],
    val_codes: np.ndarray,
    test_probas: Sequence[np.ndarray],
    source_prior: np.ndarray,
    target_prior: np.ndarray,
    gap: int,
) -> np.ndarray:
    """Fit the simplex blend on the validation block and blend ``test_probas`` with it."""
    shifted = [prior_shift(p, source_prior, target_prior) for p in val_probas]
    weights = fit_shrunk_weights(shifted, np.asarray(val_codes, np.int64), gap)
    temperature = fit_temperature(blend(shifted, weights), val_codes, target_prior)
    test = blend([prior_shift(p, source_prior, target_prior) for p in test_probas], weights)
    return temper(test, target_prior, temperature)
