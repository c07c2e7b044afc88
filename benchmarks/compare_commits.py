"""Every benchmark target, timed on two commits side by side in one run.

    python benchmarks/compare_commits.py --base f4ad50d [--head HEAD] [--reps 3]
    python benchmarks/compare_commits.py --base f4ad50d --only greeks,mc_var --reps 1

Both commits are checked out into temporary git worktrees (removed at the end). For each
target, its operation runs ``--reps`` times per commit, each time in a fresh interpreter
(``sys.executable``) with ``PYTHONPATH=<worktree>``, base and head alternating (base, head,
head, base, ...) so that a load change on a shared machine hits both alike; each run times
the operation after one untimed call (JIT compilation, caches), as its benchmark does. The
table: the best run of each commit, head/base, whether the head meets the target. Only
calls with the same meaning in both commits are used (the Greeks by keyword, the order
book with ``cpu_backend="numpy"``). docs/benchmarks.md says where each target is stated.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from _table import print_table
from _timing import best_time

ROOT = Path(__file__).resolve().parents[1]
N, LEVELS, UPDATES = 1_000_000, 20, 20_000  # options, snapshots, candles: N
TREE_EXPERTS = ("lightgbm", "xgboost")  # the default ensemble in both commits


# ----------------------------------------------------------------- one target, one tree
def run_greeks(as_torch: bool) -> tuple[float, float]:
    import torch
    from bench_risk import numpy_greeks

    from hyperphysics_strategy.engine.greeks import bsm_greeks

    low, high = (50, 50, 0.05, 0.1), (150, 150, 2.0, 0.6)  # spot, strike, T, volatility
    S, K, T, v = map(np.ascontiguousarray, np.random.default_rng(0).uniform(low, high, (N, 4)).T)
    ref = best_time(lambda: numpy_greeks(S, K, T, v, 0.03, 0.01))
    if as_torch:
        S, K, T, v = (torch.as_tensor(a) for a in (S, K, T, v))
    ours = best_time(
        lambda: bsm_greeks(S, K, time_to_expiry=T, volatility=v, rate=0.03, dividend_yield=0.01)
    )
    return ours, ref


def run_risk(rolling: bool) -> float:
    from hyperphysics_strategy.engine.risk import GPURiskEngine

    eng = GPURiskEngine(device="cpu", mc_simulations=10_000, seed=0)
    if rolling:
        y = np.random.default_rng(2).standard_t(4, 100_000) * 0.003
        return best_time(lambda: eng.rolling_var(y, 288, (0.95, 0.99)))
    x = np.random.default_rng(1).standard_t(4, 1000) * 0.01
    return best_time(lambda: eng.var_monte_carlo(x, 0.95), 200)


def order_book(dtype):
    from hyperphysics_strategy.engine.orderbook import HyperbolicOrderBook

    return HyperbolicOrderBook(device="cpu", dtype=dtype, cpu_backend="numpy", max_levels=LEVELS)


def run_book_batch() -> float:
    import torch
    from bench_orderbook import make_books

    B, A = (side.astype(np.float32) for side in make_books(N, LEVELS))
    book = order_book(torch.float32)
    return best_time(lambda: book.batch(B, A), 2)


def run_book_update(as_lists: bool) -> float:
    import torch
    from bench_orderbook import make_books

    B, A = make_books(1000, LEVELS)
    bids, asks = (B[0].tolist(), A[0].tolist()) if as_lists else (B[0], A[0])
    book = order_book(torch.float32)
    return best_time(lambda: [book.update(bids, asks) for _ in range(UPDATES)]) / UPDATES


def run_ensemble_inference() -> float:
    from _ensemble_runs import data

    from hyperphysics_strategy.ensemble import ExpertEnsemble

    X, y = data(seed=1, noise=5.0)
    ens = ExpertEnsemble(TREE_EXPERTS, {}).fit(X, y)
    batch = np.ascontiguousarray(X[:1000])
    return best_time(lambda: ens.predict_proba(batch), 30)


def run_training_efficiency() -> float:
    from _ensemble_runs import STRESS_PARAMS, data, training_run

    X, y = data()
    params = dict.fromkeys(TREE_EXPERTS, STRESS_PARAMS)
    training_run(TREE_EXPERTS, params, X[:2000], y[:2000], 2)  # imports, JIT: not timed
    return training_run(TREE_EXPERTS, params, X, y, 2).efficiency


def run_labels() -> float:
    from bench_labels import chained_candles

    try:
        from hyperphysics_strategy.trading.barriers import trailing_sigma, triple_barrier
    except ImportError:  # a commit before trading/ existed
        from hyperphysics_strategy.ensemble.barriers import trailing_sigma, triple_barrier

    high, low, close = chained_candles(N)
    sigma = trailing_sigma(close, 288)
    return best_time(lambda: triple_barrier(high, low, close, sigma, 48, 1.0, 1.0))


def run_cli_help() -> float:
    cmd = [sys.executable, "-m", "hyperphysics_strategy.cli", "--help"]
    return best_time(lambda: subprocess.run(cmd, check=True, capture_output=True))


@dataclass(frozen=True)
class Target:
    label: str
    stated: str  # the target as its benchmark and docs state it
    run: Callable[[], float | tuple[float, float]]  # seconds (or the value), numpy baseline
    limit: float | None = None  # seconds (at most), or the floor of a higher-is-better value
    higher_is_better: bool = False
    speedup: float | None = None  # at least this many times faster than the run's baseline

    def met(self, value: float, ref: float | None) -> str:
        if self.speedup is not None:
            return f"{'yes' if ref / value >= self.speedup else 'no'} ({ref / value:.1f}x numpy)"
        if self.limit is None:
            return "-"
        ok = value >= self.limit if self.higher_is_better else value <= self.limit
        return "yes" if ok else "no"


TARGETS = {
    "greeks": Target(
        "1M options, price+5 Greeks, numpy",
        ">= 5x numpy/scipy",
        partial(run_greeks, False),
        speedup=5,
    ),
    "greeks_torch": Target(
        "1M options, price+5 Greeks, torch f64",
        ">= 5x numpy/scipy",
        partial(run_greeks, True),
        speedup=5,
    ),
    "mc_var": Target("MC VaR+ES, 10k paths", "<= 50 us", partial(run_risk, False), 50e-6),
    "rolling_var": Target(
        "rolling VaR+ES 95+99%, 100k, w=288", "<= 200 ms", partial(run_risk, True), 0.2
    ),
    "book_batch": Target(
        "order-book batch, 1M snapshots, f32", ">= 1M/s (<= 1 s)", run_book_batch, 1.0
    ),
    "book_update_arrays": Target(
        "order-book update(), arrays", "~20 us", partial(run_book_update, False), 20e-6
    ),
    "book_update_lists": Target(
        "order-book update(), lists", "~20 us", partial(run_book_update, True), 20e-6
    ),
    "ensemble_inference": Target(
        "ensemble inference, 1,000 x 100", "<= 5 ms", run_ensemble_inference, 5e-3
    ),
    "training_efficiency": Target(
        "ensemble training efficiency, 2 lanes",
        ">= 0.8",
        run_training_efficiency,
        0.8,
        higher_is_better=True,
    ),
    "labels": Target("triple-barrier labels, 1M, h=48", "well under 1 s", run_labels, 1.0),
    "cli_help": Target("hyperphysics --help", "none stated", run_cli_help),
}


def worker(name: str, tree: Path) -> None:
    """Run one target against the package in ``tree``; print its value (and baseline)."""
    import hyperphysics_strategy  # noqa: F401 - from PYTHONPATH, before any bench_* module

    result = TARGETS[name].run()
    value, ref = result if isinstance(result, tuple) else (result, None)
    for module in [m for n, m in sys.modules.items() if n.split(".")[0] == "hyperphysics_strategy"]:
        file = getattr(module, "__file__", None)
        if file and not Path(file).resolve().is_relative_to(tree.resolve()):
            raise SystemExit(f"{module.__name__} was imported from {file}, not from {tree}")
    print(json.dumps({"value": value, "ref": ref}))


# ----------------------------------------------------------------- the comparison
def git(*args: str) -> str:
    done = subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True)
    return done.stdout.decode().strip()


@contextmanager
def worktrees(commits: dict[str, str]) -> Iterator[dict[str, Path]]:
    """Each commit checked out (detached) into a temporary worktree, removed at the end."""
    tmp = Path(tempfile.mkdtemp(prefix="hp-compare-"))
    trees: dict[str, Path] = {}
    try:
        for side, commit in commits.items():
            git("worktree", "add", "--detach", str(tmp / side), commit)
            trees[side] = (tmp / side).resolve()
        yield trees
    finally:
        for path in trees.values():
            git("worktree", "remove", "--force", str(path))
        shutil.rmtree(tmp, ignore_errors=True)
        git("worktree", "prune")


def measure(name: str, tree: Path) -> tuple[float, float | None] | str:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [sys.executable, __file__, "--worker", name, str(tree)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tree)
    if done.returncode != 0:
        return (done.stderr or done.stdout).strip().splitlines()[-1][:200]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    return out["value"], out["ref"]


def fmt(target: Target, value: float | None) -> str:
    if value is None:
        return "error"
    if target.higher_is_better:
        return f"{value:.2f}"
    if value >= 1:
        return f"{value:.2f} s"
    return f"{value * 1e6:.1f} us" if value < 1e-3 else f"{value * 1e3:.1f} ms"


def compare(names: list[str], trees: dict[str, Path], reps: int) -> list[list[str]]:
    rows = []
    for name in names:
        target = TARGETS[name]
        best: dict[str, float | None] = {"base": None, "head": None}
        refs: list[float] = []
        for rep in range(reps):
            for side in ("base", "head") if rep % 2 == 0 else ("head", "base"):
                result = measure(name, trees[side])
                if isinstance(result, str):
                    print(f"  {name} {side}: failed: {result}", file=sys.stderr)
                    continue
                value, ref = result
                print(f"  {name} {side} run {rep + 1}: {fmt(target, value)}", file=sys.stderr)
                pick = max if target.higher_is_better else min
                best[side] = value if best[side] is None else pick(best[side], value)
                refs += [ref] if ref is not None else []
        base, head = best["base"], best["head"]
        ratio = f"{head / base:.2f}" if base and head else "-"
        met = target.met(head, min(refs) if refs else None) if head is not None else "error"
        rows.append([target.label, target.stated, fmt(target, base), fmt(target, head), ratio, met])
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--base", required=True, help="the commit before (e.g. f4ad50d)")
    ap.add_argument("--head", default="HEAD", help="commit after (default HEAD)")
    ap.add_argument("--reps", type=int, default=3, help="runs per commit and target (best)")
    ap.add_argument("--only", default="", help=f"comma-separated subset of {', '.join(TARGETS)}")
    args = ap.parse_args()
    names = [n for n in args.only.split(",") if n] or list(TARGETS)
    unknown = sorted(set(names) - set(TARGETS))
    if unknown:
        ap.error(f"unknown target(s) {', '.join(unknown)}; known: {', '.join(TARGETS)}")
    rev = partial(git, "rev-parse", "--short")
    commits = {"base": rev(f"{args.base}^{{commit}}"), "head": rev(f"{args.head}^{{commit}}")}
    print(f"load average before: {os.getloadavg()}", file=sys.stderr)
    with worktrees(commits) as trees:
        rows = compare(names, trees, args.reps)
    print(f"load average after: {os.getloadavg()}", file=sys.stderr)
    print_table(
        f"Benchmark targets: {commits['base']} (base) against {commits['head']} (head), "
        f"best of {args.reps} alternating runs each",
        ["target", "stated target", "base", "head", "head/base", "met (head)"],
        rows,
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:  # one run: --worker NAME TREE (from measure)
        worker(sys.argv[2], Path(sys.argv[3]))
    else:
        main()
