"""How long an expert takes to train, and the longest-first order that follows from it.

Lanes pull experts from their device's queue. Handing out the longest jobs first (the LPT
rule, Graham 1969: within 4/3 of the best makespan) keeps a slow expert, the transformer
above all, from starting last and trailing alone while the other lanes sit idle.

The expected time of an expert is what it took per training row the last time it trained
on that kind of device in this process (FreqAI retrains the same experts every cycle),
times the rows of this round. Before its first measurement an expert gets a prior: its
relative cost in ``PRIOR_COST``, put on the scale of the experts already measured.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from .experts import Expert, Placement

#: Relative training cost before a measurement: seconds on one CPU thread for 4,800 rows
#: x 40 features with each expert's defaults, rounded (one run of the 12 experts through
#: ``Expert.fit`` on the development machine; only the order matters). Unknown experts
#: count as the most expensive, so they are never the ones left trailing.
PRIOR_COST: dict[str, float] = {
    "transformer": 300.0,
    "xgboost_dart": 80.0,
    "catboost_alt": 55.0,
    "tabnet": 30.0,
    "tide": 25.0,
    "xgboost": 23.0,
    "xgboost_rf": 22.0,
    "catboost": 18.0,
    "mlp": 15.0,
    "nbeats": 13.0,
    "lightgbm": 6.0,
    "kan": 5.0,
}
#: The training rows ``PRIOR_COST`` was measured on.
PRIOR_ROWS = 4_800

_lock = threading.Lock()
_seconds_per_row: dict[tuple[str, str], float] = {}


def _device_kind(device: str) -> str:
    return (device or "cpu").split(":")[0]


def record(name: str, device: str, seconds: float, rows: int) -> None:
    """Remember that expert ``name`` trained on ``rows`` rows in ``seconds`` on ``device``."""
    if rows > 0 and seconds > 0:
        with _lock:
            _seconds_per_row[(name, _device_kind(device))] = seconds / rows


def expected_seconds(name: str, device: str, rows: int) -> float | None:
    """Seconds ``name`` is expected to train on ``rows`` rows on ``device``; None before a
    measurement on that kind of device."""
    with _lock:
        per_row = _seconds_per_row.get((name, _device_kind(device)))
    return None if per_row is None else per_row * rows


def estimated_seconds(
    indices: Sequence[int], experts: Sequence[Expert], placements: Sequence[Placement], rows: int
) -> dict[int, float]:
    """Expected training seconds of each of ``indices`` on its placement, ``rows`` rows.

    A measured expert is expected to take its measured time; an unmeasured one its
    ``PRIOR_COST`` scaled by the median ratio of measured time to prior among the measured
    ones, or by ``rows / PRIOR_ROWS`` when none is measured (the priors' own scale), so
    that the estimates of different callers (pairs) can be compared. Unknown experts get
    the largest prior.
    """
    top = max(PRIOR_COST.values())
    prior = {i: PRIOR_COST.get(experts[i].name, top) for i in indices}
    devices = {i: str(placements[i].device) for i in indices}
    measured = {
        i: t
        for i in indices
        if (t := expected_seconds(experts[i].name, devices[i], rows)) is not None
    }
    scale = (
        float(np.median([measured[i] / prior[i] for i in measured]))
        if measured
        else rows / PRIOR_ROWS
    )
    return {i: measured.get(i, prior[i] * scale) for i in indices}


def longest_first(
    indices: Sequence[int], experts: Sequence[Expert], placements: Sequence[Placement], rows: int
) -> list[int]:
    """``indices`` ordered by :func:`estimated_seconds`, longest first (ties keep the order)."""
    expected = estimated_seconds(indices, experts, placements, rows)
    return sorted(indices, key=lambda i: -expected[i])


def clear() -> None:
    """Forget every measurement (tests)."""
    with _lock:
        _seconds_per_row.clear()
