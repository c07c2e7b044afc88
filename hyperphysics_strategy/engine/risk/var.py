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
  moments. The expansion is a quantile function only where ``g`` is increasing, its
  *domain of validity* (Maillard 2012); sample moments outside it are first moved onto
  its boundary (:func:`cornish_fisher_domain`), so VaR and ES grow with the level.

Monte Carlo VaR/ES (the same empirical quantile of simulated returns) is in
``monte_carlo``.

Examples
--------
Ten returns, 90 %: ``m = ceil(10 x 0.1) = 1``, so VaR = ES = the largest loss.

>>> import torch
>>> r = torch.tensor([0.01, -0.02, 0.03, -0.05, 0.0, 0.02, -0.01, 0.01, -0.03, 0.04])
>>> var, es = historical_var_es(r, (0.9, 0.8))
>>> [round(x, 4) for x in var.tolist()], [round(x, 4) for x in es.tolist()]
([0.05, 0.03], [0.05, 0.04])
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
    "cornish_fisher_domain",
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


#: Largest |S| for which some K makes the Cornish-Fisher transform increasing.
CF_MAX_SKEW = 6.0 * (math.sqrt(2.0) - 1.0)


def cornish_fisher_domain(
    skew: torch.Tensor, exkurt: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(S, K)`` moved into the Cornish-Fisher expansion's domain of validity.

    The four-moment expansion ``g(z) = z + (z^2-1) S/6 + (z^3-3z) K/24 - (2z^3-5z) S^2/36``
    is a quantile function only where it is increasing in ``z``: ``g'(z) = a z^2 + b z + c``
    with ``a = K/8 - S^2/6``, ``b = S/3``, ``c = 1 - K/8 + 5 S^2/36`` must stay positive,
    i.e. ``a >= 0`` and ``b^2 <= 4 a c`` (D. Maillard, "A User's Guide to the Cornish Fisher
    Expansion", SSRN 1997178, 2012, section "domain of validity"; ``c`` is derived here from
    ``g'``: some quotations of the condition print ``- 5 S^2/36``). Outside it the expansion
    is not monotone: one outlier in a window (sample K in the hundreds) gave VaR95 = -0.21
    and VaR99 = 5.81. As Maillard recommends, the parameters are kept inside the domain:
    ``|S|`` is capped at ``6 (sqrt 2 - 1) ~ 2.485`` (beyond it no ``K`` is valid), then
    ``K`` is clamped to the valid interval for that ``S``, ``8 u`` with
    ``u = ((A + B) -/+ sqrt((1 - S^2/36)^2 - S^2/9)) / 2``, ``A = S^2/6``,
    ``B = 1 + 5 S^2/36`` (for ``S = 0``: ``0 <= K <= 8``). Moments inside the domain are
    returned unchanged.
    """
    s = skew.clamp(-CF_MAX_SKEW, CF_MAX_SKEW)
    s2 = s * s
    mid = (s2 / 6.0 + 1.0 + 5.0 * s2 / 36.0) / 2.0
    half = torch.sqrt(torch.clamp((1.0 - s2 / 36.0) ** 2 - s2 / 9.0, min=0.0)) / 2.0
    lo, hi = 8.0 * (mid - half), 8.0 * (mid + half)
    return s, torch.minimum(torch.maximum(exkurt, lo), hi)


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
    S, K = cornish_fisher_domain(mom.skew, mom.exkurt)  # monotone quantiles (Maillard)
    S, K = S.unsqueeze(-1), K.unsqueeze(-1)
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
