"""Rolling VaR/ES over a whole series: one value per candle from the trailing window.

Output at index ``t`` uses returns ``t - window + 1 .. t`` (inclusive), so it is known at
the close of candle ``t``; the first ``window - 1`` entries are NaN (warm-up).  To
backtest, compare the VaR at ``t`` with the return at ``t + 1`` (see
``backtest.exceedances``).  Everything is vectorised over windows (no Python loop over
candles).

Historical simulation uses an exact sliding-window order-statistic method.  Windows are
grouped in blocks of ``B`` consecutive windows; all windows of a block contain the
block's *core* (the ``window - B + 1`` returns they share), so the ``k``-th largest loss of
any of them is at least ``t_b`` = the ``k``-th largest loss of the core.  Only losses
``>= t_b`` in the block's span can be among any window's ``k`` largest: these candidates
(typically ~``1.1 k`` of them) are extracted once per block with ``topk``, and each window
then takes its ``k`` largest candidates that fall inside it.  The result is identical to
sorting every window (ties included).  If a pathological series (many ties at the
threshold) yields too many candidates it falls back to ``unfold`` + ``topk``.

Parametric rolling VaR uses windowed moments from prefix sums of the (globally centred)
returns in float64.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .monte_carlo import MonteCarloDraws, mc_var_es
from .var import Moments, _es_from_top, parametric_from_moments, tail_count

__all__ = [
    "rolling_top_losses",
    "rolling_historical",
    "rolling_moments",
    "rolling_parametric",
    "rolling_monte_carlo",
]


def _pad_warmup(values: torch.Tensor, window: int) -> torch.Tensor:
    """``values`` (..., nwin, L) -> (..., n, L) with NaN for the warm-up."""
    pad = torch.full(
        values.shape[:-2] + (window - 1, values.shape[-1]),
        math.nan,
        dtype=values.dtype,
        device=values.device,
    )
    return torch.cat([pad, values], dim=-2)


def _block_size(window: int, k: int) -> int:
    return max(1, min(window - k + 1, int(round(math.sqrt(window)))))


def rolling_top_losses(losses: torch.Tensor, window: int, k: int) -> torch.Tensor:
    """The ``k`` largest values of every trailing window, descending: ``(B, nwin, k)``.

    ``losses`` is ``(B, n)``; window ``j`` covers ``losses[:, j : j + window]``.
    """
    bsz, n = losses.shape
    nwin = n - window + 1
    blk = _block_size(window, k)
    nfull = nwin // blk
    parts = []
    if nfull > 0:
        span = window + blk - 1
        blocks = losses[:, : nfull * blk + window - 1].unfold(-1, span, blk)  # (B, nb, span)
        core = blocks[..., blk - 1 : window]
        thr = torch.topk(core, k, dim=-1, sorted=False).values.min(dim=-1, keepdim=True).values
        mask = blocks >= thr
        m = int(mask.sum(dim=-1).max())
        if m > max(4 * k, k + 2 * blk) and m > span // 2:
            top_full = None  # pathological ties: fall back below
        else:
            neg = torch.full_like(blocks, -math.inf)
            cv, cp = torch.topk(torch.where(mask, blocks, neg), m, dim=-1, sorted=True)
            cp = torch.where(torch.isfinite(cv), cp, torch.full_like(cp, -(10**9)))
            off = torch.arange(blk, device=losses.device).view(blk, 1)
            cpe = cp.unsqueeze(-2)  # (B, nb, 1, m)
            inside = (cpe >= off) & (cpe < off + window)  # (B, nb, blk, m)
            vals = torch.where(inside, cv.unsqueeze(-2), torch.tensor(-math.inf, dtype=cv.dtype))
            top_full = torch.topk(vals, k, dim=-1, sorted=True).values.reshape(bsz, -1, k)
        if top_full is None:
            top_full = torch.topk(
                losses[:, : nfull * blk + window - 1].unfold(-1, window, 1), k, dim=-1
            ).values
        parts.append(top_full)
    start = nfull * blk
    if start < nwin:
        rest = losses[:, start:].unfold(-1, window, 1)
        parts.append(torch.topk(rest, k, dim=-1, sorted=True).values)
    return torch.cat(parts, dim=-2) if len(parts) > 1 else parts[0]


def rolling_historical(returns: torch.Tensor, window: int, levels: Sequence[float]):
    """Rolling historical VaR/ES; ``returns`` ``(B, n)`` -> two ``(B, n, L)`` tensors."""
    k = max(tail_count(window, c) for c in levels)
    top = rolling_top_losses(-returns, window, k)
    var, es = _es_from_top(top, levels, window)
    return _pad_warmup(var, window), _pad_warmup(es, window)


def rolling_moments(returns: torch.Tensor, window: int, higher: bool = True) -> Moments:
    """Windowed mean, std (ddof=1), skewness, excess kurtosis; each ``(B, nwin)``."""
    x = returns.to(torch.float64)
    x = x - x.mean(dim=-1, keepdim=True)
    zeros = torch.zeros(x.shape[:-1] + (1,), dtype=x.dtype, device=x.device)

    def wsum(v: torch.Tensor) -> torch.Tensor:
        c = torch.cat([zeros, torch.cumsum(v, dim=-1)], dim=-1)
        return (c[..., window:] - c[..., :-window]) / window

    x2 = x * x
    e1 = wsum(x)
    e2 = wsum(x2)
    m2 = torch.clamp(e2 - e1 * e1, min=0.0)
    std = torch.sqrt(m2 * (window / (window - 1)))
    mean = e1 + returns.to(torch.float64).mean(dim=-1, keepdim=True)
    if not higher:
        z = torch.zeros_like(mean)
        return Moments(mean, std, z, z)
    e3 = wsum(x2 * x)
    e4 = wsum(x2 * x2)
    m3 = e3 - 3 * e1 * e2 + 2 * e1**3
    m4 = e4 - 4 * e1 * e3 + 6 * e1 * e1 * e2 - 3 * e1**4
    ok = m2 > 1e-300
    safe = torch.where(ok, m2, torch.ones_like(m2))
    skew = torch.where(ok, m3 / safe**1.5, torch.zeros_like(m2))
    exkurt = torch.where(ok, m4 / (safe * safe) - 3.0, torch.zeros_like(m2))
    return Moments(mean, std, skew, exkurt)


def _cast(m: Moments, dtype: torch.dtype) -> Moments:
    return Moments(*(t.to(dtype) for t in (m.mean, m.std, m.skew, m.exkurt)))


def rolling_parametric(
    returns: torch.Tensor,
    window: int,
    levels: Sequence[float],
    distribution: str = "normal",
    *,
    df: float | None = None,
):
    """Rolling closed-form VaR/ES (normal, student_t, cornish_fisher)."""
    mom = _cast(rolling_moments(returns, window, higher=distribution != "normal"), returns.dtype)
    var, es = parametric_from_moments(mom, levels, distribution, df=df)
    return _pad_warmup(var, window), _pad_warmup(es, window)


def rolling_monte_carlo(
    returns: torch.Tensor,
    window: int,
    levels: Sequence[float],
    draws: MonteCarloDraws,
    n_paths: int,
    distribution: str = "normal",
    *,
    df: float | None = None,
):
    """Rolling Monte Carlo VaR/ES for the location-scale models.

    ``normal``, or ``student_t`` with a fixed ``df`` (a per-window fitted df would need a
    Student-t quantile per window and simulated path; use ``rolling_parametric`` for that).
    """
    if distribution == "student_t" and df is None:
        raise ValueError("rolling Monte Carlo with student_t needs a fixed df")
    if distribution not in ("normal", "student_t"):
        raise ValueError(
            "rolling Monte Carlo supports 'normal' and 'student_t'; use rolling historical "
            "simulation for bootstrap-style estimates"
        )
    mom = _cast(rolling_moments(returns, window, higher=False), returns.dtype)
    dummy = torch.empty(mom.mean.shape + (1,), dtype=returns.dtype, device=returns.device)
    var, es = mc_var_es(dummy, levels, draws, n_paths, distribution, df=df, moments=mom)
    return _pad_warmup(var, window), _pad_warmup(es, window)
