"""Poincaré-disk geometry used by the order-book features (torch and numpy).

Conventions follow the Poincaré ball of curvature ``-c`` (``c > 0``): the ball has
Euclidean radius ``1/sqrt(c)`` and

    d(x, y) = (2/sqrt(c)) * asinh( sqrt(c)|x - y| / sqrt((1 - c|x|^2)(1 - c|y|^2)) )

(the arsinh form, which keeps its precision for nearby points where the usual
``acosh(1 + ...)`` form cancels). Norms are clamped to ``(1 - eps)/sqrt(c)`` with ``eps``
chosen per dtype (:func:`ball_eps`), so every finite input gives a finite distance.

A point at hyperbolic distance ``d`` from the origin in direction ``u`` has Poincaré
coordinates ``tanh(sqrt(c) d / 2) / sqrt(c) * u``; its Lorentz (hyperboloid) lift is
``(cosh(sqrt(c) d), sinh(sqrt(c) d) u)``. The Einstein midpoint of weighted points (the
Klein-model barycenter with Lorentz factors) equals the normalised weighted mean of those
lifts, which is what :func:`einstein_midpoint` computes, in closed form.
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
