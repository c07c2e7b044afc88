"""The inference shortcuts one by one, each beside the computation it replaced.

    python benchmarks/perf/bench_inference_parts.py [--repeat 200]

One table, medians of ``--repeat`` calls, the two sides of each row interleaved in a fresh
random order every round (a load change hits both alike):

* TabNet's sparsemax sort (1,000 x 100 float32): ``torch.sort`` against numpy's sort, what
  ``neural.sorted_descending`` uses without autograd on the CPU;
* KAN's Gaussian basis (1,000 x 100 x 8): the plain expression against ``KANLayer.basis``
  in place;
* the FT-Transformer at its default size (100 features, 33 tokens, 2 layers; random
  weights, eval mode): the full encoder's [CLS] against ``cls_output``;
* the class-axis reductions (1,000 x 3): numpy's ``sum``/``max(axis=-1)`` against
  ``class_axis``'s column slices;
* the finiteness check of a 1,000 x 100 batch: row by row (``np.isfinite(X).all(axis=1)``,
  what ``on_finite_rows`` computed first) against ``all_finite`` on the whole batch;
* a LightGBM forest (default parameters, early stopping on the ensemble benchmark's
  6,000-row low-signal set), 1,000 rows, one thread: the general layout (negated and
  clipped copy of the input) against the layout for inputs without NaN or inf;
* one hand-off to the compiled forests' thread pool and back (a no-op task).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: common helpers
from common.ensemble_runs import data
from common.table import print_table

from hyperphysics_strategy.ensemble import make_expert
from hyperphysics_strategy.ensemble.class_axis import class_max, class_sum
from hyperphysics_strategy.ensemble.experts.base import all_finite
from hyperphysics_strategy.ensemble.experts.forest.compiled import _pool, _run
from hyperphysics_strategy.ensemble.experts.neural import (
    FTTransformerNet,
    KANLayer,
    TransformerExpert,
    sorted_descending,
)
from hyperphysics_strategy.ensemble.splits import time_ordered_split


def medians(calls: dict, repeat: int, rng: np.random.Generator) -> dict[str, float]:
    """Median ms of each call, interleaved in a random order each round."""
    for fn in calls.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeat):
        for name in rng.permutation(list(calls)):
            t0 = time.perf_counter()
            calls[name]()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) * 1e3 for name, t in times.items()}


def lightgbm_forest():
    from hyperphysics_strategy.ensemble.experts import FitData

    X, y = data(n=6000, seed=1, noise=5.0)
    codes = np.unique(y, return_inverse=True)[1]
    fit, val = time_ordered_split(len(X), 0.2)
    ones = np.ones(len(X), dtype=np.float32)
    fd = FitData(X[fit], codes[fit], ones[fit], X[val], codes[val], ones[val], n_classes=3)
    return make_expert("lightgbm").fit(fd).compiled, np.ascontiguousarray(X[:1000])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=200)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    rows = []

    def row(part: str, before_name: str, after_name: str, calls: dict) -> None:
        ms = medians(calls, args.repeat, rng)
        before, after = ms["before"], ms["after"]
        rows.append([part, before_name, f"{before:.3f}", after_name, f"{after:.3f}",
                     f"{before / after:.1f}x"])  # fmt: skip

    z = torch.randn(1000, 100)
    with torch.inference_mode():
        row("TabNet sort, 1,000 x 100", "torch.sort", "numpy (sorted_descending)", {
            "before": lambda: torch.sort(z, dim=-1, descending=True).values,
            "after": lambda: sorted_descending(z),
        })  # fmt: skip
        kan = KANLayer(100, 32, grid=8, span=2.0)
        row("KAN basis, 1,000 x 100 x 8", "expression", "in place (KANLayer.basis)", {
            "before": lambda: torch.exp(-(((z.unsqueeze(-1) - kan.centers) * kan.inv_width) ** 2)),
            "after": lambda: kan.basis(z),
        })  # fmt: skip
        net = FTTransformerNet(100, 3, **{**TransformerExpert.ARCH}).eval()
        x = torch.randn(1000, 100)

        def tokens() -> torch.Tensor:
            p = net.projection(x) * net.projection_gain
            t = p.unsqueeze(-1) * net.weight + net.bias
            return torch.cat([net.cls.expand(len(x), -1, -1), t], dim=1)

        row("transformer, 1,000 rows", "full encoder", "cls_output (forward)", {
            "before": lambda: net.head(net.encoder(tokens())[:, 0]),
            "after": lambda: net(x),
        })  # fmt: skip
    a = np.random.default_rng(1).random((1000, 3))
    row("class sum, 1,000 x 3", "a.sum(axis=-1)", "class_sum", {
        "before": lambda: a.sum(axis=-1, keepdims=True), "after": lambda: class_sum(a),
    })  # fmt: skip
    row("class max, 1,000 x 3", "a.max(axis=-1)", "class_max", {
        "before": lambda: a.max(axis=-1, keepdims=True), "after": lambda: class_max(a),
    })  # fmt: skip
    X = np.random.default_rng(2).normal(size=(1000, 100)).astype(np.float32)
    row("finite check, 1,000 x 100", "row by row, then all", "all_finite (whole batch)", {
        "before": lambda: bool(np.isfinite(X).all(axis=1).all()), "after": lambda: all_finite(X),
    })  # fmt: skip
    forest, B = lightgbm_forest()
    row(f"LightGBM forest ({forest.n_trees} trees), 1,000 rows, 1 thread", "general layout",
        "finite layout", {
            "before": lambda: _run([forest._walk(B, False)], 1),
            "after": lambda: _run([forest._walk(B, True)], 1),
        })  # fmt: skip
    pool = _pool(2)
    hand_off = medians({"after": lambda: pool.submit(int).result()}, args.repeat, rng)["after"]
    print_table(
        f"Inference parts, ms (median of {args.repeat}, interleaved)",
        ["part", "before", "ms", "after", "ms", "before / after"],
        rows,
    )
    print(f"\none hand-off to the forests' thread pool and back (no-op): {hand_off:.3f} ms")


if __name__ == "__main__":
    main()
