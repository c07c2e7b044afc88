"""The GPU proof script and the minimal image it must run on.

The lent GPU machines have torch, numpy, scipy and pandas but none of freqtrade, polars or
the boosting libraries. These tests run in a subprocess that refuses to import those (and
the package's other optional dependencies), so an eager import anywhere in the engine, the
torch experts or ``benchmarks/gpu/gpu_check.py`` fails here before it fails on a GPU.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from hyperphysics_strategy.engine.orderbook import HyperbolicOrderBook

ROOT = Path(__file__).resolve().parents[1]

#: What the GPU image lacks, plus the package's optional helpers (NVML, psutil).
ABSENT = (
    "freqtrade",
    "polars",
    "lightgbm",
    "xgboost",
    "catboost",
    "sklearn",
    "numba",
    "llvmlite",
    "talib",
    "ccxt",
    "pydantic",
    "typer",
    "rich",
    "pynvml",
    "psutil",
)

#: A package set to None in sys.modules is what ``import`` and ``find_spec`` report for a
#: package that is not installed (torch itself probes optional packages with find_spec).
BLOCKER = f"import sys\nABSENT = {ABSENT!r}\nsys.modules.update(dict.fromkeys(ABSENT))\n"


def run_minimal(code: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCKER + textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


BOOK_BIDS = [[100.0, 2.0], [99.9, 1.0], [99.7, 4.0]]
BOOK_ASKS = [[100.1, 1.5], [100.3, 3.0]]


def test_engine_and_torch_experts_import_with_only_torch_numpy_scipy_pandas():
    done = run_minimal(
        f"""
        import json
        import hyperphysics_strategy.engine.greeks
        import hyperphysics_strategy.engine.hardware
        import hyperphysics_strategy.engine.risk
        from hyperphysics_strategy.engine.orderbook import HyperbolicOrderBook
        from hyperphysics_strategy.ensemble import ExpertEnsemble
        from hyperphysics_strategy.ensemble.experts import EXPERT_REGISTRY

        torch_experts = [EXPERT_REGISTRY[n].__name__ for n in ("mlp", "transformer")]
        try:
            EXPERT_REGISTRY["lightgbm"]
            tree_error = None
        except ImportError as exc:
            tree_error = str(exc)
        features = HyperbolicOrderBook(device="cpu").update({BOOK_BIDS!r}, {BOOK_ASKS!r})
        loaded = sorted(m for m, v in sys.modules.items() if v and m.split(".")[0] in ABSENT)
        print(json.dumps(dict(torch_experts=torch_experts, tree_error=tree_error,
                              features=features, loaded=loaded)))
        """
    )
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["loaded"] == []
    assert got["torch_experts"] == ["MLPExpert", "TransformerExpert"]
    assert "lightgbm" in got["tree_error"] and "pip install lightgbm" in got["tree_error"]
    # without numba the single-snapshot kernel runs as plain Python, with the same result
    compiled = HyperbolicOrderBook(device="cpu").update(BOOK_BIDS, BOOK_ASKS)
    assert got["features"].keys() == compiled.keys()
    for key, value in compiled.items():
        np.testing.assert_allclose(got["features"][key], value, rtol=1e-12, atol=0, err_msg=key)


def test_gpu_check_runs_on_the_cpu_in_tiny_mode_on_a_minimal_image(tmp_path):
    out = tmp_path / "out"
    done = run_minimal(
        f"""
        import runpy
        sys.argv = ["gpu_check.py", "--cpu", "--tiny", "--out", {str(out)!r}]
        runpy.run_path("benchmarks/gpu/gpu_check.py", run_name="__main__")
        """,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((out / "gpu_check.json").read_text())
    status = {name: s["status"] for name, s in report["sections"].items()}
    assert status == {
        "detection": "ok",
        "experts": "ok",
        "lanes": "ok",
        "boosting": "skipped",  # LightGBM is absent on the minimal image
        "throughput": "ok",
        "inference": "ok",
    }
    experts = report["sections"]["experts"]
    assert len(experts["table"]["rows"]) == 6
    assert all(experts["checks"].values()) and len(experts["checks"]) == 12
    workloads = [row[0] for row in report["sections"]["throughput"]["table"]["rows"]]
    assert any(w.startswith("price+5 Greeks") for w in workloads)
    assert any(w.startswith("MC VaR+ES") for w in workloads)
    assert any(w.startswith("rolling") for w in workloads)
    assert any(w.startswith("order-book") for w in workloads)
    markdown = (out / "gpu_check.md").read_text()
    assert "| expert | epochs |" in markdown and "## throughput: ok" in markdown
    assert report["meta"]["torch"] and report["meta"]["accelerator"] == "cpu"


def test_gpu_check_refuses_unknown_sections(tmp_path):
    done = subprocess.run(
        [sys.executable, "benchmarks/gpu/gpu_check.py", "--out", str(tmp_path), "--only", "nope"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert "unknown section(s) ['nope']" in done.stderr
