"""The one seam with freqtrade (``freqai/compat/``): every FreqAI function the package
mirrors or patches is recorded with its fingerprint, the installed freqtrade matches them
all, and a changed one makes the FreqAI models (and ``doctor``) refuse, naming it."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import json
import logging
import pkgutil
import re
import tomllib

import pytest
from freqtrade.freqai.data_drawer import FreqaiDataDrawer
from freqtrade.freqai.data_kitchen import FreqaiDataKitchen
from freqtrade.freqai.freqai_interface import IFreqaiModel
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version
from typer.testing import CliRunner

from hyperphysics_strategy.cli import app
from hyperphysics_strategy.freqai import HyperPhysicsEnsemble, HyperPhysicsMLPClassifier, compat
from hyperphysics_strategy.freqai.compat.fingerprint import (
    Upstream,
    check_upstream,
    fingerprint,
    installed_freqtrade,
)
from hyperphysics_strategy.stubs import write_user_dir
from tests.data_paths import ROOT

#: compat modules that mirror no upstream function themselves
_NOT_MIRRORS = {"fingerprint", "drawer", "__main__"}


def _mirror_modules() -> list:
    return [
        importlib.import_module(f"{compat.__name__}.{info.name}")
        for info in pkgutil.iter_modules(compat.__path__)
        if info.name not in _NOT_MIRRORS
    ]


def test_every_recorded_fingerprint_matches_the_installed_freqtrade():
    """Runs in CI: a freqtrade that changed a mirrored function fails here first."""
    assert compat.freqtrade_mismatches() == []
    assert len(compat.MIRRORED) == len({r.name for r in compat.MIRRORED}) == 10
    installed = Version(installed_freqtrade())
    assert all(Version(r.version) == installed for r in compat.MIRRORED)


def test_each_compat_module_mirrors_one_upstream_function_it_names():
    modules = _mirror_modules()
    assert {m.UPSTREAM for m in modules} == set(compat.MIRRORED)
    for module in modules:
        record: Upstream = module.UPSTREAM
        method = record.qualname.rpartition(".")[2]
        assert module.__name__.rpartition(".")[2] == method.lstrip("_"), module.__name__
        first_line = module.__doc__.splitlines()[0]
        assert f"``{record.qualname}`` (freqtrade {record.version})" in first_line


def test_the_supported_range_is_the_same_in_pyproject_readme_and_code():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (freqtrade,) = [Requirement(d) for d in project["dependencies"] if d.startswith("freqtrade")]
    assert freqtrade.specifier == SpecifierSet(compat.SUPPORTED_FREQTRADE)
    assert freqtrade.specifier.contains(installed_freqtrade())
    assert f"freqtrade `{compat.SUPPORTED_FREQTRADE}`" in (ROOT / "README.md").read_text()


def _function(source: str, tmp_path, name: str):
    """``f`` defined in a module file of its own (``inspect.getsource`` reads the file)."""
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.f


def test_comments_docstrings_and_layout_do_not_change_a_fingerprint_code_does(tmp_path):
    original = 'def f(x):\n    """Doc."""\n    return x + 1\n'
    reformatted = (
        "def f(x):  # a comment\n"
        '    """Another docstring."""\n\n'
        "    return (\n        x + 1  # the same code\n    )\n"
    )
    changed = 'def f(x):\n    """Doc."""\n    return x + 2\n'
    prints = [
        fingerprint(_function(source, tmp_path, f"m{i}"))
        for i, source in enumerate((original, reformatted, changed))
    ]
    assert prints[0] == prints[1] != prints[2]


def _changed_start_backtesting(self, dataframe, metadata, dk, strategy):
    """A freqtrade release that reorders the backtesting loop."""
    return dk


def test_a_changed_upstream_function_makes_start_up_refuse_naming_it(monkeypatch):
    monkeypatch.delenv(compat.OVERRIDE_ENV, raising=False)
    monkeypatch.setattr(IFreqaiModel, "start_backtesting", _changed_start_backtesting)
    for cls in (HyperPhysicsEnsemble, HyperPhysicsMLPClassifier):
        with pytest.raises(compat.UnsupportedFreqtrade) as refused:
            cls({"freqai": {}})  # refused before anything reads the config
        message = str(refused.value)
        assert f"the FreqAI model {cls.__name__} refuses to start" in message
        assert "freqtrade.freqai.freqai_interface.IFreqaiModel.start_backtesting" in message
        assert f"installed freqtrade {installed_freqtrade()}" in message
        assert f"pip install 'freqtrade{compat.SUPPORTED_FREQTRADE}'" in message
        assert f"{compat.OVERRIDE_ENV}=1" in message
    # the other functions are unchanged and not named
    assert "save_data" not in message and "_start_scanning" not in message


def test_a_removed_upstream_function_is_named_too(monkeypatch):
    monkeypatch.delattr(FreqaiDataDrawer, "purge_old_models")
    (line,) = compat.freqtrade_mismatches()
    assert "FreqaiDataDrawer.purge_old_models (written against freqtrade 2026.9) is gone" in line


def test_the_override_starts_anyway_with_a_warning(monkeypatch, caplog):
    monkeypatch.setattr(IFreqaiModel, "start_backtesting", _changed_start_backtesting)
    monkeypatch.setenv(compat.OVERRIDE_ENV, "1")
    with caplog.at_level(logging.WARNING):
        compat.check_freqtrade("test")
    assert "IFreqaiModel.start_backtesting differs from freqtrade 2026.9's" in caplog.text
    assert f"{compat.OVERRIDE_ENV}=1: starting anyway" in caplog.text
    monkeypatch.setenv(compat.OVERRIDE_ENV, "yes")  # only 1 overrides
    with pytest.raises(compat.UnsupportedFreqtrade):
        check_upstream(compat.MIRRORED, "test")


def test_doctor_flags_a_changed_upstream_function(monkeypatch, tmp_path):
    write_user_dir(tmp_path)
    monkeypatch.setattr(IFreqaiModel, "start_backtesting", _changed_start_backtesting)
    result = CliRunner().invoke(
        app, ["doctor", "--userdir", str(tmp_path), "--json"], env={"COLUMNS": "300"}
    )
    assert result.exit_code == 1, result.output
    seam = [p for p in json.loads(result.stdout)["problems"] if p["where"].startswith("freqtrade")]
    assert seam == [
        {
            "where": f"freqtrade {installed_freqtrade()}",
            "problem": "freqtrade.freqai.freqai_interface.IFreqaiModel.start_backtesting "
            "differs from freqtrade 2026.9's: the FreqAI models refuse it",
            "fix": f"pip install 'freqtrade{compat.SUPPORTED_FREQTRADE}' "
            f"(or {compat.OVERRIDE_ENV}=1, at your own risk)",
        }
    ]


#: What a FreqAI model may touch anywhere: its documented contract (``train``, ``fit``,
#: ``predict``, the kitchen's paths and outputs) and the IFreqaiModel methods the ensemble
#: overrides (the override calls ``super()`` and the hooks of ``compat/``).
CONTRACT = {
    "train", "fit", "predict", "start", "config", "freqai_info", "model_training_parameters",
    "class_names", "model", "pair", "data", "label_list", "training_features_list",
    "data_dictionary", "data_path", "do_predict", "model_exists", "start_backtesting",
}  # fmt: skip
#: Attributes of this package's own objects that FreqAI's also have (WindowTrainer.metadata,
#: ThreadPoolExecutor.shutdown, DuePair.dk): not FreqAI's.
OWN = {"metadata", "shutdown", "dk"}


def _freqai_internals() -> set[str]:
    """Attributes and methods of FreqAI's model, drawer and kitchen, less the contract."""
    names: set[str] = set()
    for cls in (IFreqaiModel, FreqaiDataDrawer, FreqaiDataKitchen):
        names |= {n for n in dir(cls) if not n.startswith("__")}
        names |= set(re.findall(r"self\.(\w+)\s*(?::[^=]*)?=", inspect.getsource(cls)))
    return names - CONTRACT - OWN


def test_only_compat_touches_freqais_internals():
    """Outside ``freqai/compat/``, no module of ``freqai/`` reads or replaces an attribute
    of FreqAI's model, drawer or kitchen beyond the contract (before the seam, six modules
    did)."""
    internals = _freqai_internals()
    freqai = ROOT / "hyperphysics_strategy" / "freqai"
    found = {}
    for path in sorted(freqai.rglob("*.py")):
        if "compat" in path.relative_to(freqai).parts:
            continue
        tree = ast.parse(path.read_text())
        used = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)} & internals
        if used:
            found[path.name] = sorted(used)
    assert found == {}
