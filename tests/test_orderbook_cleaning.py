"""Bad books are cleaned by the documented rules or flagged, never raised."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hyperphysics_strategy.engine.orderbook import FEATURE_COLUMNS, HyperbolicOrderBook, describe
from hyperphysics_strategy.engine.orderbook import cleaning as C

NUMERIC = [c for c in FEATURE_COLUMNS if c not in ("valid", "reason", "n_bid", "n_ask")]
BOOK = HyperbolicOrderBook(device="cpu", dtype=torch.float64, max_levels=10)

GOOD_B = [[99.0, 1.0], [98.0, 2.0], [97.0, 3.0]]
GOOD_A = [[101.0, 1.5], [102.0, 2.5], [103.0, 0.5]]
NAN = float("nan")

CASES = {
    "clean": (GOOD_B, GOOD_A, 0, True),
    "unsorted": ([[98.0, 2.0], [99.0, 1.0], [97.0, 3.0]], GOOD_A, C.UNSORTED, True),
    "duplicates": (
        [[99.0, 0.4], [99.0, 0.6], [98.0, 2.0], [97.0, 3.0]],
        GOOD_A,
        C.DUPLICATES,
        True,
    ),
    "nan_size": (GOOD_B + [[96.0, NAN]], GOOD_A, C.DROPPED_LEVELS, True),
    "zero_size": (GOOD_B, GOOD_A + [[104.0, 0.0]], C.DROPPED_LEVELS, True),
    "negative_price": ([[-5.0, 1.0]] + GOOD_B, GOOD_A, C.DROPPED_LEVELS, True),
    "inf_price": (GOOD_B, GOOD_A + [[math.inf, 1.0]], C.DROPPED_LEVELS, True),
    "empty_bid": ([], GOOD_A, C.EMPTY_BID, False),
    "all_bids_bad": ([[NAN, 1.0], [0.0, 1.0]], GOOD_A, C.EMPTY_BID | C.DROPPED_LEVELS, False),
    "empty_both": ([], [], C.EMPTY_BID | C.EMPTY_ASK, False),
    "crossed": ([[102.0, 1.0]] + GOOD_B, GOOD_A, C.CROSSED, False),
    "locked": ([[101.0, 1.0]] + GOOD_B, GOOD_A, C.CROSSED, False),
}


@pytest.mark.parametrize("name", list(CASES))
def test_single_snapshot_rules(name):
    bids, asks, reason, valid = CASES[name]
    f = BOOK.update(bids, asks)
    assert f["reason"] == reason, describe(f["reason"])
    assert f["valid"] is valid
    vals = np.array([f[c] for c in NUMERIC], dtype=float)
    assert np.isfinite(vals).all() if valid else np.isnan(vals).all()


def test_repairs_give_the_clean_books_features():
    ref = BOOK.update(GOOD_B, GOOD_A)
    for name in ("unsorted", "duplicates", "nan_size", "zero_size", "negative_price", "inf_price"):
        f = BOOK.update(*CASES[name][:2])
        for c in NUMERIC:
            assert f[c] == pytest.approx(ref[c], rel=1e-12), (name, c)


def test_batch_flags_every_case_like_update():
    L = 6
    names = list(CASES)
    B = np.full((len(names), L, 2), NAN)
    A = np.full((len(names), L, 2), NAN)
    for i, n in enumerate(names):
        b, a = CASES[n][:2]
        if b:
            B[i, : len(b)] = b
        if a:
            A[i, : len(a)] = a
    for backend in ("numpy", "torch"):
        for dt in (torch.float64, torch.float32):
            book = HyperbolicOrderBook(device="cpu", dtype=dt, max_levels=10, cpu_backend=backend)
            df = book.batch(B, A)
            for i, n in enumerate(names):
                assert df.reason.iloc[i] == CASES[n][2], (backend, n, describe(df.reason.iloc[i]))
                assert bool(df.valid.iloc[i]) is CASES[n][3]
            ok = df.valid.to_numpy()
            vals = df[NUMERIC].to_numpy(dtype=float)
            assert np.isfinite(vals[ok]).all() and np.isnan(vals[~ok]).all()


def test_missing_levels_in_the_middle_are_compacted_without_flag():
    B = np.array([[[99.0, 1.0], [NAN, NAN], [98.0, 2.0], [97.0, 3.0]]])
    A = np.array([[[101.0, 1.5], [102.0, 2.5], [103.0, 0.5], [NAN, NAN]]])
    df = BOOK.batch(B, A)
    ref = BOOK.update(GOOD_B, GOOD_A)
    assert df.reason.iloc[0] == 0 and df.n_bid.iloc[0] == 3
    for c in NUMERIC:
        assert df[c].iloc[0] == pytest.approx(ref[c], rel=1e-9)


def test_more_levels_than_max_levels_keeps_the_best():
    bids = [[100.0 - k, 1.0] for k in range(1, 16)]
    asks = [[100.0 + k, 1.0] for k in range(1, 16)]
    f = BOOK.update(bids[::-1], asks)
    assert f["n_bid"] == 10 and f["reason"] == C.UNSORTED
    g = BOOK.update(bids[:10], asks[:10])
    assert f["centroid_distance"] == pytest.approx(g["centroid_distance"], rel=1e-12)


def test_garbage_never_raises():
    rng = np.random.default_rng(5)
    for _ in range(300):
        nb, na = rng.integers(0, 8, 2)
        b = rng.choice([NAN, -1.0, 0.0, 1.0, 99.0, 100.0, 101.0, math.inf], size=(nb, 2))
        a = rng.choice([NAN, -1.0, 0.0, 1.0, 99.0, 100.0, 101.0, math.inf], size=(na, 2))
        f = BOOK.update(b, a)
        if f["valid"]:
            assert all(math.isfinite(f[c]) for c in NUMERIC)
