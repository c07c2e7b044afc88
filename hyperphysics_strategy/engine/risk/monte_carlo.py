"""Monte Carlo VaR and ES with common random numbers (torch, any device).

Standard draws are made once per ``(seed, n_paths)`` by inverse transform of sorted
uniforms and cached with their prefix sums, so the ``m`` worst simulated losses of any
location-scale model are known without re-sorting: simulating ``mu + sigma Z`` and
sorting gives exactly ``-mu - sigma Z_(i)``.  The same seed therefore reuses the same
draws (common random numbers across series and calls), which is what makes results
reproducible and the single-series call cost O(n_returns).

Models: ``normal`` and ``student_t`` (location-scale, moments fitted to the series as in
``var``), ``bootstrap`` (resampling the observed returns) and ``filtered`` (filtered
historical simulation: returns standardised by the RiskMetrics EWMA volatility,
J.P. Morgan/Reuters *RiskMetrics Technical Document*, 1996, resampled and rescaled by the
one-step forecast; Barone-Adesi, Giannopoulos & Vosper 1999).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from scipy import special as sps
from scipy import stats

from .var import MONTE_CARLO, Moments, _t_df, sample_moments, tail_count

__all__ = ["MonteCarloDraws", "ewma_volatility", "mc_var_es"]


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
        # a zero EWMA volatility (constant returns so far) leaves nothing to standardise:
        # the return equals the mean (z = 0), not 0 / 0 = NaN; all-zero returns give 0 risk
        centred = returns - mean
        positive = sig > 0
        safe = torch.where(positive, sig, torch.ones_like(sig))
        z = torch.where(positive, centred / safe, torch.zeros_like(centred))
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
