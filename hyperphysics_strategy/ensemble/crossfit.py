"""Out-of-fold predictions over time-ordered rows, from forward-chaining folds.

The blend must be fitted on predictions for rows the experts did not train on. The
validation block gives one such block; the training rows give more when fresh copies of
the experts are trained on their beginning and predict what follows. With ``folds = F``
the ``n`` training rows are cut into ``F + 1`` equal chunks; fold ``k`` (1..F) trains on
the rows before chunk ``k`` minus an embargo of ``embargo`` rows (labels look that far
ahead) and predicts chunk ``k``. So every prediction is out of sample and in the
future of its training rows, as in live trading, and the blend sees several market
regimes instead of the last one only.

Each fold's copy early-stops on the chunk it predicts (the same convention as the final
experts on the validation block).
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .calibration import PredictionBlock, class_priors
from .experts import Expert, FitData, Placement
from .scheduling import ProcessMode, train_experts
from .weights import balanced_sample_weights

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fold:
    fit: np.ndarray  # row indices the fold's experts train on
    predict: np.ndarray  # row indices they predict (and early-stop on)


def forward_folds(n: int, folds: int, embargo: int = 0, min_fit_rows: int = 100) -> list[Fold]:
    """The forward-chaining folds over ``n`` rows; folds with too few rows are skipped."""
    if folds < 0:
        raise ValueError(f"folds must be >= 0, got {folds}")
    if folds == 0 or n <= 0:
        return []
    chunk = n // (folds + 1)
    out = []
    for k in range(1, folds + 1):
        start = k * chunk
        end = n if k == folds else (k + 1) * chunk
        fit_end = start - max(embargo, 0)
        if fit_end < min_fit_rows or end - start < 1:
            continue
        out.append(Fold(np.arange(fit_end), np.arange(start, end)))
    return out


def _fold_copy(template: Expert) -> Expert:
    """A fresh copy of an unfitted expert for one fold. It predicts its fold once, so
    tree experts skip building and checking their compiled predictor."""
    expert = copy.deepcopy(template)
    if expert.library != "torch":  # numba's forests load only with the tree experts
        from .experts.forest import CompiledTrees

        if isinstance(expert, CompiledTrees):
            expert.params["fast_inference"] = False
    return expert


def out_of_fold_blocks(
    templates: Sequence[Expert],
    placements: Sequence[Placement],
    workers: int,
    data: FitData,
    plain_weight: np.ndarray,
    *,
    folds: int,
    embargo: int,
    balance_classes: bool,
    use_processes: ProcessMode = None,
    timeout: float | None = None,
    backend: str = "local",
) -> list[PredictionBlock]:
    """Train fresh copies of the (unfitted) ``templates`` on the :func:`forward_folds` of
    ``data``'s training rows; return their predictions for the rows that follow each fold.

    ``plain_weight`` is the caller's weight of each training row (before class balancing):
    the blocks' target priors and sample weights. A fold with one class, or in which any
    copy fails, is left out (the blend needs every expert's prediction on a row).
    """
    k = data.n_classes
    X, y = data.X, data.y
    planned = forward_folds(len(y), folds, embargo)
    blocks = []
    for n, fold in enumerate(planned, 1):
        y_fit, y_pred = y[fold.fit], y[fold.predict]
        if np.unique(y_fit).size < 2:
            logger.info("stacking fold %d/%d skipped: one class in its rows", n, len(planned))
            continue
        w_fit, w_pred = plain_weight[fold.fit], plain_weight[fold.predict]
        if balance_classes:
            w_fit = w_fit * balanced_sample_weights(y_fit, k)
            w_pred = w_pred * balanced_sample_weights(y_pred, k)
        fold_data = FitData(X[fold.fit], y_fit, w_fit, X[fold.predict], y_pred, w_pred, k)
        started = time.perf_counter()
        outcomes = train_experts(
            [_fold_copy(t) for t in templates],
            fold_data,
            placements,
            workers,
            use_processes=use_processes,
            timeout=timeout,
            backend=backend,
        )
        failed = [f"{o.expert.name}: {o.error}" for o in outcomes if not o.ok]
        if failed:
            logger.warning("stacking fold %d/%d left out (%s)", n, len(planned), "; ".join(failed))
            continue
        blocks.append(
            PredictionBlock(
                [o.expert.predict_proba(X[fold.predict]) for o in outcomes],
                y_pred,
                class_priors(y_fit, k, w_fit),
                class_priors(y_fit, k, plain_weight[fold.fit], pseudo_count=1.0),
                plain_weight[fold.predict],
            )
        )
        logger.info(
            "stacking fold %d/%d: experts trained on %d rows predicted the next %d in %.1fs",
            n,
            len(planned),
            len(y_fit),
            len(y_pred),
            time.perf_counter() - started,
        )
    return blocks
