"""Risk engine: VaR / Expected Shortfall (historical, parametric, Monte Carlo, rolling),
VaR backtests (Kupiec, Christoffersen) and ``GPURiskEngine``.

VaR and ES are positive loss numbers (fractions of position value) computed from
per-period returns (gains positive).  Layout: ``var`` (the reference: empirical quantile,
parametric forms, formulas and examples), ``monte_carlo``, ``rolling`` (the same
estimators over every trailing window), ``backtest``, ``engine`` (``GPURiskEngine``).
See ``docs/risk.md``.
"""

from .backtest import (
    CoverageTest,
    backtest_var,
    christoffersen_independence,
    conditional_coverage,
    exceedances,
    kupiec_pof,
)
from .engine import METHODS, GPURiskEngine
from .monte_carlo import MonteCarloDraws, ewma_volatility, mc_var_es
from .rolling import rolling_historical, rolling_monte_carlo, rolling_parametric
from .var import historical_var_es, parametric_var_es, sample_moments, tail_count

__all__ = [
    "METHODS",
    "CoverageTest",
    "GPURiskEngine",
    "MonteCarloDraws",
    "backtest_var",
    "christoffersen_independence",
    "conditional_coverage",
    "ewma_volatility",
    "exceedances",
    "historical_var_es",
    "kupiec_pof",
    "mc_var_es",
    "parametric_var_es",
    "rolling_historical",
    "rolling_monte_carlo",
    "rolling_parametric",
    "sample_moments",
    "tail_count",
]
