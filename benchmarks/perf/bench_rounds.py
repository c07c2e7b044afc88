"""Training rounds: FreqAI-style one pair after another against local rounds (issue #13).

    python benchmarks/perf/bench_rounds.py                 # 8 pairs x 2 experts and x 12 experts
    python benchmarks/perf/bench_rounds.py --quick         # fewer rows, trees and epochs
    python benchmarks/perf/bench_rounds.py --experts mlp,tide,nbeats,tabnet,kan,transformer \\
        --device cuda --folds 0                       # torch only (a bare GPU machine)

For each expert set (``--sets``: how many of ``--experts`` to take, default 2 and all),
``--pairs`` pairs (own synthetic data each) train one ``ExpertEnsemble`` each, three ways,
in one run:

* **FreqAI-style**: one pair after another, each ``train_experts`` call with its own lanes
  (the package before rounds: worker processes start anew for each call);
* **sequential, warm lanes**: one pair after another inside one scheduler round (lanes and
  worker processes stay up), to separate that effect from concurrency;
* **rounds**: every pair at once, one thread per pair, one scheduler round
  (:mod:`hyperphysics_strategy.ensemble.scheduling`), as the live rounds do.

A warm-up fit (not timed) loads the libraries and gives the longest-first order its
measurements. Then, from the per-job times measured in the run with warm lanes (worker
start-up left out) and the FreqAI-style run's mean seconds per pair:

* **model age** for 8 and 50 pairs: the age of a model just before it is replaced, i.e. the
  time one cycle through the pairs takes, plus FreqAI's one-second pause per pair
  (sequential) or per round (rounds). Rounds for N pairs: the measured jobs of N pairs
  list-scheduled longest first on this run's lanes, scaled by the ratio of the measured
  8-pair round to the same simulation for 8 pairs;
* **GPU projection** on paper: G GPUs, the torch jobs spread over G lanes (tree jobs on the
  CPU lanes), FreqAI-style (each pair's stages one after another, a stage's jobs over the
  lanes) against rounds (every job of every pair over the lanes), with the per-job times
  of this run on its device. Expert jobs only; the per-pair overhead (data preparation,
  blend) is left out.

Needs torch, numpy, scipy, pandas and scikit-learn (the stacked blend, on ``--folds``
out-of-fold blocks plus the validation block) for the torch experts; the tree experts need
their libraries. (The H200 table in docs/scheduling.md was measured before the simplex
blend was removed, with ``--folds 0`` and no scikit-learn on that machine.)
"""

from __future__ import annotations

import argparse
import heapq
import importlib.util
import json
import sys
import threading
import time
from collections import defaultdict
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: common helpers
import common.checkout  # noqa: E402, F401 - the package from this checkout when not installed
from common.table import machine_line, print_table  # noqa: E402

from hyperphysics_strategy.engine.hardware import get_hardware_info  # noqa: E402
from hyperphysics_strategy.ensemble import ExpertEnsemble, make_expert  # noqa: E402
from hyperphysics_strategy.ensemble.ensemble import planned_placements  # noqa: E402
from hyperphysics_strategy.ensemble.experts import EXPERT_REGISTRY  # noqa: E402
from hyperphysics_strategy.ensemble.scheduling import (  # noqa: E402
    JobRecord,
    RoundScheduler,
    use_scheduler,
)

FREQAI_PAUSE_S = 1.0  # FreqAI's training loop sleeps one second per pass

from common.round_data import FULL, QUICK  # noqa: E402


def available_experts() -> list[str]:
    libs = {"lightgbm": "lightgbm", "xgboost": "xgboost", "catboost": "catboost"}
    out = []
    for name in EXPERT_REGISTRY:  # names only: no expert library is imported
        lib = next((m for k, m in libs.items() if name.startswith(k)), None)
        if lib is None or importlib.util.find_spec(lib) is not None:
            out.append(name)
    return out


def pair_data(seed: int, rows: int, features: int = 40):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(rows, features)).astype(np.float32)
    s = X[:, :5].sum(axis=1) + 3.0 * rng.normal(size=rows)
    lo, hi = np.quantile(s, [0.3, 0.7])
    return X, np.where(s > hi, "buy", np.where(s < lo, "sell", "neutral"))


def make_ensemble(names, provider, quick: bool, folds: int) -> ExpertEnsemble:
    return ExpertEnsemble(
        list(names),
        (QUICK if quick else FULL).params(names),
        placement_provider=provider,
        stacking_folds=folds,
        drift_rows=0,
    )


def run_mode(mode, names, datasets, provider, quick, folds):
    """Wall seconds, per-pair seconds, job records of one mode."""
    scheduler = RoundScheduler()
    per_pair: dict[int, float] = {}

    def fit(i):
        t = time.perf_counter()
        make_ensemble(names, provider, quick, folds).fit(*datasets[i])
        per_pair[i] = time.perf_counter() - t

    started = time.perf_counter()
    with use_scheduler(scheduler):
        if mode == "freqai":
            for i in range(len(datasets)):
                fit(i)
        elif mode == "warm":
            with scheduler.round():
                for i in range(len(datasets)):
                    fit(i)
        else:
            with scheduler.round():
                threads = [threading.Thread(target=fit, args=(i,)) for i in range(len(datasets))]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
    wall = time.perf_counter() - started
    return wall, [per_pair[i] for i in sorted(per_pair)], list(scheduler.history)


def lpt(durations: list[float], lanes: int) -> float:
    """Makespan of ``durations`` list-scheduled longest first on ``lanes`` lanes."""
    if not durations:
        return 0.0
    free = [0.0] * max(1, lanes)
    for d in sorted(durations, reverse=True):
        heapq.heapreplace(free, free[0] + d)
    return max(free)


def stages_of(records: list[JobRecord], n_pairs: int) -> list[list[JobRecord]]:
    """A sequential run's batches in order: each pair's stages (final experts, then each
    stacking fold), one after another."""
    by_batch: dict[int, list[JobRecord]] = defaultdict(list)
    for r in records:
        by_batch[r.batch].append(r)
    return [by_batch[b] for b in sorted(by_batch)]


def split_gpu_cpu(jobs: list[JobRecord]) -> tuple[list[float], list[float]]:
    gpu = [r.finished - r.started for r in jobs if r.device not in ("", "cpu")]
    cpu = [r.finished - r.started for r in jobs if r.device in ("", "cpu")]
    return gpu, cpu


def simulate_round(jobs: list[JobRecord], gpu_lanes: int, cpu_lanes: int) -> float:
    gpu, cpu = split_gpu_cpu(jobs)
    return max(lpt(gpu, gpu_lanes), lpt(cpu, cpu_lanes))


def simulate_sequential(stages: list[list[JobRecord]], gpu_lanes: int, cpu_lanes: int) -> float:
    return sum(simulate_round(stage, gpu_lanes, cpu_lanes) for stage in stages)


def scale_jobs(stages: list[list[JobRecord]], per_pair: int, n_pairs: int) -> list[list[JobRecord]]:
    """The measured stages of the first pairs repeated to make ``n_pairs`` pairs."""
    pairs = [stages[i : i + per_pair] for i in range(0, len(stages), per_pair)]
    return [stage for k in range(n_pairs) for stage in pairs[k % len(pairs)]]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer rows, trees and epochs")
    ap.add_argument("--pairs", type=int, default=8)
    ap.add_argument("--rows", type=int, default=None, help="rows per pair (quick 1500, else 6000)")
    ap.add_argument("--experts", default=None, help="comma list (default: all importable)")
    ap.add_argument("--sets", default="2,all", help="how many of the experts per set")
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    ap.add_argument("--gpus", default="1,2,4,8", help="G of the GPU projection")
    ap.add_argument(
        "--folds", type=int, default=None, help="stacking folds (default 3 with scikit-learn)"
    )
    ap.add_argument("--log", action="store_true", help="the package's INFO log on stderr")
    ap.add_argument("--json", type=Path, default=None, help="write the numbers here too")
    args = ap.parse_args(argv)

    names = args.experts.split(",") if args.experts else available_experts()
    sizes = [len(names) if s == "all" else int(s) for s in args.sets.split(",")]
    rows = args.rows or (QUICK if args.quick else FULL).rows
    has_sklearn = importlib.util.find_spec("sklearn") is not None
    folds = (3 if has_sklearn else 0) if args.folds is None else args.folds
    if folds and not has_sklearn:
        ap.error("stacking folds need scikit-learn: pass --folds 0")
    if args.log:
        import logging

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    devices = {"auto": None, "cpu": "cpu", "cuda": "gpu"}[args.device]
    provider = partial(planned_placements, devices=devices)
    info = get_hardware_info()
    datasets = [pair_data(seed, rows) for seed in range(args.pairs)]
    print(f"# bench_rounds: {machine_line()}")
    print(
        f"# {args.pairs} pairs x {rows} rows, experts {names}, sets {sizes}, device "
        f"{args.device}, stacked blend on {folds} fold(s) + validation"
    )

    results = []
    for size in sizes:
        chosen = names[:size]
        make_ensemble(chosen, provider, args.quick, folds).fit(*datasets[0])  # warm-up
        runs = {m: run_mode(m, chosen, datasets, provider, args.quick, folds)
                for m in ("freqai", "warm", "rounds")}  # fmt: skip
        placements, workers = provider([make_expert(name) for name in chosen])
        gpu_devices = {str(p.device) for p in placements if p.device.is_gpu}
        gpu_lanes = max(1, len(gpu_devices))
        cpu_threads = max(1, min((p.threads for p in placements), default=1))
        cpu_lanes = max(1, (info.cpu.usable_cores - len(gpu_devices)) // cpu_threads)
        stages = stages_of(runs["warm"][2], args.pairs)
        per_pair_stages = max(1, len(stages) // args.pairs)
        sim8 = simulate_round([r for s in stages for r in s], gpu_lanes, cpu_lanes)
        calib = runs["rounds"][0] / sim8 if sim8 > 0 else 1.0
        freqai_pair = float(np.mean(runs["freqai"][1]))
        ages = {}
        for n in (8, 50):
            jobs_n = [r for s in scale_jobs(stages, per_pair_stages, n) for r in s]
            ages[n] = (
                n * (freqai_pair + FREQAI_PAUSE_S),
                calib * simulate_round(jobs_n, gpu_lanes, cpu_lanes) + FREQAI_PAUSE_S,
            )
        projection = {}
        for g in (int(x) for x in args.gpus.split(",")):
            row = {}
            for n in (8, 50):
                st = scale_jobs(stages, per_pair_stages, n)
                row[n] = (
                    simulate_sequential(st, g, cpu_lanes),
                    simulate_round([r for s in st for r in s], g, cpu_lanes),
                )
            projection[g] = row
        results.append(
            {
                "experts": chosen,
                "jobs_per_round": sum(len(s) for s in stages),
                "wall": {m: r[0] for m, r in runs.items()},
                "per_pair_freqai_s": freqai_pair,
                "lanes": {"gpu": len(gpu_devices), "cpu": cpu_lanes},
                "job_devices": sorted({r.device for r in runs["rounds"][2]}),
                "calibration": calib,
                "ages": ages,
                "projection": projection,
            }
        )

    rows_t = []
    for r in results:
        w = r["wall"]
        rows_t.append([
            f"{args.pairs} x {len(r['experts'])}", r["jobs_per_round"], f"{w['freqai']:.1f}",
            f"{w['warm']:.1f}", f"{w['rounds']:.1f}", f"{w['freqai'] / w['rounds']:.2f}",
            f"{w['warm'] / w['rounds']:.2f}", ", ".join(r["job_devices"]),
        ])  # fmt: skip
    print_table(
        "One training round: wall seconds",
        ["pairs x experts", "expert jobs", "FreqAI-style", "sequential, warm lanes", "rounds",
         "FreqAI-style / rounds", "warm / rounds", "devices used"],
        rows_t,
    )  # fmt: skip
    rows_a = []
    for r in results:
        for n, (seq, rnd) in r["ages"].items():
            rows_a.append([
                f"{n} x {len(r['experts'])}", f"{seq:.0f}", f"{rnd:.0f}", f"{seq / rnd:.1f}",
            ])  # fmt: skip
    print_table(
        "Model age just before retraining (seconds; from the measured per-job times)",
        ["pairs x experts", "FreqAI-style", "rounds", "ratio"],
        rows_a,
    )
    rows_g = []
    for r in results:
        for g, row in r["projection"].items():
            rows_g.append([
                f"{len(r['experts'])}", g,
                *[f"{row[n][0]:.0f} / {row[n][1]:.0f} ({row[n][0] / row[n][1]:.1f}x)"
                  for n in (8, 50)],
            ])  # fmt: skip
    print_table(
        "GPU projection on paper: expert-job seconds per round, FreqAI-style / rounds",
        ["experts", "GPUs", "8 pairs", "50 pairs"],
        rows_g,
    )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
