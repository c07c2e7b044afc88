"""Blend expert probabilities with log-loss-optimal weights on the simplex.

Given each expert's validation probabilities ``P_e`` (n x K) and the true codes ``y``,
the blend is ``P = sum_e w_e P_e`` with ``w_e >= 0`` and ``sum_e w_e = 1``; the weights
minimise the validation log-loss ``-mean_i log(sum_e w_e P_e[i, y_i])``. The problem is
convex in ``w`` (log of a linear function), so SLSQP finds the global optimum. An
expert without skill adds nothing to the likelihood and gets a weight near zero.

Weights fitted on one validation block chase its noise when the experts are close to
chance. :func:`fit_shrunk_weights` therefore shrinks them towards uniform,
``w = (1 - lam) * w_opt + lam / E``, and picks ``lam`` honestly with a second
time-ordered split of the validation block: weights fitted on its first half are scored
on its second half (after a gap of ``gap`` rows, the label horizon) for every ``lam`` of
a fixed grid; the best ``lam`` is then applied to the weights fitted on the whole block.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.optimize import minimize

from .metrics import log_loss

EPS = 1e-12


def fit_blend_weights(
    probas: Sequence[np.ndarray], codes: np.ndarray, sample_weight: np.ndarray | None = None
) -> np.ndarray:
    """Return simplex weights, one per expert, minimising the weighted validation log-loss."""
    if not probas:
        raise ValueError("no expert probabilities to blend")
    n_experts = len(probas)
    if n_experts == 1:
        return np.ones(1)
    rows = np.arange(codes.shape[0])
    # Q[i, e]: probability expert e gives the true class of row i.
    Q = np.clip(np.stack([p[rows, codes] for p in probas], axis=1), EPS, 1.0)
    sw = np.ones(codes.shape[0]) if sample_weight is None else np.asarray(sample_weight, float)
    sw = sw / sw.sum()

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
        constraints=[
            {"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones_like(w)}
        ],
        options={"maxiter": 200, "ftol": 1e-10},
    )
    weights = np.clip(result.x if result.success else start, 0.0, None)
    return weights / weights.sum()


#: Shrinkage values tried by :func:`fit_shrunk_weights`.
SHRINKAGE_GRID = tuple(np.round(np.linspace(0.0, 1.0, 11), 2))


def fit_shrunk_weights(
    probas: Sequence[np.ndarray],
    codes: np.ndarray,
    sample_weight: np.ndarray | None = None,
    gap: int = 0,
    grid: Sequence[float] = SHRINKAGE_GRID,
    min_rows: int = 40,
) -> tuple[np.ndarray, float]:
    """Simplex weights shrunk towards uniform; returns ``(weights, lam)``.

    ``lam`` is chosen on the second half of the (time-ordered) validation rows with
    weights fitted on the first half; with fewer than ``min_rows`` rows per half, or a
    single expert, no shrinkage is chosen (``lam = 0``).
    """
    codes = np.asarray(codes, dtype=np.int64)
    n, n_experts = codes.shape[0], len(probas)
    sw = np.ones(n) if sample_weight is None else np.asarray(sample_weight, float)
    full = fit_blend_weights(probas, codes, sw)
    half = (n - gap) // 2
    if n_experts == 1 or half < min_rows:
        return full, 0.0
    first, second = slice(0, half), slice(n - half, n)
    w_first = fit_blend_weights([p[first] for p in probas], codes[first], sw[first])
    uniform = np.full(n_experts, 1.0 / n_experts)
    held = [p[second] for p in probas]
    scores = [
        log_loss(blend(held, (1 - lam) * w_first + lam * uniform), codes[second], sw[second])
        for lam in grid
    ]
    lam = float(grid[int(np.argmin(scores))])
    weights = (1 - lam) * full + lam * uniform
    return weights / weights.sum(), lam


def blend(probas: Sequence[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """Weighted sum of probability matrices, renormalised per row."""
    out = np.zeros_like(probas[0], dtype=np.float64)
    for p, w in zip(probas, weights, strict=True):
        if w > 0:
            out += w * p
    return out / out.sum(axis=1, keepdims=True)
