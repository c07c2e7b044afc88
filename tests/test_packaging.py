"""The wheel the project builds carries everything the package reads at run time, and works
from its own files: README's "install from a wheel" (``python -m build``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from tests.data_paths import ROOT

PACKAGE = "hyperphysics_strategy"
#: files read through importlib.resources (demo/__init__.py, stubs/__init__.py)
READ_AT_RUN_TIME = (
    "demo/config.json",
    "demo/demo.json",
    "demo/data/binance/BTC_USDT-5m.feather",
    "demo/data/binance/ADA_USDT-1h.feather",
    "stubs/stub.py.tmpl",
)


def build_wheel(tmp_path: Path) -> Path:
    """Build the wheel from a clean copy of the checkout (no build/ or egg-info of earlier
    builds, nothing written into the checkout) with the backend that pyproject.toml names,
    through the PEP 517 hook that ``python -m build`` and ``pip wheel`` call."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / PACKAGE, source / PACKAGE, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    backend = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]
    assert backend["build-backend"] == "setuptools.build_meta"
    code = "import sys, setuptools.build_meta as b; print(b.build_wheel(sys.argv[1]))"
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "dist")],
        cwd=source, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    return tmp_path / "dist" / done.stdout.strip().splitlines()[-1]


def test_wheel_carries_every_package_file_and_works_from_them(tmp_path):
    wheel = build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    source = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / PACKAGE).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }
    assert source - names == set()  # every module, the demo data, templates and configs
    assert {f"{PACKAGE}/{name}" for name in READ_AT_RUN_TIME} <= names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert (
        "hyperphysics = hyperphysics_strategy.cli:app"
        in zipfile.ZipFile(wheel).read(entry_points).decode()
    )

    # Import the package from the unpacked wheel alone (not the checkout): `hyperphysics
    # init`'s files, the demo's candles and window.
    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(wheel).extractall(unpacked)
    probe = (
        "import json, sys\n"
        "import hyperphysics_strategy as hp\n"
        "from hyperphysics_strategy.demo import demo_config_path, demo_data_dir\n"
        "from hyperphysics_strategy.stubs import write_user_dir\n"
        "assert hp.__file__.startswith(sys.argv[1]), hp.__file__\n"
        "write_user_dir(sys.argv[2])\n"
        "print(len(list(demo_data_dir().glob('*.feather'))))\n"
        "print(json.loads(demo_config_path().read_text())['freqai']['backtest_period_days'])\n"
    )
    userdir = tmp_path / "user_data"
    env = {**os.environ, "PYTHONPATH": str(unpacked)}
    done = subprocess.run(
        [sys.executable, "-c", probe, str(unpacked), str(userdir)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.split() == ["8", "14"]
    assert (userdir / "strategies" / "HyperPhysicsStrategy.py").is_file()
    assert (userdir / "freqaimodels" / "HyperPhysicsEnsemble.py").is_file()
    assert (userdir / "config_hyperphysics.json").is_file()
