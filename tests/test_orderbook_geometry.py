"""Poincaré-disk primitives against geoopt, and the features against the primitives."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from hyperphysics_strategy.engine.orderbook import HyperbolicOrderBook
from hyperphysics_strategy.engine.orderbook.geometry import (
    ball_eps,
    decay_fit,
    dist0,
    einstein_midpoint,
    level_distance,
    lorentz_dispersion,
    max_radius,
    poincare_dist,
    polar_to_poincare,
    project,
)

geoopt = pytest.importorskip("geoopt")


def random_ball(n, c, rng, dtype=torch.float64, max_norm=0.95):
    v = torch.from_numpy(rng.normal(size=(n, 2))).to(dtype)
    r = torch.from_numpy(rng.uniform(0, max_norm, size=(n, 1))).to(dtype)
    return v / torch.linalg.vector_norm(v, dim=-1, keepdim=True) * r / math.sqrt(c)


@pytest.mark.parametrize("c", [0.25, 1.0, 4.0])
def test_distance_agrees_with_geoopt(c):
    rng = np.random.default_rng(0)
    ball = geoopt.PoincareBall(c=c)
    x, y = random_ball(2000, c, rng), random_ball(2000, c, rng)
    ours = poincare_dist(x, y, c)
    ref = ball.dist(x, y)
    torch.testing.assert_close(ours, ref, rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(dist0(x, c), ball.dist0(x), rtol=1e-9, atol=1e-10)


def test_near_boundary_and_nearby_points_stay_finite_and_accurate():
    c = 1.0
    ball = geoopt.PoincareBall(c=c)
    rng = np.random.default_rng(1)
    for dt in (torch.float64, torch.float32):
        x = random_ball(500, c, rng, dtype=dt, max_norm=1.0 - 1e-9)
        x = x / torch.linalg.vector_norm(x, dim=-1, keepdim=True) * (1 - 1e-12)  # at the edge
        y = random_ball(500, c, rng, dtype=dt, max_norm=0.999999)
        d = poincare_dist(x, y, c)
        assert torch.isfinite(d).all()
        assert (torch.linalg.vector_norm(project(x, c), dim=-1) <= 1 - ball_eps(dt) + 1e-7).all()
        assert d.max() <= 2 * max_radius(dt, c) + 1e-3
    # float64, points well inside: agreement with geoopt near (not at) the boundary
    x = random_ball(500, c, rng, max_norm=1 - 1e-6)
    y = random_ball(500, c, rng, max_norm=1 - 1e-6)
    torch.testing.assert_close(poincare_dist(x, y, c), ball.dist(x, y), rtol=1e-6, atol=1e-8)
    # nearby points: the arsinh form keeps relative precision where acosh(1+z) cannot
    p = torch.tensor([[0.3, 0.4]], dtype=torch.float64)
    q = p + 1e-12
    d = poincare_dist(p, q, c)
    expect = 2 * math.sqrt(2) * 1e-12 / (1 - 0.25)
    assert d.item() == pytest.approx(expect, rel=1e-6)


def test_polar_map_has_the_requested_distance():
    r = torch.tensor([0.0, 0.5, 3.0, 8.0], dtype=torch.float64)
    a = torch.tensor([0.0, 1.0, 2.0, -1.0], dtype=torch.float64)
    for c in (0.5, 2.0):
        x = polar_to_poincare(r, a, c)
        torch.testing.assert_close(dist0(x, c), r, rtol=1e-9, atol=1e-12)


def test_einstein_midpoint_properties():
    c = 1.0
    rng = np.random.default_rng(2)
    x = random_ball(7, c, rng)
    w = torch.from_numpy(rng.uniform(0.1, 3, 7))
    m = einstein_midpoint(x, w, c, dim=0)
    # rotation equivariance (an isometry fixing the origin)
    th = 0.7
    R = torch.tensor([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]], dtype=x.dtype)
    torch.testing.assert_close(einstein_midpoint(x @ R.T, w, c, dim=0), m @ R.T)
    # single point / identical points: the point itself
    torch.testing.assert_close(einstein_midpoint(x[:1].repeat(3, 1), None, c, dim=0), x[0])
    # two points, equal weights: the geodesic midpoint (equidistant)
    mid = einstein_midpoint(x[:2], None, c, dim=0)
    d1 = poincare_dist(mid, x[0], c)
    d2 = poincare_dist(mid, x[1], c)
    assert d1.item() == pytest.approx(d2.item(), rel=1e-9)
    assert (d1 + d2).item() == pytest.approx(poincare_dist(x[0], x[1], c).item(), rel=1e-9)


@pytest.mark.parametrize("c", [1.0, 2.5])
def test_features_match_the_reference_geometry(c):
    """Centroid, distances and dispersion of the fast paths equal the generic primitives."""
    rng = np.random.default_rng(3)
    T, L = 25, 12
    mids = np.exp(rng.uniform(0, 8, T))[:, None]
    bx = np.cumsum(rng.uniform(1e-5, 2e-3, (T, L)), axis=1)
    ax = np.cumsum(rng.uniform(1e-5, 2e-3, (T, L)), axis=1)
    B = np.stack((mids * np.exp(-bx), np.exp(rng.uniform(-3, 5, (T, L)))), axis=-1)
    A = np.stack((mids * np.exp(ax), np.exp(rng.uniform(-3, 5, (T, L)))), axis=-1)
    book = HyperbolicOrderBook(device="cpu", dtype=torch.float64, curvature=c, max_levels=L)
    df = book.batch(B, A)
    bxy, bw, axy, aw = book.embed(B, A)
    for side, xy, w in (("bid", bxy, bw), ("ask", axy, aw)):
        m = einstein_midpoint(xy, w, c, dim=-2)
        np.testing.assert_allclose(df[f"{side}_centroid_x"], m[:, 0].numpy(), rtol=1e-8)
        np.testing.assert_allclose(df[f"{side}_centroid_y"], m[:, 1].numpy(), rtol=1e-8)
        np.testing.assert_allclose(df[f"{side}_hdist"], dist0(m, c).numpy(), rtol=1e-8)
        disp = lorentz_dispersion(xy, w, m, c)
        np.testing.assert_allclose(df[f"{side}_dispersion"], disp.numpy(), rtol=1e-7)
    # the liquidity-decay fit against the textbook two-pass weighted least squares
    P = {"bid": torch.from_numpy(B[..., 0]), "ask": torch.from_numpy(A[..., 0])}
    mid = torch.sqrt(P["bid"][:, :1] * P["ask"][:, :1])
    for side, w in (("bid", bw), ("ask", aw)):
        d = level_distance(P[side], mid, book.delta)
        rho0, lam, rate, r2 = decay_fit(d, w, book.lambda_max)
        single = [book.update(B[i], A[i]) for i in range(T)]
        for name, ref in (("rho0", rho0), ("lambda", lam), ("decay_rate", rate), ("fit_r2", r2)):
            np.testing.assert_allclose(df[f"{side}_{name}"], ref.numpy(), rtol=1e-8, atol=1e-12)
            got = np.array([f[f"{side}_{name}"] for f in single])
            np.testing.assert_allclose(got, ref.numpy(), rtol=1e-8, atol=1e-12)
    mb = einstein_midpoint(bxy, bw, c, dim=-2)
    ma = einstein_midpoint(axy, aw, c, dim=-2)
    np.testing.assert_allclose(df["centroid_distance"], poincare_dist(mb, ma, c).numpy(), rtol=1e-8)
    # the single-snapshot path agrees as well
    f = book.update(B[0], A[0])
    assert f["centroid_distance"] == pytest.approx(df["centroid_distance"].iloc[0], rel=1e-9)


def test_reference_examples_run():
    """The numbered examples in the reference module's docstring are true."""
    import doctest

    from hyperphysics_strategy.engine.orderbook import geometry

    result = doctest.testmod(geometry)
    assert result.attempted >= 5 and result.failed == 0
