"""Risk-engine benchmark: plain numpy/scipy baselines against ours, side by side.

    python benchmarks/perf/bench_risk.py [--device cpu|cuda] [--no-compile] [--reps N]

Rows:
  * price + 5 first-order Greeks (BSM) for 1,000,000 options;
  * Monte Carlo VaR + ES, 10,000 paths, one series of 1,000 returns;
  * rolling 95 % and 99 % VaR + ES over 100,000 candles, 288-candle window.
Timings are the best of ``--reps`` runs (wall clock); on a shared machine they are noisy.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numba
import numpy as np
import torch
from numpy.lib.stride_tricks import sliding_window_view
from scipy.special import ndtr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: common helpers
from common.timing import best_time

from hyperphysics_strategy.engine.devices import resolve_device
from hyperphysics_strategy.engine.greeks import bsm_greeks
from hyperphysics_strategy.engine.risk import GPURiskEngine


# ------------------------------------------------------------------------- baselines
def numpy_greeks(S, K, T, v, r, q):
    """Plain closed form: price, delta, gamma, vega, theta, rho of calls."""
    sq = np.sqrt(T)
    d1 = (np.log(S / K) + (r - q + 0.5 * v * v) * T) / (v * sq)
    d2 = d1 - v * sq
    n1, n2 = ndtr(d1), ndtr(d2)
    pdf = np.exp(-0.5 * d1 * d1) / np.sqrt(2 * np.pi)
    dq, dr = np.exp(-q * T), np.exp(-r * T)
    price = S * dq * n1 - K * dr * n2
    delta = dq * n1
    gamma = dq * pdf / (S * v * sq)
    vega = S * dq * pdf * sq
    theta = -S * dq * pdf * v / (2 * sq) - r * K * dr * n2 + q * S * dq * n1
    rho = K * T * dr * n2
    return price, delta, gamma, vega, theta, rho


def numpy_mc_var(x, n=10_000, a=0.95, seed=0):
    rng = np.random.default_rng(seed)
    sim = rng.normal(x.mean(), x.std(ddof=1), n)
    k = int(np.ceil(n * (1 - a)))
    losses = -sim
    part = np.partition(losses, n - k)[n - k :]
    return part.min(), part.mean()


def numpy_rolling(x, window=288, levels=(0.95, 0.99)):
    losses = sliding_window_view(-x, window)
    ks = [int(np.ceil(window * (1 - a) - 1e-9)) for a in levels]
    kmax = max(ks)
    part = np.partition(losses, window - kmax, axis=1)[:, window - kmax :]
    top = -np.sort(-part, axis=1)
    csum = np.cumsum(top, axis=1)
    return [(top[:, k - 1], csum[:, k - 1] / k) for k in ks]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--device", default=None, help="torch device (default: machine default)")
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile rows")
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    dev = resolve_device(args.device)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    print(
        f"machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, numba {numba.__version__} "
        f"({numba.get_num_threads()} threads), device {dev}"
    )
    t0 = time.perf_counter()
    bsm_greeks(
        np.full(1 << 16, 100.0), 100.0, time_to_expiry=1.0, volatility=0.2
    )  # the fused kernel: JIT or cache
    print(
        f"first fused-kernel call (compile, or load from cache): {time.perf_counter() - t0:.2f} s"
    )
    rows: list[tuple[str, str, float, str, float, str]] = []

    # ---------------------------------------------------------------- Greeks
    n = 1_000_000
    rng = np.random.default_rng(0)
    S = rng.uniform(50, 150, n)
    K = rng.uniform(50, 150, n)
    T = rng.uniform(0.05, 2.0, n)
    v = rng.uniform(0.1, 0.6, n)
    r, q = 0.03, 0.01
    base = best_time(lambda: numpy_greeks(S, K, T, v, r, q), args.reps)
    cases = []
    if dev.type == "cpu":
        cases.append(
            (
                "numpy in/out, float64 (fused)",
                lambda: bsm_greeks(S, K, time_to_expiry=T, volatility=v, rate=r, dividend_yield=q),
            )
        )
        cases.append(
            (
                "float64, validate=False",
                lambda: bsm_greeks(
                    S, K, time_to_expiry=T, volatility=v, rate=r, dividend_yield=q, validate=False
                ),
            )
        )
    t64 = dict(zip(("spot", "strike", "time_to_expiry", "volatility"), (S, K, T, v), strict=True))
    t64 = {k: torch.as_tensor(a, device=dev) for k, a in t64.items()}
    t32 = {k: a.float() for k, a in t64.items()}
    cases.append(
        ("torch float64 (fused on CPU)", lambda: bsm_greeks(**t64, rate=r, dividend_yield=q))
    )
    cases.append(("torch float32", lambda: bsm_greeks(**t32, rate=r, dividend_yield=q)))
    if not args.no_compile:
        cases.append(
            (
                "torch.compile float64",
                lambda: bsm_greeks(**t64, rate=r, dividend_yield=q, compile=True, validate=False),
            )
        )
        cases.append(
            (
                "torch.compile float32",
                lambda: bsm_greeks(**t32, rate=r, dividend_yield=q, compile=True, validate=False),
            )
        )
    for label, fn in cases:
        try:
            t = best_time(fn, args.reps, sync=sync)
        except Exception as exc:  # noqa: BLE001 - e.g. no C++ compiler for torch.compile
            print(f"  {label}: skipped ({type(exc).__name__}: {exc})")
            continue
        rows.append(
            (
                "price+5 Greeks, 1M options",
                f"{n / base / 1e6:.1f} M/s",
                base,
                f"{label}: {n / t / 1e6:.1f} M/s",
                t,
                ">= 5x",
            )
        )

    # ---------------------------------------------------------------- MC VaR
    x = np.random.default_rng(1).standard_t(4, 1000) * 0.01
    eng = GPURiskEngine(device=dev, mc_simulations=10_000, seed=0)
    reps = max(args.reps, 200)
    base = best_time(lambda: numpy_mc_var(x), reps)
    ours = best_time(lambda: eng.var_monte_carlo(x, 0.95), reps, sync=sync)
    rows.append(
        (
            "MC VaR+ES, 10k paths, 1 series",
            "numpy normal+partition",
            base,
            "var_monte_carlo (normal)",
            ours,
            "<= 50 us",
        )
    )
    ours_b = best_time(lambda: eng.var_monte_carlo(x, 0.95, "bootstrap"), reps, sync=sync)
    rows.append(
        (
            "MC VaR+ES, 10k paths, 1 series",
            "numpy normal+partition",
            base,
            "var_monte_carlo (bootstrap)",
            ours_b,
            "-",
        )
    )

    # ---------------------------------------------------------------- rolling
    y = np.random.default_rng(2).standard_t(4, 100_000) * 0.003
    base = best_time(lambda: numpy_rolling(y), max(1, args.reps // 2))
    ours = best_time(lambda: eng.rolling_var(y, 288, (0.95, 0.99)), args.reps, sync=sync)
    rows.append(
        (
            "rolling 95+99% VaR+ES, 100k, w=288",
            "numpy sliding partition",
            base,
            "rolling_var historical",
            ours,
            "<= 200 ms",
        )
    )
    ours_p = best_time(
        lambda: eng.rolling_var(y, 288, (0.95, 0.99), "normal"), args.reps, sync=sync
    )
    rows.append(
        (
            "rolling 95+99% VaR+ES, 100k, w=288",
            "numpy sliding partition",
            base,
            "rolling_var normal",
            ours_p,
            "-",
        )
    )

    def fmt(s: float) -> str:
        return f"{s * 1e6:.1f} us" if s < 1e-3 else f"{s * 1e3:.2f} ms"

    head = ("task", "baseline", "time", "ours", "time", "speed-up", "target")
    table = [head] + [
        (task, bl, fmt(bt), ou, fmt(ot), f"{bt / ot:.1f}x", tg) for task, bl, bt, ou, ot, tg in rows
    ]
    widths = [max(len(str(r[i])) for r in table) for i in range(len(head))]
    for i, row in enumerate(table):
        print(" | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))
        if i == 0:
            print("-+-".join("-" * w for w in widths))


if __name__ == "__main__":
    main()
