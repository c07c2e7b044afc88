"""Names of the order-book features: the columns of ``batch`` and the keys of ``update``."""

from __future__ import annotations

from ._single import N_OUT

DEPTHS = (1, 5, 10)

SIDE_HYP = (
    "hdist",
    "centroid_x",
    "centroid_y",
    "dispersion",
    "rho0",
    "lambda",
    "decay_rate",
    "fit_r2",
)

FEATURE_COLUMNS: tuple[str, ...] = (
    "valid",
    "reason",
    "n_bid",
    "n_ask",
    "mid",
    "spread",
    "spread_bps",
    "microprice",
    "microprice_bps",
    *(f"imbalance_{k}" for k in (*DEPTHS, "all")),
    *(f"bid_depth_{k}" for k in (*DEPTHS, "all")),
    *(f"ask_depth_{k}" for k in (*DEPTHS, "all")),
    "centroid_distance",
    *(f"bid_{n}" for n in SIDE_HYP),
    *(f"ask_{n}" for n in SIDE_HYP),
)
"""Column order of ``batch`` and key order of ``update``."""
assert len(FEATURE_COLUMNS) == 4 + N_OUT

SCALE_FREE_COLUMNS: tuple[str, ...] = tuple(
    c
    for c in FEATURE_COLUMNS
    if c.startswith("imbalance")
    or c in ("valid", "reason", "n_bid", "n_ask", "mid", "spread", "spread_bps", "microprice")
    or c == "microprice_bps"
    or c == "centroid_distance"
    or any(c.endswith(s) for s in SIDE_HYP if s != "rho0")
)
"""Columns unchanged when every size is multiplied by the same k > 0."""
