"""The fused numba kernel (the CPU float64 fast path): its own elementary functions
against mpmath, and every output against the reference ``formulas``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hyperphysics_strategy.engine.greeks import black76_greeks, bsm_greeks


def test_fused_kernel_elementary_functions_against_mpmath():
    mp = pytest.importorskip("mpmath")
    from hyperphysics_strategy.engine.greeks import _fused

    rng = np.random.default_rng(7)
    x = np.concatenate([rng.uniform(-38, 38, 2000), rng.uniform(-8, 8, 2000), [0.0, -0.0]])
    got = _fused.ncdf(x)
    ref = np.array([float(mp.ncdf(mp.mpf(v))) for v in x])
    rel = np.abs(got - ref) / ref
    assert rel[ref > 1e-300].max() < 4e-15  # relative, down to the subnormals near x = -37.5
    y = np.concatenate([rng.uniform(-745, 709, 2000), [0.0, 1e-9, -1e-9]])
    ref = np.array([float(mp.exp(mp.mpf(v))) for v in y])
    ok = ref > 2.3e-308
    ulp = np.abs(_fused.vexp(y)[ok] - ref[ok]) / np.spacing(ref[ok])
    assert ulp.max() <= 2
    np.testing.assert_array_equal(_fused.vexp(np.array([-800.0, 800.0])), [0.0, np.inf])
    assert np.isnan(_fused.vexp(np.array([np.nan]))[0])
    z = np.concatenate([np.exp(rng.uniform(-700, 700, 2000)), rng.uniform(0.5, 2, 2000)])
    ref = np.array([float(mp.log(mp.mpf(v))) for v in z])
    ok = ref != 0
    ulp = np.abs(_fused.vlog(z)[ok] - ref[ok]) / np.spacing(np.abs(ref[ok]))
    assert ulp.max() <= 2
    got = _fused.vlog(np.array([1.0, 5e-324, 0.0, -1.0, np.inf, np.nan]))
    assert got[0] == 0.0 and got[1] == pytest.approx(-744.4400719213812, rel=1e-15)
    assert got[2] == -np.inf and np.isnan(got[3]) and got[4] == np.inf and np.isnan(got[5])


@pytest.mark.parametrize("black76", [False, True])
def test_fused_kernel_equals_the_reference_formulas(black76):
    """The numba fast path (numpy in) and ``formulas.greeks_from_inputs`` (the reference)
    agree on the same inputs: calls and puts, expiry, deep ITM/OTM, second order."""
    import doctest

    from hyperphysics_strategy.engine.greeks import formulas, terms

    rng = np.random.default_rng(11)
    n = 5000
    S = rng.uniform(20, 300, n)
    K = rng.uniform(50, 150, n)
    T = np.where(rng.random(n) < 0.05, 0.0, rng.uniform(1e-4, 3.0, n))
    v = rng.uniform(0.05, 2.0, n)
    r = rng.uniform(-0.01, 0.08, n)
    q = r if black76 else rng.uniform(0.0, 0.05, n)
    call = rng.random(n) < 0.5
    fn, carry = (black76_greeks, {}) if black76 else (bsm_greeks, {"dividend_yield": q})
    fast = fn(
        S, K, time_to_expiry=T, volatility=v, rate=r, option_type=call, second_order=True, **carry
    )
    t = [torch.from_numpy(a) for a in (S, K, T, v, r, q)]
    sign = torch.from_numpy(np.where(call, 1.0, -1.0))
    ref = formulas.greeks_from_inputs(*t, sign, formulas.ALL_GREEKS, black76=black76, expiry=True)
    for name, want in zip(formulas.ALL_GREEKS, ref, strict=True):
        np.testing.assert_allclose(fast[name], want.numpy(), rtol=1e-9, atol=1e-10, err_msg=name)
    assert doctest.testmod(formulas).failed == 0
    assert doctest.testmod(terms).failed == 0
