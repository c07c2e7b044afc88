"""One training round on the ray backend against the local lanes, in one run.

    python benchmarks/perf/bench_ray.py                 # 8 pairs x 2 experts (lightgbm, xgboost)
    python benchmarks/perf/bench_ray.py --pairs 8 --rows 20000 --estimators 100
    python benchmarks/perf/bench_ray.py --experts all --quick   # 8 pairs x 12 experts

A round is every pair's experts trained once (one ``train_experts`` call per pair; no
stacking folds, no blend). Three ways, same data, same placements (CPU, one thread per
expert), same models:

* ``local, pairs in turn``: FreqAI's order: one pair after the other, each pair's experts
  on the local lanes (``ensemble/scheduling/``: as many at once as the package's usable
  cores, which is one on a 2-core machine: the other is kept for the bot; torch experts
  in a worker process that starts anew for each pair);
* ``local, pairs at once``: every pair's ``train_experts`` call at once (one thread each);
* ``ray, pairs at once``: the same calls on the ray backend, on a Ray cluster started here
  on 127.0.0.1 with two nodes of one CPU each (the same two cores), one warm-up round
  first (Ray's worker processes start and import the package once).

``--experts``: a comma list or ``all`` (the twelve of ``EXPERT_REGISTRY``: six tree, six
torch). ``--quick``: the sizes of ``bench_rounds.py --quick`` (1,500 rows per pair, 60
trees, 3 epochs; ``--rows``, ``--estimators``, ``--epochs`` still win). Ratios are against
``local, pairs in turn``, measured in the same run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: common helpers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--experts", default="lightgbm,xgboost", help="comma list, or all")
    parser.add_argument("--quick", action="store_true", help="bench_rounds.py --quick sizes")
    parser.add_argument("--rows", type=int, default=None, help="per pair (20000; quick 1500)")
    parser.add_argument("--features", type=int, default=40)
    parser.add_argument("--estimators", type=int, default=None, help="trees (100; quick 60)")
    parser.add_argument("--epochs", type=int, default=None, help="torch experts' epochs (3)")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="hpbench-"))
    (tmp / "ray").mkdir()
    os.environ["RAY_TMPDIR"] = str(tmp)
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # loopback cluster: see docs/ray.md
    import numpy as np
    import ray
    from common.round_data import QUICK, RoundSize
    from common.table import print_table
    from ray.cluster_utils import Cluster

    from hyperphysics_strategy.ensemble import make_expert
    from hyperphysics_strategy.ensemble.experts import (
        EXPERT_REGISTRY,
        FitData,
        Placement,
        expert_libraries,
    )
    from hyperphysics_strategy.ensemble.scheduling import train_experts

    on_ray_backend = partial(train_experts, backend="ray")
    experts = tuple(EXPERT_REGISTRY) if args.experts == "all" else tuple(args.experts.split(","))
    libraries = expert_libraries(experts)  # an unknown name fails here, naming it
    size = RoundSize(
        rows=args.rows or (QUICK.rows if args.quick else 20_000),
        trees=args.estimators or (QUICK.trees if args.quick else 100),
        epochs=args.epochs or QUICK.epochs,
    )
    params = size.params(experts)
    placements = [Placement(library) for library in libraries]  # one CPU thread each

    def pair_data(seed: int) -> FitData:
        rng = np.random.default_rng(seed)
        n = size.rows
        X = rng.normal(size=(n, args.features)).astype(np.float32)
        s = X[:, :5].sum(axis=1) + rng.normal(size=n)
        y = np.digitize(s, [-1.5, 1.5]).astype(np.int64)
        w = np.ones(n)
        cut = int(0.85 * n)
        return FitData(X[:cut], y[:cut], w[:cut], X[cut:], y[cut:], w[cut:], 3)

    datasets = [pair_data(p) for p in range(args.pairs)]

    def one_pair(train, data, p):
        jobs = [make_expert(name, params[name], seed=p) for name in experts]
        outcomes = train(jobs, data, placements, 2)
        assert all(o.ok for o in outcomes), [o.error for o in outcomes]
        return outcomes

    def in_turn(train):
        t = time.perf_counter()
        for p, data in enumerate(datasets):
            one_pair(train, data, p)
        return time.perf_counter() - t

    def at_once(train):
        t = time.perf_counter()
        with ThreadPoolExecutor(len(datasets)) as pool:
            list(pool.map(lambda a: one_pair(train, *a), [(d, p) for p, d in enumerate(datasets)]))
        return time.perf_counter() - t

    node = {"num_cpus": 1, "num_gpus": 0, "node_ip_address": "127.0.0.1"}
    cluster = Cluster(
        initialize_head=True,
        head_node_args={**node, "include_dashboard": False, "temp_dir": str(tmp / "ray")},
    )
    cluster.add_node(**node)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, _node_ip_address="127.0.0.1", log_to_driver=False)
    try:
        in_turn(train_experts)  # warm-up: imports, numba caches
        at_once(on_ray_backend)  # warm-up: Ray's worker processes
        sequential = in_turn(train_experts)
        local_at_once = at_once(train_experts)
        on_ray = at_once(on_ray_backend)
    finally:
        ray.shutdown()
        cluster.shutdown()
    jobs = args.pairs * len(experts)
    torch_experts = libraries.count("torch")
    sizes = f"{size.trees} trees each"
    if torch_experts:
        sizes = (
            f"{size.trees} trees per tree expert, {size.epochs} epochs per torch expert "
            f"({torch_experts} of {len(experts)})"
        )
    print_table(
        f"One round: {args.pairs} pairs x {len(experts)} experts ({jobs} jobs), "
        f"{size.rows} rows x {args.features} features, {sizes}; "
        f"load average {os.getloadavg()[0]:.1f}",
        ["backend", "wall (s)", "speed-up vs pairs in turn"],
        [
            ["local, pairs in turn (FreqAI's order)", f"{sequential:.1f}", "1.00"],
            ["local, pairs at once", f"{local_at_once:.1f}", f"{sequential / local_at_once:.2f}"],
            ["ray, pairs at once (2 nodes x 1 CPU)", f"{on_ray:.1f}", f"{sequential / on_ray:.2f}"],
        ],
    )


if __name__ == "__main__":
    main()
