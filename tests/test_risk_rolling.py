"""Rolling VaR/ES equals a naive per-window loop; warm-up NaN; batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hyperphysics_strategy.engine.risk import GPURiskEngine, tail_count
from hyperphysics_strategy.engine.risk.rolling import rolling_top_losses


def _naive_rolling_reference(returns: np.ndarray, window: int, levels):
    """Plain loop over the windows: sort each, take the m-th largest loss and the mean of
    the m largest (m = tail_count(window, level))."""
    n = len(returns)
    out_v = np.full((n, len(levels)), np.nan)
    out_e = np.full((n, len(levels)), np.nan)
    for t in range(window - 1, n):
        losses = np.sort(-returns[t - window + 1 : t + 1])[::-1]
        for j, c in enumerate(levels):
            m = tail_count(window, c)
            out_v[t, j] = losses[m - 1]
            out_e[t, j] = losses[:m].mean()
    return out_v, out_e


def test_rolling_historical_equals_naive_loop():
    rng = np.random.default_rng(0)
    x = rng.standard_t(3, 2500) * 0.01
    x[700:760] *= 8.0  # a volatility burst: candidates cluster
    x[1000:1010] = 0.0  # ties
    eng = GPURiskEngine(device="cpu")
    for window, levels in ((288, (0.95, 0.99)), (50, (0.9, 0.975)), (17, (0.5,))):
        ref_v, ref_e = _naive_rolling_reference(x, window, levels)
        v, e = eng.rolling_var(x, window, levels)
        assert v.shape == (x.size, len(levels))
        assert np.isnan(v[: window - 1]).all() and not np.isnan(v[window - 1 :]).any()
        np.testing.assert_array_equal(v, ref_v)
        np.testing.assert_allclose(e, ref_e, rtol=1e-13, atol=0)


def test_rolling_top_losses_with_heavy_ties_falls_back_correctly():
    x = np.zeros(600)
    x[::7] = -0.01
    t = torch.tensor(-x).unsqueeze(0)
    top = rolling_top_losses(t, 100, 10)
    for j in (0, 123, 500):
        np.testing.assert_array_equal(top[0, j].numpy(), np.sort(-x[j : j + 100])[::-1][:10])


@pytest.mark.parametrize("method", ["normal", "student_t", "cornish_fisher", "mc_normal"])
def test_rolling_parametric_equals_point_estimate_on_each_window(method):
    rng = np.random.default_rng(4)
    x = rng.standard_t(5, 800) * 0.01 + 0.3  # offset: tests the centred prefix sums
    eng = GPURiskEngine(device="cpu", seed=9)
    window = 120
    v, e = eng.rolling_var(x, window, (0.95, 0.99), method)
    for t in (window - 1, 400, 799):
        pv, pe = eng.var(x[t - window + 1 : t + 1], (0.95, 0.99), method)
        np.testing.assert_allclose(v[t], pv, rtol=1e-9)
        np.testing.assert_allclose(e[t], pe, rtol=1e-9)


def test_rolling_batch_and_torch_output():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 0.01, (3, 400))
    eng = GPURiskEngine(device="cpu")
    v, e = eng.rolling_var(torch.tensor(x), 100, 0.99)
    assert isinstance(v, torch.Tensor) and v.shape == (3, 400)
    v1, _ = eng.rolling_var(x[1], 100, 0.99)
    np.testing.assert_array_equal(v[1].numpy(), v1)
    vt, _ = eng.rolling_var(x[1], 100, 0.99, "mc_student_t", df=4)
    assert np.all(vt[99:] > 0)
