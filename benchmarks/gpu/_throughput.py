"""``throughput`` section of ``gpu_check.py``: price + Greeks, Monte Carlo VaR + ES,
rolling VaR and order-book features, each against the card's copy bandwidth."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from _measure import fmt_s, rate, size, sync, timed

from hyperphysics_strategy.engine.greeks import bsm_greeks
from hyperphysics_strategy.engine.orderbook import HyperbolicOrderBook
from hyperphysics_strategy.engine.risk import GPURiskEngine


def copy_bandwidth(device: torch.device, nbytes: int) -> float:
    """Bytes per second of a device-to-device copy, counting bytes read and written."""
    src = torch.empty(nbytes // 4, dtype=torch.float32, device=device).fill_(1.0)
    dst = torch.empty_like(src)
    seconds, _ = timed(lambda: dst.copy_(src), device, reps=10)
    return 2 * nbytes / seconds


def section_throughput(acc: torch.device, tiny: bool, deadline: float) -> dict[str, Any]:
    cpu = torch.device("cpu")
    bw = {acc.type: copy_bandwidth(acc, size("copy_bytes", tiny))}
    if acc.type != "cpu":
        bw["cpu"] = copy_bandwidth(cpu, min(size("copy_bytes", tiny), 1 << 30))
    rows: list[list[Any]] = []
    checks: dict[str, bool] = {}
    notes = [
        "bandwidth limit (device-to-device copy, read + write): "
        + ", ".join(f"{k} {v / 1e9:.0f} GB/s" for k, v in bw.items()),
        "fraction = compulsory bytes (inputs once + outputs once) / time / copy bandwidth; "
        "inputs already on the device",
    ]
    devices = [acc] if acc.type == "cpu" else [acc, cpu]

    def row(task, device, n, seconds, nbytes, unit):
        frac = nbytes / seconds / bw[device.type]
        rows.append(
            [
                task,
                str(device),
                f"{n:,}",
                fmt_s(seconds),
                f"{rate(n / seconds)} {unit}/s",
                f"{nbytes / seconds / 1e9:,.1f} GB/s",
                f"{frac:.1%}",
            ]
        )

    # -- price + 5 Greeks -----------------------------------------------------------
    n = size("options", tiny)
    rng = np.random.default_rng(0)
    inputs = [
        rng.uniform(50, 150, n),
        rng.uniform(50, 150, n),
        rng.uniform(0.05, 2.0, n),
        rng.uniform(0.1, 0.6, n),
    ]

    def greeks(device: torch.device, m: int, dtype: torch.dtype, compile: bool) -> None:
        names = ("spot", "strike", "time_to_expiry", "volatility")
        args = {
            k: torch.as_tensor(a[:m], dtype=dtype, device=device)
            for k, a in zip(names, inputs, strict=True)
        }
        t0 = time.perf_counter()
        bsm_greeks(
            **args, rate=0.03, dividend_yield=0.01, validate=False, compile=compile
        )  # compiles if asked
        sync(device)
        first = time.perf_counter() - t0
        seconds, out = timed(
            lambda: bsm_greeks(
                **args, rate=0.03, dividend_yield=0.01, validate=False, compile=compile
            ),
            device,
            3,
        )
        checks[f"greeks {device} {dtype}{' compiled' if compile else ''}: finite"] = all(
            bool(torch.isfinite(v).all()) for v in out.values()
        )
        how = f", torch.compile (first call {first:.1f} s)" if compile else ""
        item = torch.finfo(dtype).bits // 8
        nbytes = m * item * (len(args) + len(out))
        row(
            f"price+{len(out) - 1} Greeks, {str(dtype)[6:]}{how}",
            device,
            m,
            seconds,
            nbytes,
            "options",
        )

    for device in devices:
        m = n if device == acc else min(n, 2_000_000)
        for dtype in (torch.float32, torch.float64):
            greeks(device, m, dtype, compile=False)
        if device.type == "cuda" and time.perf_counter() < deadline - 200:
            for dtype in (torch.float32, torch.float64):
                greeks(device, m, dtype, compile=True)

    # -- Monte Carlo VaR + ES -------------------------------------------------------
    B, L = size("series", tiny), size("series_len", tiny)
    for device in devices:
        r = torch.as_tensor(np.random.default_rng(1).standard_t(4, (B, L)) * 0.01, device=device)
        for paths in size("paths", tiny):
            for dist in ("normal", "bootstrap"):
                eng = GPURiskEngine(device=device, mc_simulations=paths, seed=0)
                t0 = time.perf_counter()
                eng.var_monte_carlo(r, (0.95, 0.99), dist)
                sync(device)
                cold = time.perf_counter() - t0
                seconds, (var, es) = timed(
                    lambda e=eng, d=dist, x=r: e.var_monte_carlo(x, (0.95, 0.99), d), device, 5
                )
                checks[f"mc {dist} {paths} {device}: finite, ES >= VaR"] = bool(
                    torch.isfinite(var).all() and (es >= var - 1e-12).all()
                )
                row(
                    f"MC VaR+ES {dist}, {paths:,} paths, {B} series x {L} returns "
                    f"(first call, drawing: {fmt_s(cold)})",
                    device,
                    B,
                    seconds,
                    r.numel() * 8 + 4 * B * 8,
                    "series",
                )
        del r

    # -- rolling VaR ------------------------------------------------------------------
    n, w = size("rolling", tiny), size("window", tiny)
    y = np.random.default_rng(2).standard_t(4, n) * 0.003
    for device in devices:
        eng = GPURiskEngine(device=device, seed=0)
        yt = torch.as_tensor(y, device=device)
        seconds, (var, es) = timed(lambda e=eng, t=yt: e.rolling_var(t, w, (0.95, 0.99)), device, 3)
        checks[f"rolling {device}: finite after warm-up"] = bool(torch.isfinite(var[w:]).all())
        row(f"rolling 95+99% VaR+ES, window {w}", device, n, seconds, n * 8 * 5, "returns")
        del yt, var, es

    # -- order book -------------------------------------------------------------------
    T, Lv = size("books", tiny), size("levels", tiny)
    bids, asks = synthetic_books(T, Lv)
    for device in devices:
        m = T if device == acc else min(T, 100_000)
        book = HyperbolicOrderBook(device=device, max_levels=Lv, dtype=torch.float32)
        # on a GPU the books start on it; the CPU path takes numpy arrays as they come
        b = torch.as_tensor(bids[:m], device=device) if device.type != "cpu" else bids[:m]
        a = torch.as_tensor(asks[:m], device=device) if device.type != "cpu" else asks[:m]
        seconds, frame = timed(lambda o=book, bb=b, aa=a: o.batch(bb, aa), device, 2)
        checks[f"order book {device}: every book valid"] = bool(frame["valid"].all())
        out_bytes = int(sum(frame[c].to_numpy().itemsize for c in frame.columns)) * m
        row(
            f"order-book features, {Lv} levels, float32 (to a DataFrame)",
            device,
            m,
            seconds,
            bids[:m].nbytes * 2 + out_bytes,
            "books",
        )
        del b, a, frame
    header = ["workload", "device", "size", "time", "throughput", "traffic", "of copy bandwidth"]
    return {
        "bandwidth_bytes_per_s": bw,
        "checks": checks,
        "notes": notes,
        "table": {"header": header, "rows": rows},
    }


def synthetic_books(T: int, L: int) -> tuple[np.ndarray, np.ndarray]:
    """(T, L, 2) float32 bids and asks around a random-walk mid, sizes lognormal."""
    rng = np.random.default_rng(3)
    mid = 100.0 * np.exp(np.cumsum(rng.normal(0, 1e-4, T))).astype(np.float32)
    steps = np.cumsum(rng.uniform(0.5, 1.5, (T, L)).astype(np.float32), axis=1) * 0.01
    bids = np.stack([mid[:, None] - steps, rng.lognormal(0, 1, (T, L)).astype(np.float32)], -1)
    asks = np.stack([mid[:, None] + steps, rng.lognormal(0, 1, (T, L)).astype(np.float32)], -1)
    return bids.astype(np.float32), asks.astype(np.float32)
