"""Point VaR/ES: closed forms, QuantLib statistics, Monte Carlo, reproducibility, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from hyperphysics_strategy.engine.risk import GPURiskEngine, ewma_volatility, tail_count

LEVELS = (0.95, 0.975, 0.99)


def _normal_closed_form(mu, sd, a):
    z = stats.norm.ppf(a)
    return -mu + sd * z, -mu + sd * stats.norm.pdf(z) / (1 - a)


@pytest.fixture(scope="module")
def normal_sample():
    return np.random.default_rng(42).normal(0.0005, 0.02, 200_000)


def test_parametric_and_mc_agree_with_normal_closed_form(normal_sample):
    eng = GPURiskEngine(device="cpu", seed=3, mc_simulations=1_000_000)
    x = normal_sample
    mu, sd = x.mean(), x.std(ddof=1)
    for a in LEVELS:
        v, e = _normal_closed_form(mu, sd, a)
        pv, pe = eng.var_parametric(x, a, "normal")
        assert pv == pytest.approx(v, rel=1e-12) and pe == pytest.approx(e, rel=1e-12)
        # normal data: fitted t and Cornish-Fisher collapse to (nearly) the normal
        for dist in ("student_t", "cornish_fisher"):
            dv, de = eng.var_parametric(x, a, dist)
            assert dv == pytest.approx(v, rel=0.01) and de == pytest.approx(e, rel=0.015)
        mv, me = eng.var_monte_carlo(x, a)  # 1e6 paths: sampling error ~0.2 %
        assert mv == pytest.approx(v, rel=6e-3) and me == pytest.approx(e, rel=6e-3)
        tv, te = eng.var_monte_carlo(x, a, "student_t")
        assert tv == pytest.approx(v, rel=0.015) and te == pytest.approx(e, rel=0.02)
        hv, he = eng.var_historical(x, a)
        assert hv == pytest.approx(v, rel=0.02) and he == pytest.approx(e, rel=0.02)
        bv, be = eng.var_monte_carlo(x, a, "bootstrap")
        assert bv == pytest.approx(v, rel=0.02) and be == pytest.approx(e, rel=0.02)


def test_student_t_closed_form_with_known_df():
    rng = np.random.default_rng(5)
    x = stats.t.rvs(5, size=100_000, random_state=rng) * 0.01
    eng = GPURiskEngine(device="cpu", seed=0)
    sd = x.std(ddof=1)
    scale = sd * math.sqrt(3 / 5)
    v, e = eng.var_parametric(x, 0.99, "student_t", df=5)
    t = stats.t.ppf(0.99, 5)
    assert v == pytest.approx(-x.mean() + scale * t, rel=1e-12)
    es = stats.t.pdf(t, 5) * (5 + t * t) / (4 * 0.01)
    assert e == pytest.approx(-x.mean() + scale * es, rel=1e-12)
    # moment fit of the df lands near 5 on t(5) data; MLE fit as well
    mv, _ = eng.var_parametric(x, 0.99, "student_t")
    lv, _ = eng.var_parametric(x[:5000], 0.99, "student_t", fit="mle")
    assert mv == pytest.approx(v, rel=0.05) and lv == pytest.approx(v, rel=0.1)


def test_cornish_fisher_es_is_tail_mean_of_the_expansion():
    rng = np.random.default_rng(9)
    # skewed and fat-tailed, inside the expansion's domain of validity (a pure gamma sample,
    # K ~ 1.5 S^2, lies just outside it: its moments are moved onto the boundary, see
    # test_cornish_fisher_var_stays_monotone_with_an_outlier_in_the_window)
    x = rng.gamma(4.0, 0.01, 50_000) - 0.04 + 0.02 * stats.t.rvs(4, size=50_000, random_state=rng)
    eng = GPURiskEngine(device="cpu")
    n = x.size
    mu, sd = x.mean(), x.std(ddof=1)
    c = x - mu
    m2 = (c**2).mean()
    S = (c**3).mean() / m2**1.5
    K = (c**4).mean() / m2**2 - 3

    def g(z):
        return z + (z**2 - 1) * S / 6 + (z**3 - 3 * z) * K / 24 - (2 * z**3 - 5 * z) * S**2 / 36

    for a in (0.95, 0.99):
        zc = stats.norm.ppf(1 - a)
        v, e = eng.var_parametric(x, a, "cornish_fisher")
        assert v == pytest.approx(-(mu + sd * g(zc)), rel=1e-12)
        # numerical tail integral of the CF quantile function
        u = (np.arange(200_000) + 0.5) / 200_000 * (1 - a)
        # (midpoint rule: ~2e-6 from the steep tail of the cubic term with K ~ 4)
        assert e == pytest.approx(-(mu + sd * g(stats.norm.ppf(u)).mean()), rel=1e-5)
    assert n == 50_000


def test_historical_matches_quantlib_risk_statistics():
    ql = pytest.importorskip("QuantLib")
    rng = np.random.default_rng(3)
    eng = GPURiskEngine(device="cpu")
    for n in (1001, 997, 5003):  # n (1 - a) not an integer: see docs on QuantLib's float
        x = stats.t.rvs(4, size=n, random_state=rng) * 0.01
        s = ql.RiskStatistics()
        for v in x:
            s.add(float(v))
        for a in (0.95, 0.99):
            var, es = eng.var_historical(x, a)
            assert var == pytest.approx(s.valueAtRisk(a), rel=1e-14)
            # QuantLib averages the losses strictly beyond the VaR sample (m - 1 of them),
            # we average the m largest including it: convert ours to QuantLib's convention
            m = tail_count(n, a)
            assert (m * es - var) / (m - 1) == pytest.approx(s.expectedShortfall(a), rel=1e-12)
        # and the definition itself: m-th largest loss / mean of the m largest
        losses = np.sort(-x)[::-1]
        var, es = eng.var_historical(x, 0.99)
        m = tail_count(n, 0.99)
        assert var == losses[m - 1] and es == pytest.approx(losses[:m].mean(), rel=1e-14)


def test_bootstrap_equals_explicit_resampling():
    eng = GPURiskEngine(device="cpu", seed=11, mc_simulations=20_000)
    x = np.random.default_rng(1).standard_t(3, 700) * 0.01
    counts = eng._draws.bootstrap_counts(20_000, 700).numpy().astype(int)
    sample = np.repeat(x, counts)
    assert sample.size == 20_000
    for a in LEVELS:
        losses = np.sort(-sample)[::-1]
        m = tail_count(20_000, a)
        v, e = eng.var_monte_carlo(x, a, "bootstrap")
        assert v == losses[m - 1] and e == pytest.approx(losses[:m].mean(), rel=1e-12)


def test_filtered_historical_simulation():
    rng = np.random.default_rng(2)
    n = 3000
    vol = np.where(np.arange(n) < n - 200, 0.01, 0.04)  # volatility jumps at the end
    x = rng.normal(0, 1, n) * vol
    eng = GPURiskEngine(device="cpu", seed=4)
    fv, fe = eng.var_monte_carlo(x, 0.99, "filtered")
    hv, _ = eng.var_historical(x, 0.99)
    assert fv > 2 * hv  # FHS reacts to the current (high) volatility
    assert fe >= fv
    sig, forecast = ewma_volatility(torch.tensor(x), 0.94)
    # the recursion itself
    s2 = np.empty(n + 1)
    xc = x - x.mean()
    s2[0] = (xc**2).mean()
    for t in range(n):
        s2[t + 1] = 0.94 * s2[t] + 0.06 * xc[t] ** 2
    np.testing.assert_allclose(sig.numpy(), np.sqrt(s2[:-1]), rtol=1e-12)
    assert float(forecast) == pytest.approx(math.sqrt(s2[-1]), rel=1e-12)
    assert fv == pytest.approx(-x.mean() + math.sqrt(s2[-1]) * 2.33, rel=0.15)


def test_seeded_reproducibility_and_batches():
    x = np.random.default_rng(0).normal(0, 0.01, (4, 500))
    a = GPURiskEngine(device="cpu", seed=123)
    b = GPURiskEngine(device="cpu", seed=123)
    c = GPURiskEngine(device="cpu", seed=124)
    for dist in ("normal", "student_t", "bootstrap", "filtered"):
        va, ea = a.var_monte_carlo(x, LEVELS, dist)
        vb, eb = b.var_monte_carlo(x, LEVELS, dist)
        vc, _ = c.var_monte_carlo(x, LEVELS, dist)
        assert va.shape == (4, 3)
        np.testing.assert_array_equal(va, vb)
        np.testing.assert_array_equal(ea, eb)
        assert not np.array_equal(va, vc)
        # batch row == single series
        v1, e1 = a.var_monte_carlo(x[2], LEVELS, dist)
        np.testing.assert_allclose(va[2], v1, rtol=1e-12)
        assert np.all(ea >= va - 1e-15)
    # numpy fast path == general torch path
    fv, fe = a.var_monte_carlo(x[0], 0.975)
    tv, te = a.var_monte_carlo(torch.tensor(x[0]), 0.975)
    assert fv == pytest.approx(float(tv), rel=1e-12) and fe == pytest.approx(float(te), rel=1e-12)
    assert isinstance(fv, float) and isinstance(tv, torch.Tensor)
    assert isinstance(a.var(x[0], 0.95, "mc_normal")[0], float)


def test_all_methods_shapes_and_ordering():
    eng = GPURiskEngine(device="cpu", seed=1)
    x = np.random.default_rng(7).standard_t(4, 2000) * 0.01
    for method in (
        "historical",
        "normal",
        "student_t",
        "cornish_fisher",
        "mc_normal",
        "mc_student_t",
        "mc_bootstrap",
        "mc_filtered",
    ):
        v, e = eng.var(x, (0.95, 0.99), method)
        assert v.shape == (2,) and np.all(np.isfinite(v))
        assert v[1] > v[0] > 0 and np.all(e >= v)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda e: e.var_historical([0.1, np.nan, 0.2]), "NaN"),
        (lambda e: e.var_historical([0.1]), "at least"),
        (lambda e: e.var_historical(np.zeros(10), 1.0), "confidence"),
        (lambda e: e.var_historical(np.zeros(10), [0.95, 0.0]), "confidence"),
        (lambda e: e.var_monte_carlo(np.array([0.1, np.inf]), 0.95), "NaN"),
        (lambda e: e.var(np.zeros(10), 0.95, "magic"), "method"),
        (lambda e: e.var_parametric(np.zeros(10), 0.95, "cauchy"), "distribution"),
        (lambda e: e.var_parametric(np.ones(10), 0.95, "student_t", df=1.5), "df"),
        (lambda e: e.rolling_var(np.zeros(10), window=20), "at least"),
        (lambda e: e.rolling_var(np.zeros(100), window=20, method="mc_bootstrap"), "rolling"),
    ],
)
def test_bad_inputs_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call(GPURiskEngine(device="cpu", seed=0))


def test_engine_constructor_validation():
    with pytest.raises(ValueError):
        GPURiskEngine(device="cpu", mc_simulations=1)
    with pytest.raises(ValueError):
        GPURiskEngine(device="cpu", dtype=torch.int32)
    with pytest.raises(ValueError):
        GPURiskEngine(device="no-such-device")
    eng = GPURiskEngine(device=None)
    assert isinstance(eng.seed, int)


def test_reference_examples_run():
    """The numbered examples in the VaR reference module's docstring are true."""
    import doctest

    from hyperphysics_strategy.engine.risk import var

    result = doctest.testmod(var)
    assert result.attempted >= 2 and result.failed == 0
