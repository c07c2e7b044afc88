"""``hyperphysics hardware`` and ``hyperphysics doctor`` on this (CPU-only) machine."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from hyperphysics_strategy.cli import hardware_cmd
from hyperphysics_strategy.cli.app import app
from hyperphysics_strategy.engine.hardware import LibraryCapability

from .fake_machines import make_info

runner = CliRunner()


def test_hardware_json_parses():
    result = runner.invoke(app, ["hardware", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["backend"] in ("cuda", "rocm", "mps", "cpu")
    assert report["cpu"]["usable_cores"] >= 1
    placements = report["plan"]["placements"]
    assert [p["task"] for p in placements][:3] == ["lightgbm", "xgboost", "catboost"]
    assert len(placements) == 12
    if report["backend"] == "cpu":  # this CPU-only development machine
        assert all(p["device"] == "cpu" for p in placements)
        threads = report["plan"]["threads_per_worker"]
        assert placements[1]["params"] == {"device": "cpu", "nthread": threads}
    assert set(report["capabilities"]) == {"lightgbm", "xgboost", "catboost", "torch"}


def test_hardware_table():
    result = runner.invoke(app, ["hardware"])
    assert result.exit_code == 0, result.output
    assert "GPU backend" in result.output and "transformer" in result.output


def test_doctor_runs():
    result = runner.invoke(app, ["doctor", "--bench-seconds", "0.05", "--bench-size", "64"])
    assert result.exit_code == 0, result.output
    assert "Dependencies" in result.output and "GFLOP/s" in result.output
    assert "freqtrade" in result.output


def test_doctor_fails_only_for_required_dependency(monkeypatch):
    deps = list(hardware_cmd.DEPENDENCIES) + [("surely_missing_module_xyz", "xyz", False)]
    monkeypatch.setattr(hardware_cmd, "DEPENDENCIES", tuple(deps))
    result = runner.invoke(app, ["doctor", "--bench-seconds", "0"])
    assert result.exit_code == 0, result.output
    deps.append(("another_missing_module_xyz", "xyz-pkg", True))
    monkeypatch.setattr(hardware_cmd, "DEPENDENCIES", tuple(deps))
    result = runner.invoke(app, ["doctor", "--bench-seconds", "0"])
    assert result.exit_code == 1
    assert "pip install 'xyz-pkg'" in result.output


def test_find_problems_cpu_torch_on_gpu_machine():
    info = make_info("cuda", 2, torch_visible=False)
    caps = {
        "xgboost": LibraryCapability("xgboost", True, "3", (), "this xgboost build has no CUDA"),
    }
    problems = hardware_cmd.find_problems(info, caps, [])
    text = " ".join(p + " " + f for p, f in problems)
    assert "cannot use them" in text and "torch==2.13.0" in text
    assert "xgboost cannot use the GPUs" in text
