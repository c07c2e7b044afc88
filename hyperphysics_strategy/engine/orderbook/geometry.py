"""Reference implementation of the order-book geometry: pure functions on torch tensors.

Every formula of the order-book features is written here once, readably; the two fast
paths (``_batch``: the vectorised numpy/torch kernel of ``HyperbolicOrderBook.batch``;
``_single``: the numba pass of ``update``) compute the same quantities from running sums
and are tested against these functions on the same books
(``tests/test_orderbook_geometry.py``).  Stability constants are named once, here.

Poincaré ball of curvature ``-c`` (``c > 0``), Euclidean radius ``1/sqrt(c)``
(Cannon, Floyd, Kenyon & Parry, *Hyperbolic Geometry*, 1997; Ganea, Bécigneul & Hofmann,
*Hyperbolic Neural Networks*, NeurIPS 2018, for the curvature-``c`` forms)::

    d(x, y) = (2/sqrt(c)) asinh( sqrt(c)|x - y| / sqrt((1 - c|x|^2)(1 - c|y|^2)) )

(the arsinh form, which keeps its precision for nearby points where the usual
``acosh(1 + ...)`` form cancels).  Norms are clamped to ``(1 - eps)/sqrt(c)`` with ``eps``
per dtype (:func:`ball_eps`), so every finite input gives a finite distance.

A point at hyperbolic distance ``d`` from the origin in direction ``u`` has Poincaré
coordinates ``tanh(sqrt(c) d / 2) / sqrt(c) * u``; its Lorentz (hyperboloid) lift is
``(cosh(sqrt(c) d), sinh(sqrt(c) d) u)``.  The Einstein midpoint of weighted points (the
Klein-model barycenter with Lorentz factors; Ungar, *A Gyrovector Space Approach to
Hyperbolic Geometry*, 2008) equals the normalised weighted mean of those lifts
(Law, Liao, Snell & Zemel, *Lorentzian Distance Learning*, ICML 2019), which is what
:func:`einstein_midpoint` computes, in closed form.

Order-book embedding (docs/orderbook.md): with ``m`` the log (geometric) mid, a level at
price ``p`` lies at distance ``d = ln(1 + |ln(p) - m| / delta)`` (:func:`level_distance`),
at angle ``phi_k`` (asks) or ``pi - phi_k`` (bids) by depth rank (:func:`level_angles`).
Per side the features are the size-weighted Einstein midpoint, its distance from the
origin, the Lorentzian dispersion around it (:func:`lorentz_dispersion`) and the
weighted least-squares fit ``ln size = ln rho0 - d / lambda`` (:func:`decay_fit`).

Examples
--------
>>> import torch
>>> x = torch.tensor([0.5, 0.0], dtype=torch.float64)
>>> round(dist0(x).item(), 6)  # 2 atanh(0.5) = ln 3
1.098612
>>> round(poincare_dist(x, -x).item(), 6)  # through the origin: twice that
2.197225
>>> level_angles(3, fan=math.pi / 2)[0].round(4)  # ask angles, best first
array([-0.7854,  0.    ,  0.7854])
>>> p, mid = torch.tensor([100.02], dtype=torch.float64), torch.tensor([100.0], dtype=torch.float64)
>>> round(level_distance(p, mid, delta=1e-4).item(), 4)  # 2 bp away, delta 1 bp: ~ln(1 + 2)
1.0985
>>> rho0, lam, rate, r2 = decay_fit(
...     torch.tensor([[0.0, 1.0, 2.0]], dtype=torch.float64),
...     torch.tensor([[8.0, 4.0, 2.0]], dtype=torch.float64))
>>> round(rate.item(), 4), round(lam.item(), 4), round(rho0.item(), 4), r2.item()
(0.6931, 1.4427, 8.0, 1.0)
"""

from __future__ import annotations

import math

import numpy as np
import torch

_EPS = {
    torch.float16: 1e-3,
    torch.bfloat16: 1e-2,
    torch.float32: 1e-5,
    torch.float64: 1e-12,
}
_NP_EPS = {np.dtype(np.float16): 1e-3, np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-12}

LOG_CLIP = 80.0
"""|ln rho0| is clipped here: exp(80) ~ 5.5e34 still fits float32."""

ONE_PASS_MIN = {torch.float32: 1e-2, torch.float64: 1e-5}
"""The fast paths take the dispersion from the running sums (one pass) where
``(n_L^2 - 1) >= ONE_PASS_MIN (1 + a0m1)^2`` (relative error ~eps (1+a0m1)^2 / (n_L^2 - 1),
below ~1e-5 in float32 and ~1e-10 in float64) and the arsinh form otherwise."""


def fit_tol(dtype: torch.dtype) -> float:
    """Relative tolerance below which a weighted variance counts as zero (64 eps)."""
    return 64.0 * float(torch.finfo(dtype).eps)


def ball_eps(dtype: torch.dtype | np.dtype | type) -> float:
    """Boundary margin for ``dtype``: norms are clamped to ``(1 - eps)/sqrt(c)``.

    float32 keeps 1e-5 (``1 - eps`` is still exactly representable with ~2 digits of room),
    float64 1e-12; half types get coarser margins.
    """
    if isinstance(dtype, torch.dtype):
        if dtype not in _EPS:
            raise ValueError(f"unsupported dtype for hyperbolic geometry: {dtype}")
        return _EPS[dtype]
    dt = np.dtype(dtype)
    if dt not in _NP_EPS:
        raise ValueError(f"unsupported dtype for hyperbolic geometry: {dt}")
    return _NP_EPS[dt]


def radial_cap(dtype: torch.dtype | np.dtype | type) -> float:
    """Largest half-radius ``h = sqrt(c) d / 2`` kept: ``atanh(1 - eps)``, so tanh(h) < 1."""
    eps = ball_eps(dtype)
    return 0.5 * math.log((2.0 - eps) / eps)


def max_radius(dtype: torch.dtype | np.dtype | type, curvature: float = 1.0) -> float:
    """Largest hyperbolic distance from the origin representable after the norm clamp."""
    eps = ball_eps(dtype)
    return 2.0 * math.atanh(1.0 - eps) / math.sqrt(curvature)


def _check_c(curvature: float) -> float:
    c = float(curvature)
    if not (c > 0.0 and math.isfinite(c)):
        raise ValueError(f"curvature must be a positive finite number, got {curvature!r}")
    return c


def project(x: torch.Tensor, curvature: float = 1.0) -> torch.Tensor:
    """Clamp the norms of points ``x`` (..., D) to at most ``(1 - eps)/sqrt(c)``."""
    c = _check_c(curvature)
    maxnorm = (1.0 - ball_eps(x.dtype)) / math.sqrt(c)
    norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True)
    scale = torch.where(norm > maxnorm, maxnorm / norm.clamp_min(1e-300), torch.ones_like(norm))
    return x * scale


def poincare_dist(x: torch.Tensor, y: torch.Tensor, curvature: float = 1.0) -> torch.Tensor:
    """Hyperbolic distance between Poincaré points ``x`` and ``y`` (..., D), arsinh form."""
    c = _check_c(curvature)
    x = project(x, c)
    y = project(y, c)
    sc = math.sqrt(c)
    # 1 - c|x|^2 computed as (1 - sqrt(c)|x|)(1 + sqrt(c)|x|): no cancellation near 0
    nx = sc * torch.linalg.vector_norm(x, dim=-1)
    ny = sc * torch.linalg.vector_norm(y, dim=-1)
    den = torch.sqrt((1.0 - nx) * (1.0 + nx) * (1.0 - ny) * (1.0 + ny))
    num = sc * torch.linalg.vector_norm(x - y, dim=-1)
    return (2.0 / sc) * torch.asinh(num / den)


def dist0(x: torch.Tensor, curvature: float = 1.0) -> torch.Tensor:
    """Hyperbolic distance of Poincaré points ``x`` from the origin."""
    c = _check_c(curvature)
    sc = math.sqrt(c)
    n = sc * torch.linalg.vector_norm(project(x, c), dim=-1)
    return (2.0 / sc) * torch.atanh(n)


def polar_to_poincare(
    radius: torch.Tensor, angle: torch.Tensor, curvature: float = 1.0
) -> torch.Tensor:
    """Points at hyperbolic distance ``radius`` from the origin, direction ``angle`` (..., 2)."""
    c = _check_c(curvature)
    sc = math.sqrt(c)
    r = radius.clamp(min=0.0, max=max_radius(radius.dtype, c))
    t = torch.tanh(0.5 * sc * r) / sc
    return torch.stack((t * torch.cos(angle), t * torch.sin(angle)), dim=-1)


def level_angles(max_levels: int, fan: float, dtype=np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Angles of ask and bid levels by depth rank (rank 0 = best).

    Asks sit in the right half of the disk around angle 0, bids in the mirror image around
    angle pi: ``theta_ask(k) = phi_k``, ``theta_bid(k) = pi - phi_k`` with
    ``phi_k = fan * (k/(max_levels - 1) - 1/2)`` (``phi_0 = -fan/2`` for a single level).
    """
    if max_levels < 1:
        raise ValueError(f"max_levels must be >= 1, got {max_levels}")
    if not (0.0 <= fan < math.pi):
        raise ValueError(f"fan must be in [0, pi), got {fan}")
    k = np.arange(max_levels, dtype=np.float64)
    phi = fan * (k / max(max_levels - 1, 1) - 0.5)
    return phi.astype(dtype), (math.pi - phi).astype(dtype)


def einstein_midpoint(
    x: torch.Tensor, weights: torch.Tensor | None = None, curvature: float = 1.0, dim: int = -2
) -> torch.Tensor:
    """Weighted Einstein midpoint of Poincaré points ``x`` (..., N, D) along ``dim``.

    Computed through the Lorentz lift: m = sum_i w_i X_i / ||sum_i w_i X_i||_L, then mapped
    back to the ball. Identical to the Klein-model midpoint sum(w gamma k)/sum(w gamma).
    """
    c = _check_c(curvature)
    sc = math.sqrt(c)
    x = project(x, c)
    n2 = c * (x * x).sum(-1, keepdim=True)
    den = (1.0 - n2).clamp_min(ball_eps(x.dtype))
    x0 = (1.0 + n2) / den  # cosh(sqrt(c) d)
    xs = 2.0 * sc * x / den  # sinh(sqrt(c) d) * u
    if weights is None:
        weights = torch.ones(x.shape[:-1], dtype=x.dtype, device=x.device)
    w = weights.unsqueeze(-1)
    a0 = (w * x0).sum(dim) / w.sum(dim)
    asp = (w * xs).sum(dim) / w.sum(dim)
    norm = torch.sqrt((a0 * a0 - (asp * asp).sum(-1, keepdim=True)).clamp_min(1.0))
    m0 = a0 / norm
    msp = asp / norm
    return msp / (sc * (1.0 + m0))


def lorentz_dispersion(
    x: torch.Tensor, weights: torch.Tensor, centre: torch.Tensor, curvature: float = 1.0
) -> torch.Tensor:
    """(1/sqrt(c)) acosh( sum_i w_i cosh(sqrt(c) d(x_i, centre)) / sum_i w_i ).

    Evaluated as (2/sqrt(c)) asinh(sqrt(mean_w sinh^2(sqrt(c) d_i / 2))) from the per-point
    arsinh arguments, which has no cancellation when points sit near the centre.
    ``x`` (..., N, D), ``weights`` (..., N), ``centre`` (..., D).
    """
    c = _check_c(curvature)
    sc = math.sqrt(c)
    x = project(x, c)
    m = project(centre, c).unsqueeze(-2)
    nx = sc * torch.linalg.vector_norm(x, dim=-1)
    nm = sc * torch.linalg.vector_norm(m, dim=-1)
    den = torch.sqrt((1.0 - nx) * (1.0 + nx) * (1.0 - nm) * (1.0 + nm))
    s = sc * torch.linalg.vector_norm(x - m, dim=-1) / den  # sinh(sqrt(c) d_i / 2)
    ms = (weights * s * s).sum(-1) / weights.sum(-1)
    return (2.0 / sc) * torch.asinh(torch.sqrt(ms))


def level_distance(price: torch.Tensor, mid: torch.Tensor, delta: float) -> torch.Tensor:
    """Hyperbolic distance of price levels from the mid: ``ln(1 + |ln(price/mid)| / delta)``.

    ``mid`` broadcasts against ``price`` (e.g. (T, 1) against (T, L)); ``delta`` is the
    log-distance (``scale_bps * 1e-4``) where the map turns from linear to logarithmic.
    """
    return torch.log1p(torch.abs(torch.log(price / mid)) / delta)


def level_points(
    distance: torch.Tensor, angle: torch.Tensor, curvature: float = 1.0
) -> torch.Tensor:
    """Poincaré coordinates (..., 2) of levels at ``distance`` (clamped at the dtype's
    :func:`radial_cap`) in direction ``angle``: ``tanh(sqrt(c) d / 2) / sqrt(c) (cos, sin)``."""
    c = _check_c(curvature)
    sc = math.sqrt(c)
    h = torch.clamp(0.5 * sc * distance, max=radial_cap(distance.dtype))
    r = torch.tanh(h) / sc
    return torch.stack((r * torch.cos(angle), r * torch.sin(angle)), dim=-1)


def decay_fit(
    distance: torch.Tensor, size: torch.Tensor, lambda_max: float = 1000.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Liquidity decay ``size ~ rho0 exp(-d / lambda)`` fitted along the last dim.

    Weighted least squares of ``y = ln size`` on ``d`` with the sizes as weights:
    ``rate = -S_dy / S_dd`` (``S`` the weighted central second moments), ``lambda =
    1 / max(rate, 1 / lambda_max)``, ``ln rho0 = ybar + rate dbar`` clipped to
    ``[-LOG_CLIP, LOG_CLIP]`` and ``r2 = S_dy^2 / (S_dd S_yy)`` (1 when every size is
    equal). A side whose levels all lie at one distance (``S_dd`` zero within
    :func:`fit_tol`) gives ``rate = 0``, ``r2 = 0``. Returns ``(rho0, lambda, rate, r2)``.
    """
    tol = fit_tol(distance.dtype)
    w = size
    W = w.sum(-1, keepdim=True)
    y = torch.log(size)
    dbar = (w * distance).sum(-1, keepdim=True) / W
    ybar = (w * y).sum(-1, keepdim=True) / W
    dc, yc = distance - dbar, y - ybar
    sxx = (w * dc * dc).sum(-1)
    syy = (w * yc * yc).sum(-1)
    sxy = (w * dc * yc).sum(-1)
    fit = sxx > tol * (w * distance * distance).sum(-1)
    rate = torch.where(fit, -sxy / torch.where(fit, sxx, 1.0), 0.0)
    flat = syy <= tol * (w * y * y).sum(-1)
    r2 = torch.where(flat, 1.0, torch.clamp(sxy * sxy / (sxx * syy), max=1.0))
    r2 = torch.where(fit, r2, 0.0)
    lrho0 = torch.clamp(ybar[..., 0] + rate * dbar[..., 0], -LOG_CLIP, LOG_CLIP)
    lam = 1.0 / torch.clamp(rate, min=1.0 / lambda_max)
    return torch.exp(lrho0), lam, rate, r2
