import math

import numpy as np
import pytest
from scipy.stats import norm

from hyperphysics_strategy.trading.sharpe import (
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probabilistic_sharpe_ratio,
    sharpe_ratio,
)


def test_probabilistic_sharpe_ratio_by_hand():
    # normal returns (skew 0, kurtosis 3): z = (0.1 - 0) * sqrt(99) / sqrt(1 + 0.5 * 0.01)
    z = 0.1 * math.sqrt(99) / math.sqrt(1.005)
    assert probabilistic_sharpe_ratio(0.1, 0.0, 100, 0.0, 3.0) == pytest.approx(norm.cdf(z))
    # negative skew and fat tails widen the estimate's error: less confidence
    assert probabilistic_sharpe_ratio(0.1, 0.0, 100, -1.0, 8.0) < norm.cdf(z)


def test_expected_max_sharpe_by_hand():
    # N = 10 trials, variance 0.01: 0.1 * ((1 - g) * Phi^-1(0.9) + g * Phi^-1(1 - 1/(10e)))
    g = 0.5772156649015329
    want = 0.1 * ((1 - g) * norm.ppf(0.9) + g * norm.ppf(1 - 1 / (10 * math.e)))
    assert expected_max_sharpe(10, 0.01) == pytest.approx(want)
    assert want == pytest.approx(0.1575, abs=1e-3)
    assert expected_max_sharpe(1, 0.01) == 0.0
    assert expected_max_sharpe(100, 0.01) > expected_max_sharpe(10, 0.01)


def test_deflated_sharpe_falls_with_the_number_of_trials():
    rng = np.random.default_rng(0)
    r = rng.normal(0.002, 0.01, 500)
    assert sharpe_ratio(r) == pytest.approx(r.mean() / r.std(ddof=1))
    one, sr, sr0 = deflated_sharpe_ratio(r, [sharpe_ratio(r)])
    assert sr0 == 0.0 and one == pytest.approx(probabilistic_sharpe_ratio(sr, 0, 500, *_moments(r)))
    many, _, sr0_many = deflated_sharpe_ratio(r, rng.normal(0.0, 0.08, 50))
    assert sr0_many > 0 and many < one
    with pytest.raises(ValueError, match="at least one trial"):
        deflated_sharpe_ratio(r, [np.nan])


def _moments(r):
    from scipy.stats import kurtosis, skew

    return float(skew(r)), float(kurtosis(r, fisher=False))
