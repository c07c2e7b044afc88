"""Value at Risk and Expected Shortfall of return series (torch, any device).

Sign convention
---------------
Inputs are *returns* (simple or log, per period; gains positive).  The loss is
``L = -return``.  VaR and ES are reported as **positive loss numbers** (fractions of the
position value): ``VaR_a`` is the ``a``-quantile of ``L`` and ``ES_a = E[L | L >= VaR_a]``,
so ``ES_a >= VaR_a``; a negative VaR means the quantile is a gain.  ``a`` is the
confidence level (0.95, 0.99, ...), and every function takes a sequence of levels.

Empirical quantile (historical simulation and Monte Carlo)
----------------------------------------------------------
For ``n`` samples and level ``a`` let ``m = ceil(n (1 - a))`` (at least 1).  ``VaR`` is
the ``m``-th largest loss and ``ES`` the mean of the ``m`` largest losses.  This is
QuantLib's ``RiskStatistics`` convention (``percentile`` = smallest sample whose
cumulative weight reaches ``1 - a``; ``expectedShortfall`` = mean of the samples at or
beyond it), except that QuantLib evaluates ``(1 - a) n`` in floating point (for ``n``
with ``n (1 - a)`` an exact integer it can pick the next sample) and floors VaR at 0.

Parametric forms (``mu``, ``sigma`` sample mean and standard deviation with ``ddof=1``,
skewness ``S`` and excess kurtosis ``K`` from the biased central moments,
``z = Phi^-1(a)``, ``p = 1 - a``):

* normal: ``VaR = -mu + sigma z``, ``ES = -mu + sigma phi(z) / p``
* Student-t (fitted): ``nu = 4 + 6/K`` from the excess kurtosis (method of moments;
  normal when ``K <= 0``) or by maximum likelihood (``fit="mle"``, scipy, slow),
  scale ``s = sigma sqrt((nu-2)/nu)``, ``t = t_nu^-1(a)``:
  ``VaR = -mu + s t``, ``ES = -mu + s f_nu(t) (nu + t^2) / ((nu - 1) p)``
* Cornish-Fisher: ``q = c + (c^2-1) S/6 + (c^3-3c) K/24 - (2c^3-5c) S^2/36`` with
  ``c = -z``; ``VaR = -(mu + sigma q)``; ES is the exact tail mean of the same expansion
  under the normal, ``ES = -(mu + sigma E[g(Z) | Z <= c])`` with the normal partial
  moments (valid where the expansion is monotone, i.e. moderate S and K).

Monte Carlo
-----------
Standard draws are made once per ``(seed, n_paths)`` by inverse transform of sorted
uniforms and cached with their prefix sums, so the ``m`` worst simulated losses of any
location-scale model are known without re-sorting: simulating ``mu + sigma Z`` and
sorting gives exactly ``-mu - sigma Z_(i)``.  The same seed therefore reuses the same
draws (common random numbers across series and calls), which is what makes results
reproducible and the single-series call cost O(n_returns).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from scipy import special as sps
from scipy import stats

__all__ = [
    "tail_count",
    "check_levels",
    "historical_var_es",
    "parametric_var_es",
    "sample_moments",
    "MonteCarloDraws",
    "mc_var_es",
    "ewma_volatility",
    "PARAMETRIC",
    "MONTE_CARLO",
]

PARAMETRIC = ("normal", "student_t", "cornish_fisher")
MONTE_CARLO = ("normal", "student_t", "bootstrap", "filtered")


def check_levels(confidence: float | Sequence[float]) -> tuple[tuple[float, ...], bool]:
    """Return ``(levels, scalar)``; every level must lie strictly between 0 and 1."""
    scalar = np.ndim(confidence) == 0
    levels = tuple(float(c) for c in np.atleast_1d(np.asarray(confidence, dtype=float)))
    if not levels:
        raise ValueError("confidence must contain at least one level")
    for c in levels:
        if not (0.0 < c < 1.0):
            raise ValueError(f"confidence levels must lie in (0, 1), got {c}")
    return levels, scalar


def tail_count(n: int, confidence: float) -> int:
    """``m = ceil(n (1 - a))``, at least 1 (guarded against floating-point noise)."""
    return max(1, math.ceil(n * (1.0 - confidence) - 1e-9))


def _es_from_top(top: torch.Tensor, levels: Sequence[float], n: int):
    """VaR and ES from the losses sorted in descending order along the last dim."""
    csum = torch.cumsum(top, dim=-1)
    ks = [tail_count(n, c) for c in levels]
    idx = torch.tensor([k - 1 for k in ks], device=top.device)
    var = top.index_select(-1, idx)
    es = csum.index_select(-1, idx) / torch.tensor(ks, dtype=top.dtype, device=top.device)
    return var, es


def historical_var_es(returns: torch.Tensor, levels: Sequence[float]):
    """Historical-simulation VaR and ES over the last dim; shapes ``(..., len(levels))``."""
    n = returns.shape[-1]
    kmax = max(tail_count(n, c) for c in levels)
    if kmax > n:
        raise ValueError("not enough returns for the requested confidence")
    top = torch.topk(-returns, kmax, dim=-1, largest=True, sorted=True).values
    return _es_from_top(top, levels, n)


@dataclass(frozen=True)
class Moments:
    mean: torch.Tensor
    std: torch.Tensor  # ddof = 1
    skew: torch.Tensor
    exkurt: torch.Tensor


def sample_moments(returns: torch.Tensor, higher: bool = True) -> Moments:
    """Mean, std (ddof=1), skewness and excess kurtosis (biased) over the last dim."""
    n = returns.shape[-1]
    mean = returns.mean(dim=-1)
    c = returns - mean.unsqueeze(-1)
    c2 = c * c
    m2 = c2.mean(dim=-1)
    std = torch.sqrt(m2 * (n / (n - 1)))
    if not higher:
        z = torch.zeros_like(mean)
        return Moments(mean, std, z, z)
    m3 = (c2 * c).mean(dim=-1)
    m4 = (c2 * c2).mean(dim=-1)
    safe = torch.where(m2 > 0, m2, torch.ones_like(m2))
    skew = torch.where(m2 > 0, m3 / safe**1.5, torch.zeros_like(m2))
    exkurt = torch.where(m2 > 0, m4 / (safe * safe) - 3.0, torch.zeros_like(m2))
    return Moments(mean, std, skew, exkurt)


def _normal_quantiles(levels, like: torch.Tensor):
    z = torch.tensor([sps.ndtri(c) for c in levels], dtype=like.dtype, device=like.device)
    p = torch.tensor([1.0 - c for c in levels], dtype=like.dtype, device=like.device)
    return z, p


def _t_df(mom: Moments, df: float | None) -> np.ndarray:
    if df is not None:
        if not df > 2:
            raise ValueError("df must be > 2 (finite variance)")
        return np.full(tuple(mom.mean.shape), float(df))
    k = mom.exkurt.detach().cpu().numpy().astype(np.float64)
    with np.errstate(divide="ignore"):
        nu = np.where(k > 6.0 / 1e6, 4.0 + 6.0 / np.maximum(k, 1e-300), np.inf)
    return nu


def _t_standard(levels, nu: np.ndarray):
    """Quantile and standardised tail mean (ES) of the unit-scale Student t per level."""
    a = np.asarray(levels)[None, :]
    nu2 = np.asarray(nu, dtype=np.float64).reshape(-1, 1)
    finite = np.isfinite(nu2)
    nu_f = np.where(finite, nu2, 30.0)
    t = stats.t.ppf(a, nu_f)
    es = stats.t.pdf(t, nu_f) * (nu_f + t * t) / ((nu_f - 1.0) * (1.0 - a))
    z = sps.ndtri(a)
    zes = np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi) / (1.0 - a)
    scale = np.where(finite, np.sqrt((nu_f - 2.0) / nu_f), 1.0)
    t = np.where(finite, t, z) * scale  # in units of the standard deviation
    es = np.where(finite, es, zes) * scale
    return t, es


def _t_mle(returns: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = returns.detach().cpu().numpy().astype(np.float64)
    flat = x.reshape(-1, x.shape[-1])
    out = np.array([stats.t.fit(row) for row in flat])
    shape = x.shape[:-1]
    return out[:, 0].reshape(shape), out[:, 1].reshape(shape), out[:, 2].reshape(shape)


def parametric_var_es(
    returns: torch.Tensor,
    levels: Sequence[float],
    distribution: str = "normal",
    *,
    df: float | None = None,
    fit: str = "moments",
    moments: Moments | None = None,
):
    """Closed-form VaR/ES (normal, Student-t, Cornish-Fisher); shapes ``(..., L)``."""
    if distribution not in PARAMETRIC:
        raise ValueError(f"distribution must be one of {PARAMETRIC}, got {distribution!r}")
    dev, dt = returns.device, returns.dtype
    if distribution == "student_t" and fit == "mle" and df is None:
        nu, loc, scale = _t_mle(returns)
        if np.any(nu <= 1.0):
            raise ValueError("fitted Student-t has df <= 1: ES is infinite")
        a = np.asarray(levels)
        nu2 = nu[..., None]
        t = stats.t.ppf(a, nu2)
        es = stats.t.pdf(t, nu2) * (nu2 + t * t) / ((nu2 - 1.0) * (1.0 - a))
        loc_t = torch.as_tensor(loc[..., None], dtype=dt, device=dev)
        sc = torch.as_tensor(scale[..., None], dtype=dt, device=dev)
        q = torch.as_tensor(t, dtype=dt, device=dev)
        e = torch.as_tensor(es, dtype=dt, device=dev)
        return -loc_t + sc * q, -loc_t + sc * e
    if fit not in ("moments", "mle"):
        raise ValueError("fit must be 'moments' or 'mle'")
    mom = (
        moments if moments is not None else sample_moments(returns, higher=distribution != "normal")
    )
    return parametric_from_moments(mom, levels, distribution, df=df)


def parametric_from_moments(mom: Moments, levels, distribution: str, *, df=None):
    mu = mom.mean.unsqueeze(-1)
    sd = mom.std.unsqueeze(-1)
    z, p = _normal_quantiles(levels, mom.mean)
    if distribution == "normal":
        pdf = torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
        return -mu + sd * z, -mu + sd * pdf / p
    if distribution == "student_t":
        nu = _t_df(mom, df)
        t, es = _t_standard(levels, nu)
        shape = tuple(mom.mean.shape) + (len(levels),)
        q = torch.as_tensor(t.reshape(shape), dtype=mu.dtype, device=mu.device)
        e = torch.as_tensor(es.reshape(shape), dtype=mu.dtype, device=mu.device)
        return -mu + sd * q, -mu + sd * e
    # Cornish-Fisher
    S = mom.skew.unsqueeze(-1)
    K = mom.exkurt.unsqueeze(-1)
    c = -z  # lower-tail standard normal quantile of the return
    q = (
        c
        + (c * c - 1.0) * S / 6.0
        + (c**3 - 3.0 * c) * K / 24.0
        - (2.0 * c**3 - 5.0 * c) * S * S / 36.0
    )
    phi = torch.exp(-0.5 * c * c) / math.sqrt(2 * math.pi)
    i0 = p
    i1 = -phi
    i2 = p - c * phi
    i3 = -(c * c + 2.0) * phi
    tail = (
        i1 + (i2 - i0) * S / 6.0 + (i3 - 3.0 * i1) * K / 24.0 - (2.0 * i3 - 5.0 * i1) * S * S / 36.0
    ) / p
    return -(mu + sd * q), -(mu + sd * tail)


# --------------------------------------------------------------------------------------
# Monte Carlo
# --------------------------------------------------------------------------------------


class MonteCarloDraws:
    """Cached, seeded standard draws for Monte Carlo VaR (one set per ``n_paths``).

    ``uniforms(n)``: sorted U(0,1) draws (float64, CPU generator => identical on every
    device).  ``normal_tail(n)``: ``Phi^-1`` of them (ascending standard normal sample)
    and its prefix sums.  ``bootstrap_counts(n, length)``: how often each of ``length``
    observations is drawn in ``n`` resamples with replacement.
    """

    def __init__(self, seed: int, device: torch.device, dtype: torch.dtype) -> None:
        self.seed = int(seed)
        self.device = device
        self.dtype = dtype
        self._u: dict[int, np.ndarray] = {}
        self._normal: dict[int, tuple] = {}
        self._counts: dict[tuple[int, int], torch.Tensor] = {}

    def uniforms(self, n: int) -> np.ndarray:
        u = self._u.get(n)
        if u is None:
            g = torch.Generator().manual_seed(self.seed)
            raw = torch.rand(n, generator=g, dtype=torch.float64).numpy()
            u = np.sort(np.clip(raw, 2.0**-60, 1.0 - 2.0**-53))
            self._u[n] = u
        return u

    def normal_tail(self, n: int):
        """``(z_np, prefix_np, z_t, prefix_t)``: ascending N(0,1) sample and prefix sums."""
        got = self._normal.get(n)
        if got is None:
            z = sps.ndtri(self.uniforms(n))
            prefix = np.cumsum(z)
            got = (
                z,
                prefix,
                torch.as_tensor(z, dtype=self.dtype, device=self.device),
                torch.as_tensor(prefix, dtype=self.dtype, device=self.device),
            )
            self._normal[n] = got
        return got

    def bootstrap_counts(self, n: int, length: int) -> torch.Tensor:
        key = (n, length)
        c = self._counts.get(key)
        if c is None:
            g = torch.Generator().manual_seed(self.seed + 1)
            idx = torch.randint(0, length, (n,), generator=g)
            c = torch.bincount(idx, minlength=length).to(dtype=self.dtype, device=self.device)
            self._counts[key] = c
        return c


def _bootstrap_var_es(values: torch.Tensor, counts: torch.Tensor, levels, n_paths: int):
    """VaR/ES of ``n_paths`` resamples of ``values`` (as returns) with ``counts`` per obs."""
    losses = -values
    sorted_l, order = torch.sort(losses, dim=-1, descending=True)
    c = counts[order]
    cum = torch.cumsum(c, dim=-1)
    wcum = torch.cumsum(c * sorted_l, dim=-1)
    ks = [tail_count(n_paths, a) for a in levels]
    kt = torch.tensor(ks, dtype=cum.dtype, device=cum.device)
    kt_b = kt.expand(cum.shape[:-1] + (len(ks),)).contiguous()
    j = torch.searchsorted(cum.contiguous(), kt_b)  # first index with cum >= k
    var = torch.gather(sorted_l, -1, j)
    es = (torch.gather(wcum, -1, j) - (torch.gather(cum, -1, j) - kt) * var) / kt
    return var, es


def ewma_volatility(returns: torch.Tensor, lam: float = 0.94) -> tuple[torch.Tensor, torch.Tensor]:
    """RiskMetrics EWMA volatility: ``(sigma_t for each t, one-step forecast sigma_{n})``.

    ``sigma2_t = lam sigma2_{t-1} + (1 - lam) r_{t-1}^2`` on demeaned returns, started at
    the sample variance; computed as a truncated causal convolution (weights below 1e-18
    dropped), so it is vectorised on any device.
    """
    if not 0.0 < lam < 1.0:
        raise ValueError("ewma_lambda must lie in (0, 1)")
    x = returns - returns.mean(dim=-1, keepdim=True)
    n = x.shape[-1]
    v0 = (x * x).mean(dim=-1, keepdim=True)
    L = min(n, int(math.ceil(math.log(1e-18) / math.log(lam))))
    w = (1.0 - lam) * lam ** torch.arange(L, dtype=x.dtype, device=x.device)
    sq = (x * x).reshape(-1, 1, n)
    # sigma2 at times 1..n uses r^2 at 0..n-1: full causal convolution, then drop the tail
    conv = torch.nn.functional.conv1d(
        torch.nn.functional.pad(sq, (L - 1, 0)), w.flip(0).view(1, 1, -1)
    ).reshape(x.shape)
    t = torch.arange(1, n + 1, dtype=x.dtype, device=x.device)
    sig2_next = lam**t * v0 + conv  # sigma2_{1..n}
    sig2 = torch.cat([v0, sig2_next[..., :-1]], dim=-1)  # sigma2_{0..n-1}
    return torch.sqrt(sig2), torch.sqrt(sig2_next[..., -1])


def mc_var_es(
    returns: torch.Tensor,
    levels: Sequence[float],
    draws: MonteCarloDraws,
    n_paths: int,
    distribution: str = "normal",
    *,
    df: float | None = None,
    ewma_lambda: float = 0.94,
    moments: Moments | None = None,
):
    """Monte Carlo VaR/ES with ``n_paths`` simulated one-period returns per series."""
    if distribution not in MONTE_CARLO:
        raise ValueError(f"distribution must be one of {MONTE_CARLO}, got {distribution!r}")
    ks = [tail_count(n_paths, a) for a in levels]
    dev, dt = returns.device, returns.dtype
    if distribution == "bootstrap":
        counts = draws.bootstrap_counts(n_paths, returns.shape[-1])
        return _bootstrap_var_es(returns, counts, levels, n_paths)
    if distribution == "filtered":
        mean = returns.mean(dim=-1, keepdim=True)
        sig, forecast = ewma_volatility(returns, ewma_lambda)
        z = (returns - mean) / sig
        counts = draws.bootstrap_counts(n_paths, returns.shape[-1])
        var_z, es_z = _bootstrap_var_es(z, counts, levels, n_paths)
        f = forecast.unsqueeze(-1)
        return -mean + f * var_z, -mean + f * es_z
    mom = (
        moments
        if moments is not None
        else sample_moments(returns, higher=distribution == "student_t" and df is None)
    )
    mu = mom.mean.unsqueeze(-1)
    sd = mom.std.unsqueeze(-1)
    kidx = torch.tensor([k - 1 for k in ks], device=dev)
    kt = torch.tensor(ks, dtype=dt, device=dev)
    if distribution == "normal":
        _, _, z, prefix = draws.normal_tail(n_paths)
        zq = z.index_select(0, kidx)
        zm = prefix.index_select(0, kidx) / kt
        return -(mu + sd * zq), -(mu + sd * zm)
    # Student t by inverse transform of the same sorted uniforms
    u = draws.uniforms(n_paths)[: max(ks)]
    if df is not None:
        if not df > 2:
            raise ValueError("df must be > 2 (finite variance)")
        nu = np.array([[float(df)]])
    else:
        nu = _t_df(mom, None).reshape(-1, 1)
    finite = np.isfinite(nu)
    nu_f = np.where(finite, nu, 30.0)
    tq = np.where(finite, stats.t.ppf(u[None, :], nu_f) * np.sqrt((nu_f - 2.0) / nu_f), 0.0)
    tq = np.where(finite, tq, sps.ndtri(u)[None, :])
    pref = np.cumsum(tq, axis=-1)
    kk = np.asarray(ks) - 1
    qv = tq[:, kk]
    mv = pref[:, kk] / np.asarray(ks)
    if df is None:
        shape = tuple(mu.shape[:-1]) + (len(ks),)
        qv, mv = qv.reshape(shape), mv.reshape(shape)
    else:
        qv, mv = qv[0], mv[0]
    q = torch.as_tensor(qv, dtype=dt, device=dev)
    m = torch.as_tensor(mv, dtype=dt, device=dev)
    return -(mu + sd * q), -(mu + sd * m)
