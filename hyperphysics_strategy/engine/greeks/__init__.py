"""Option prices, Greeks and implied volatility on numpy arrays or torch tensors.

Black-Scholes-Merton (continuous dividend yield / carry) and Black-76, calls and puts.
numpy in -> numpy out; torch in -> torch out on the same device and dtype.  Units: vega
per 1.00 of volatility (``vega_per_vol_point``), theta per year (``theta_per_day``).
Layout: ``formulas`` (the reference: every formula, unit and domain rule once),
``black_scholes`` (validation and dispatch; the public ``bsm_*``/``black76_*``),
``_fused`` (the numba CPU float64 fast path), ``implied_vol``, ``_backend`` (numpy/torch
in and out, validation), ``terms`` (the keyword arguments, their units and defaults).
See ``docs/risk.md`` for limits and accuracy.
"""

from .black_scholes import (
    FIRST_ORDER,
    SECOND_ORDER,
    black76_charm,
    black76_delta,
    black76_gamma,
    black76_greeks,
    black76_price,
    black76_rho,
    black76_theta,
    black76_vanna,
    black76_vega,
    black76_volga,
    bsm_charm,
    bsm_delta,
    bsm_gamma,
    bsm_greeks,
    bsm_price,
    bsm_rho,
    bsm_theta,
    bsm_vanna,
    bsm_vega,
    bsm_volga,
)
from .formulas import ALL_GREEKS, theta_per_day, vega_per_vol_point
from .implied_vol import black76_implied_vol, bsm_implied_vol

__all__ = [
    "ALL_GREEKS",
    "FIRST_ORDER",
    "SECOND_ORDER",
    "black76_charm",
    "black76_delta",
    "black76_gamma",
    "black76_greeks",
    "black76_implied_vol",
    "black76_price",
    "black76_rho",
    "black76_theta",
    "black76_vanna",
    "black76_vega",
    "black76_volga",
    "bsm_charm",
    "bsm_delta",
    "bsm_gamma",
    "bsm_greeks",
    "bsm_implied_vol",
    "bsm_price",
    "bsm_rho",
    "bsm_theta",
    "bsm_vanna",
    "bsm_vega",
    "bsm_volga",
    "theta_per_day",
    "vega_per_vol_point",
]
