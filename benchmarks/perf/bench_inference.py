"""Inference paths side by side: native (numba compiled forests for the trees, eager torch
for the networks), ONNX Runtime, CUDA where torch sees a GPU, torch.compile on request.

    python benchmarks/perf/bench_inference.py              # default ensemble (2 experts)
    python benchmarks/perf/bench_inference.py --all        # all twelve experts + the blend
    python benchmarks/perf/bench_inference.py --all --quick  # small models (smoke run)

Per expert: the median seconds of ``--repeat`` calls on 1 row and on 1,000 rows x 100
features for each path that passed the parity check (max |dp| <= 1e-5, the check
``ensemble/serving.py`` makes before choosing), and the path it chooses. Whole ensemble:
``ExpertEnsemble.predict_proba`` with every expert native, with the chosen paths, and the
exported folder's ``predict.py`` (ONNX Runtime for every expert and the blend). Targets
(issue #26): all twelve + blend <= 10 ms, the default two <= 2 ms at 1,000 rows. For the
networks: their MFLOP per 1,000 rows and the rate their best path reached; with them, a
floor: their arithmetic at this machine's matrix-product rate plus the trees' best times.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: common helpers
from common.ensemble_runs import data
from common.table import print_table

from hyperphysics_strategy.ensemble import EXPERT_REGISTRY, ExpertEnsemble
from hyperphysics_strategy.ensemble.experts import DEFAULT_EXPERTS
from hyperphysics_strategy.ensemble.serving import OPT_IN, PATHS, choose_inference, use_native

QUICK = {"n_estimators": 60, "max_epochs": 3}


def interleaved(calls: dict, rows: np.ndarray, repeat: int) -> dict[str, float]:
    """Median ms of each predictor on ``rows``, the calls interleaved round by round (a
    load that changes during the run hits every predictor alike) in a fresh random order
    each round (a call right after the exported folder's 10 ms of ONNX Runtime finds the
    caches cold: in a fixed order the predictor after it ran up to 15% slower)."""
    for fn in calls.values():
        fn(rows)
    rng = np.random.default_rng(0)
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeat):
        for name in rng.permutation(list(calls)):
            t0 = time.perf_counter()
            calls[name](rows)
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) * 1e3 for name, t in times.items()}


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def network_mflop(expert, rows: np.ndarray) -> float | None:
    """Floating-point operations of a torch expert's forward pass on ``rows`` (torch's
    FlopCounterMode: matrix products and attention; elementwise work is not counted)."""
    if expert.library != "torch":
        return None
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    z = torch.from_numpy(expert._standardise(rows))
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        expert.module(z)
    return counter.get_total_flops() / 1e6


def matmul_gflops(rows: int = 1000, width: int = 128, repeat: int = 50) -> float:
    """This machine's float32 matrix-product rate at the networks' sizes (rows x width
    times width x width, torch on the CPU): the yardstick for the networks' floor."""
    import torch

    a, b = torch.randn(rows, width), torch.randn(width, width)
    seconds = _best(lambda: a @ b, repeat)
    return 2 * rows * width * width / seconds / 1e9


def _best(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--all", action="store_true", help="all twelve experts")
    ap.add_argument("--quick", action="store_true", help="small models (smoke run)")
    ap.add_argument("--compile", action="store_true", help="torch.compile too (slow)")
    ap.add_argument("--repeat", type=int, default=30)
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()}")
    names = tuple(EXPERT_REGISTRY) if args.all else DEFAULT_EXPERTS
    params = None
    if args.quick:
        params = {
            n: {"max_epochs": QUICK["max_epochs"]}
            if EXPERT_REGISTRY[n].library == "torch"
            else {"n_estimators": QUICK["n_estimators"]}
            for n in names
        }
    X, y = data(n=6000, seed=1, noise=5.0)
    started = time.perf_counter()
    ensemble = ExpertEnsemble(names, params, stacking_folds=0).fit(X, y)  # folds: no effect here
    print(f"trained {len(names)} experts in {time.perf_counter() - started:.0f} s")
    batch = np.ascontiguousarray(X[:1000])
    one = np.ascontiguousarray(X[:1])

    paths = PATHS + (OPT_IN if args.compile else ())
    plan = choose_inference(ensemble, X[-500:], paths=paths, repeat=args.repeat)
    routers = [e.__dict__.get("serving_") for e in ensemble.experts_]

    def state(chosen: bool):
        def call(rows):
            for expert, router in zip(ensemble.experts_, routers, strict=True):
                expert.serving_ = router if chosen else None
            return ensemble.predict_proba(rows)

        return call

    shown = [p for p in paths if any(r.path == p for c in plan.experts for r in c.results)]
    mflop = {e.name: network_mflop(e, batch) for e in ensemble.experts_}
    rows = []
    for choice in plan.experts:
        by = {r.path: r for r in choice.results}
        ok = {p: r for p, r in by.items() if r.ok}
        cells = [fmt(ok[p].one_row * 1e3) if p in ok else "x" for p in shown]
        cells += [fmt(ok[p].batch * 1e3) if p in ok else "x" for p in shown]
        best = min(r.batch for r in ok.values())
        ratio = by["native"].batch / best
        diff = max((r.max_abs_diff or 0.0) for r in ok.values())
        chose = choice.small if choice.small == choice.large else f"{choice.small} / {choice.large}"
        work = mflop[choice.name]
        rate = "-" if work is None else f"{work / best / 1e3:.0f}"
        rows.append([choice.name, *cells, f"{ratio:.1f}x", f"{diff:.1g}", chose,
                     "-" if work is None else f"{work:.0f}", rate])  # fmt: skip
    header = ["expert", *(f"{p} 1 row" for p in shown), *(f"{p} 1000" for p in shown)]
    header += ["native / best (1000)", "max abs dp", "chosen (1 row / 1000)"]
    header += ["MFLOP (1000)", "GFLOP/s (best)"]
    size = "small models" if args.quick else "default parameters"
    print_table(
        f"Inference per expert, ms (median of {args.repeat}), 100 features, {size}; "
        "x: refused or not applicable",
        header,
        rows,
    )

    with tempfile.TemporaryDirectory() as tmp:
        report = ensemble.to_onnx(Path(tmp) / "export", X[-500:])
        sys.path.insert(0, str(Path(tmp) / "export"))
        from predict import ExportedEnsemble

        exported = ExportedEnsemble(Path(tmp) / "export", threads=2)
        gap = float(np.abs(exported.predict_proba(batch) - state(False)(batch)).max())
        calls = {"native": state(False), "chosen": state(True), "onnx": exported.predict_proba}
        ms = {b: interleaved(calls, r, args.repeat) for b, r in (("one", one), ("batch", batch))}
        use_native(ensemble)
    native = [ms["one"]["native"], ms["batch"]["native"]]
    chosen = [ms["one"]["chosen"], ms["batch"]["chosen"]]
    onnx_ms = [ms["one"]["onnx"], ms["batch"]["onnx"]]
    label = f"{len(names)} experts + blend"
    print_table(
        f"Whole ensemble ({label}), ms (median of {args.repeat}), 100 features, {size}",
        ["predictor", "1 row", "1,000 rows", "vs native (1,000)"],
        [
            ["native (ExpertEnsemble.predict_proba)", fmt(native[0]), fmt(native[1]), "1.0x"],
            ["chosen paths (serving.py)", fmt(chosen[0]), fmt(chosen[1]),
             f"{native[1] / chosen[1]:.1f}x"],
            [f"exported predict.py (max |dp| {gap:.1g})", fmt(onnx_ms[0]), fmt(onnx_ms[1]),
             f"{native[1] / onnx_ms[1]:.1f}x"],
        ],
    )  # fmt: skip
    networks = sum(w for w in mflop.values() if w is not None)
    if networks:
        peak = matmul_gflops()
        trees = sum(
            min(r.batch for r in c.results if r.ok) for c in plan.experts if mflop[c.name] is None
        )
        print(
            f"\nfloor at 1,000 rows: the networks' {networks:.0f} MFLOP at this machine's "
            f"{peak:.0f} GFLOP/s (float32 1000x128 @ 128x128, torch) take "
            f"{networks / peak:.1f} ms; with the trees' best paths "
            f"({trees * 1e3:.1f} ms) the experts need at least "
            f"{networks / peak + trees * 1e3:.1f} ms"
        )
    for line in plan.lines():
        if line.startswith("whole ensemble"):
            print(f"\nchoice checked on the {line}")
    print(f"\nexport parity: {report.lines()[-1]}")
    print(f"choice took {plan.seconds:.1f} s; load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
