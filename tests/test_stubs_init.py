import json
import runpy

from freqtrade.configuration.load_config import load_config_file
from typer.testing import CliRunner

from hyperphysics_strategy.cli import app
from hyperphysics_strategy.freqai import FREQAI_MODELS
from hyperphysics_strategy.stubs import EXAMPLE_CONFIG, MANIFEST, Action, write_user_dir


def test_init_into_empty_dir_writes_every_stub(tmp_path):
    result = CliRunner().invoke(app, ["init", str(tmp_path / "ud")])
    assert result.exit_code == 0, result.output
    ud = tmp_path / "ud"
    assert (ud / "strategies" / "HyperPhysicsStrategy.py").is_file()
    for name in FREQAI_MODELS:
        assert (ud / "freqaimodels" / f"{name}.py").is_file()
    config = load_config_file(str(ud / EXAMPLE_CONFIG))  # freqtrade's loader: // comments
    assert config["freqai"]["enabled"] is True
    assert (ud / MANIFEST).is_file()


def test_stub_defines_a_subclass_in_its_own_module(tmp_path):
    """freqtrade keeps only classes whose __module__ is the scanned file."""
    write_user_dir(tmp_path)
    from hyperphysics_strategy.freqai import HyperPhysicsEnsemble
    from hyperphysics_strategy.strategy import HyperPhysicsStrategy

    ns = runpy.run_path(str(tmp_path / "strategies" / "HyperPhysicsStrategy.py"), run_name="stub")
    assert issubclass(ns["HyperPhysicsStrategy"], HyperPhysicsStrategy)
    assert ns["HyperPhysicsStrategy"].__module__ == "stub"
    ns = runpy.run_path(str(tmp_path / "freqaimodels" / "HyperPhysicsEnsemble.py"), run_name="m")
    assert issubclass(ns["HyperPhysicsEnsemble"], HyperPhysicsEnsemble)


def test_user_changed_stub_is_kept_unless_forced(tmp_path):
    write_user_dir(tmp_path)
    stub = tmp_path / "strategies" / "HyperPhysicsStrategy.py"
    custom = stub.read_text() + "\n# my tweak\n"
    stub.write_text(custom)

    results = {r.path.name: r.action for r in write_user_dir(tmp_path)}
    assert results["HyperPhysicsStrategy.py"] is Action.KEPT
    assert stub.read_text() == custom

    result = CliRunner().invoke(app, ["init", str(tmp_path)])
    assert result.exit_code == 0 and "kept" in result.output
    assert stub.read_text() == custom

    results = {r.path.name: r.action for r in write_user_dir(tmp_path, force=True)}
    assert results["HyperPhysicsStrategy.py"] is Action.OVERWRITTEN
    assert "my tweak" not in stub.read_text()


def test_rerun_is_idempotent_and_updates_our_own_old_files(tmp_path):
    write_user_dir(tmp_path)
    assert all(r.action is Action.UNCHANGED for r in write_user_dir(tmp_path))
    # A file we wrote (hash in the manifest) whose template changed since is updated.
    stub = tmp_path / "freqaimodels" / "HyperPhysicsEnsemble.py"
    old = "# older template\n"
    stub.write_text(old)
    manifest = json.loads((tmp_path / MANIFEST).read_text())
    import hashlib

    manifest["freqaimodels/HyperPhysicsEnsemble.py"] = hashlib.sha256(old.encode()).hexdigest()
    (tmp_path / MANIFEST).write_text(json.dumps(manifest))
    results = {r.path.name: r.action for r in write_user_dir(tmp_path)}
    assert results["HyperPhysicsEnsemble.py"] is Action.UPDATED
    assert "class HyperPhysicsEnsemble(" in stub.read_text()


def test_init_refuses_a_file_as_userdir(tmp_path):
    target = tmp_path / "afile"
    target.write_text("x")
    result = CliRunner().invoke(app, ["init", str(target)])
    assert result.exit_code == 1
    assert target.read_text() == "x"


def test_every_advertised_model_is_exported_where_its_stub_imports_it():
    import hyperphysics_strategy.freqai as freqai
    from hyperphysics_strategy.freqai_names import freqai_model_names

    assert tuple(FREQAI_MODELS) == freqai_model_names()
    for name, cls in FREQAI_MODELS.items():
        assert getattr(freqai, name) is cls
        assert name in freqai.__all__


def test_stub_import_error_names_a_class_the_package_lacks(tmp_path, caplog):
    import pytest

    from hyperphysics_strategy.stubs import render_stub

    stub = tmp_path / "HyperPhysicsNoSuchClassifier.py"
    stub.write_text(
        render_stub("freqaimodel", "HyperPhysicsNoSuchClassifier", "hyperphysics_strategy.freqai")
    )
    with pytest.raises(ImportError) as err:
        runpy.run_path(str(stub), run_name="stub")
    message = str(err.value)
    assert "hyperphysics_strategy.freqai has no class HyperPhysicsNoSuchClassifier" in message
    assert "hyperphysics init <userdir> --force" in message
    assert "is not installed" not in message  # it is installed
    assert message.split(": ", 1)[1] in caplog.text  # also logged at ERROR


def test_import_problem_names_the_missing_dependency_or_package():
    from hyperphysics_strategy.stubs.diagnose import import_problem

    module, name = "hyperphysics_strategy.freqai", "HyperPhysicsEnsemble"
    lgbm = ModuleNotFoundError("No module named 'lightgbm'", name="lightgbm")
    assert import_problem(lgbm, module, name).endswith("pip install lightgbm")
    talib = ModuleNotFoundError("No module named 'talib'", name="talib._ta_lib")
    assert import_problem(talib, module, name).endswith("pip install TA-Lib")
    pkg = ModuleNotFoundError(
        "No module named 'hyperphysics_strategy'", name="hyperphysics_strategy"
    )
    text = import_problem(pkg, module, name)
    assert "not installed in the Python that runs freqtrade" in text
    assert "pip install . in a clone of hyperphysics-strategy" in text
    broken = OSError("libgomp.so.1: cannot open shared object file")
    text = import_problem(broken, module, name)
    assert "OSError: libgomp.so.1" in text and "hyperphysics doctor" in text
