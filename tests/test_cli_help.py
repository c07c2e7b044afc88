"""The command line answers --help without the heavy libraries, and so do the benchmarks."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.data_paths import ROOT

HEAVY = ("torch", "freqtrade", "pandas", "lightgbm", "xgboost", "catboost", "polars")


def loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    return eval(out.stdout.strip().splitlines()[-1])


def test_cli_help_imports_no_heavy_library():
    code = (
        "import sys\nfrom hyperphysics_strategy.cli import app\n"
        "sys.argv = ['hyperphysics', '--help']\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
    )
    assert loaded_after(code) == []


def test_help_shows_plain_flags():
    out = subprocess.run(
        [sys.executable, "-m", "hyperphysics_strategy.cli", "train", "--help"],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    assert "--verbose" in out and "<bool>" not in out


def test_each_benchmark_help_prints_usage_without_running():
    """All scripts in one interpreter (torch is imported once): ``--help`` of each."""
    scripts = sorted(
        str(p) for p in (ROOT / "benchmarks").glob("*/[a-z]*.py") if p.parent.name != "common"
    )
    runner = (
        "import contextlib, io, json, runpy, sys\n"
        "result = {}\n"
        f"for script in {scripts!r}:\n"
        "    sys.argv = [script, '--help']\n"
        "    out = io.StringIO()\n"
        "    code = None\n"
        "    with contextlib.redirect_stdout(out):\n"
        "        try:\n"
        "            runpy.run_path(script, run_name='__main__')\n"
        "        except SystemExit as exc:\n"
        "            code = exc.code\n"
        "    result[script] = [code, out.getvalue()]\n"
        "print(json.dumps(result))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", runner], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert sorted(result) == scripts and len(scripts) >= 16
    for script, (code, text) in result.items():
        assert code == 0, (script, code, text[:500])  # argparse exits 0 after the usage
        assert text.startswith("usage: "), (script, text[:500])
        assert "load average" not in text and "###" not in text, script


def test_cluster_status_is_listed_and_its_help_imports_no_heavy_library_nor_ray():
    code = (
        "import sys\nfrom hyperphysics_strategy.cli import app\n"
        "sys.argv = ['hyperphysics', 'cluster', 'status', '--help']\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
        "print('ray loaded' if 'ray' in sys.modules else 'no ray')\n"
    )
    assert loaded_after(code) == []
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert "--address" in out and "no ray" in out
    top = subprocess.run(
        [sys.executable, "-m", "hyperphysics_strategy.cli", "--help"],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout  # fmt: skip
    assert "cluster" in top
