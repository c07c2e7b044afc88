"""Order-book feature benchmark: per-level Python loop vs straightforward numpy vs ours.

Run: ``python benchmarks/perf/bench_orderbook.py [--rows N] [--levels L] [--quick]``

All three compute the same hyperbolic features (Poincaré map, Einstein midpoints, centroid
distance, dispersion, liquidity-decay fit) plus the plain book features, on the same
synthetic books (L levels a side). Numbers on a shared machine are noisy: run it twice.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: common helpers
import common.checkout  # noqa: F401 - the package from this checkout when not installed
from common.timing import best_time

from hyperphysics_strategy.engine.orderbook import HyperbolicOrderBook

DELTA = 1e-4
FAN = math.pi / 2


def make_books(T: int, L: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    mid = 100.0 * np.exp(np.cumsum(rng.normal(0, 1e-4, T)))[:, None]
    bx = np.cumsum(rng.uniform(2e-5, 3e-4, (T, L)), axis=1)
    ax = np.cumsum(rng.uniform(2e-5, 3e-4, (T, L)), axis=1)
    bids = np.stack((mid * np.exp(-bx), rng.lognormal(0, 1, (T, L))), axis=-1)
    asks = np.stack((mid * np.exp(ax), rng.lognormal(0, 1, (T, L))), axis=-1)
    return bids, asks


# --------------------------------------------------------------------- 1. Python loop
def python_loop_features(bids, asks) -> dict[str, float]:
    """One snapshot, one level at a time (the original design's CPU baseline)."""
    L = len(bids)
    bb, qb1 = bids[0]
    ba, qa1 = asks[0]
    mid = 0.5 * (bb + ba)
    out = {"mid": mid, "spread": ba - bb, "microprice": (bb * qa1 + ba * qb1) / (qb1 + qa1)}
    lmid = 0.5 * (math.log(bb) + math.log(ba))
    for k in (1, 5, 10, L):
        vb = sum(q for _, q in bids[:k])
        va = sum(q for _, q in asks[:k])
        out[f"imb_{k}"] = (vb - va) / (vb + va)
    sides = {}
    for name, side, sign in (("bid", bids, -1.0), ("ask", asks, 1.0)):
        pts, ws, ds = [], [], []
        for k, (p, q) in enumerate(side):
            d = math.log1p(sign * (math.log(p) - lmid) / DELTA)
            phi = FAN * (k / (L - 1) - 0.5)
            th = phi if sign > 0 else math.pi - phi
            r = math.tanh(d / 2)
            pts.append((r * math.cos(th), r * math.sin(th)))
            ws.append(q)
            ds.append(d)
        # Einstein midpoint in the Klein model
        num_x = num_y = den = 0.0
        for (x, y), w in zip(pts, ws, strict=True):
            n2 = x * x + y * y
            kx, ky = 2 * x / (1 + n2), 2 * y / (1 + n2)
            g = 1 / math.sqrt(1 - kx * kx - ky * ky)
            num_x += w * g * kx
            num_y += w * g * ky
            den += w * g
        kx, ky = num_x / den, num_y / den
        s = 1 + math.sqrt(1 - kx * kx - ky * ky)
        m = (kx / s, ky / s)
        # Lorentzian dispersion, arsinh form
        acc = 0.0
        for (x, y), w in zip(pts, ws, strict=True):
            z = math.hypot(x - m[0], y - m[1]) / math.sqrt(
                (1 - x * x - y * y) * (1 - m[0] ** 2 - m[1] ** 2)
            )
            acc += w * z * z
        disp = 2 * math.asinh(math.sqrt(acc / sum(ws)))
        # weighted log-linear fit
        W = sum(ws)
        db = sum(w * d for w, d in zip(ws, ds, strict=True)) / W
        yb = sum(w * math.log(q) for w, q in zip(ws, ws, strict=True)) / W
        sxx = sum(w * (d - db) ** 2 for w, d in zip(ws, ds, strict=True))
        sxy = sum(w * (d - db) * (math.log(w) - yb) for w, d in zip(ws, ds, strict=True))
        sides[name] = m
        out[f"{name}_dispersion"] = disp
        out[f"{name}_decay_rate"] = -sxy / sxx
        out[f"{name}_hdist"] = 2 * math.atanh(math.hypot(*m))
    (x, y), (u, v) = sides["bid"], sides["ask"]
    z = math.hypot(x - u, y - v) / math.sqrt((1 - x * x - y * y) * (1 - u * u - v * v))
    out["centroid_distance"] = 2 * math.asinh(z)
    return out


# --------------------------------------------------------------------- 2. plain numpy
def numpy_plain_features(B, A) -> dict[str, np.ndarray]:
    """Straightforward vectorised numpy: float64, whole arrays, textbook formulas."""
    T, L, _ = B.shape
    out = {}
    bb, ba = B[:, 0, 0], A[:, 0, 0]
    out["mid"] = 0.5 * (bb + ba)
    out["spread"] = ba - bb
    out["microprice"] = (bb * A[:, 0, 1] + ba * B[:, 0, 1]) / (B[:, 0, 1] + A[:, 0, 1])
    cb, ca = np.cumsum(B[..., 1], axis=1), np.cumsum(A[..., 1], axis=1)
    for k in (1, 5, 10, L):
        out[f"imb_{k}"] = (cb[:, k - 1] - ca[:, k - 1]) / (cb[:, k - 1] + ca[:, k - 1])
    lmid = 0.5 * (np.log(bb) + np.log(ba))[:, None]
    phi = FAN * (np.arange(L) / (L - 1) - 0.5)
    cents = {}
    for name, S, sign, th in (("bid", B, -1, np.pi - phi), ("ask", A, 1, phi)):
        d = np.log1p(sign * (np.log(S[..., 0]) - lmid) / DELTA)
        r = np.tanh(d / 2)
        x, y = r * np.cos(th), r * np.sin(th)
        w = S[..., 1]
        n2 = x * x + y * y
        kx, ky = 2 * x / (1 + n2), 2 * y / (1 + n2)
        g = 1 / np.sqrt(1 - kx * kx - ky * ky)
        den = (w * g).sum(1)
        mkx, mky = (w * g * kx).sum(1) / den, (w * g * ky).sum(1) / den
        s = 1 + np.sqrt(1 - mkx**2 - mky**2)
        mx, my = mkx / s, mky / s
        z = np.hypot(x - mx[:, None], y - my[:, None]) / np.sqrt(
            (1 - n2) * (1 - mx**2 - my**2)[:, None]
        )
        out[f"{name}_dispersion"] = 2 * np.arcsinh(np.sqrt((w * z * z).sum(1) / w.sum(1)))
        W = w.sum(1)
        yv = np.log(w)
        dbar = (w * d).sum(1) / W
        ybar = (w * yv).sum(1) / W
        sxx = (w * (d - dbar[:, None]) ** 2).sum(1)
        sxy = (w * (d - dbar[:, None]) * (yv - ybar[:, None])).sum(1)
        out[f"{name}_decay_rate"] = -sxy / sxx
        out[f"{name}_hdist"] = 2 * np.arctanh(np.hypot(mx, my))
        cents[name] = (mx, my)
    (x, y), (u, v) = cents["bid"], cents["ask"]
    z = np.hypot(x - u, y - v) / np.sqrt((1 - x * x - y * y) * (1 - u * u - v * v))
    out["centroid_distance"] = 2 * np.arcsinh(z)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="snapshots for the batch runs")
    ap.add_argument("--levels", type=int, default=20, help="levels a side")
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    args = ap.parse_args()
    T, L = (50_000, args.levels) if args.quick else (args.rows, args.levels)
    T_loop = 2_000 if args.quick else 10_000
    T_np = min(T, 200_000)
    print(
        f"# order-book features, {L} levels a side; torch {torch.__version__}, "
        f"{os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}"
    )
    print("# shared machine: other processes compete for the CPU, timings are noisy\n")
    B, A = make_books(T, L)
    B32, A32 = B.astype(np.float32), A.astype(np.float32)

    rows = []
    t = best_time(
        lambda: [python_loop_features(B[i], A[i]) for i in range(T_loop)], repeat=1, warmup=False
    )
    base = T_loop / t
    rows.append(("python per-level loop (float64)", T_loop, base))
    t = best_time(lambda: numpy_plain_features(B[:T_np], A[:T_np]), repeat=2, warmup=False)
    rows.append(("numpy straightforward (float64)", T_np, T_np / t))
    configs = [
        ("ours batch numpy float32", "cpu", torch.float32, "numpy", B32, A32),
        ("ours batch numpy float64", "cpu", torch.float64, "numpy", B, A),
        ("ours batch torch-cpu float32", "cpu", torch.float32, "torch", B32, A32),
    ]
    if torch.cuda.is_available():
        configs.append(("ours batch cuda float32", "cuda", torch.float32, "torch", B32, A32))
        configs.append(("ours batch cuda float64", "cuda", torch.float64, "torch", B, A))
    for label, dev, dt, be, bb, aa in configs:
        book = HyperbolicOrderBook(device=dev, dtype=dt, cpu_backend=be, max_levels=L)
        book.batch(bb[:1000], aa[:1000])
        n = T if be == "numpy" or dev != "cpu" else min(T, 200_000)
        t = best_time(
            lambda book=book, bb=bb, aa=aa, n=n: book.batch(bb[:n], aa[:n]), repeat=2, warmup=False
        )
        rows.append((label, n, n / t))

    print(f"{'implementation':36s} {'snapshots':>10s} {'snapshots/s':>14s} {'x loop':>9s}")
    for label, n, rate in rows:
        print(f"{label:36s} {n:10d} {rate:14,.0f} {rate / base:9.1f}")

    # single snapshot (one compiled pass, engine/orderbook/_single.py)
    book = HyperbolicOrderBook(device="cpu", max_levels=L)
    lb, la = B[0].tolist(), A[0].tolist()
    t0 = time.perf_counter()
    book.update(B[0], A[0])
    first = time.perf_counter() - t0
    print(f"{'update() first call (JIT or cache)':36s} {first * 1e3:10.1f} ms")
    for label, args_ in (
        ("update() numpy arrays", (B[0], A[0])),
        ("update() python lists", (lb, la)),
    ):
        book.update(*args_)
        n = 20_000
        t = best_time(lambda a=args_, n=n: [book.update(*a) for _ in range(n)], warmup=False)
        print(f"{label:36s} {t / n * 1e6:10.1f} us/call")
    t = best_time(lambda: [python_loop_features(B[0], A[0]) for _ in range(2000)], warmup=False)
    print(f"{'python loop, one snapshot':36s} {t / 2000 * 1e6:10.1f} us/call")

    # the three agree
    ours = HyperbolicOrderBook(device="cpu", dtype=torch.float64, max_levels=L).batch(
        B[:50], A[:50]
    )
    ref = numpy_plain_features(B[:50], A[:50])
    loop = [python_loop_features(B[i], A[i]) for i in range(50)]
    worst = 0.0
    for c_ours, c_ref in (
        ("centroid_distance", "centroid_distance"),
        ("bid_dispersion", "bid_dispersion"),
        ("ask_hdist", "ask_hdist"),
        ("ask_decay_rate", "ask_decay_rate"),
        ("imbalance_5", "imb_5"),
    ):
        a = ours[c_ours].to_numpy()
        b = ref[c_ref]
        c = np.array([x[c_ref] for x in loop])
        worst = max(worst, np.max(np.abs(a - b) / np.abs(b)), np.max(np.abs(c - b) / np.abs(b)))
    print(f"\nmax relative difference between the three implementations: {worst:.1e}")


if __name__ == "__main__":
    main()
