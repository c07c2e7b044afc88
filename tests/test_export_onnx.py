"""ONNX export (``ensemble/export``): each of the twelve experts and the blend with parity,
the onnxruntime-only loader, ``hyperphysics export`` and the missing-extra error."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from typer.testing import CliRunner

from hyperphysics_strategy.ensemble import EXPERT_REGISTRY, ExpertEnsemble
from hyperphysics_strategy.ensemble.export import TOLERANCE, available, export_ensemble, require

pytestmark = pytest.mark.skipif(not available(), reason="the onnx extra is not installed")

CLASSES = ("down", "neutral", "up")
ALL = tuple(EXPERT_REGISTRY)


def _data(n: int = 700, f: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, f)).astype(np.float32)
    codes = (X[:, 0] > 0).astype(int) + (X[:, 1] + 0.3 * rng.normal(size=n) > 0.8)
    return X, np.asarray(CLASSES, dtype=object)[codes]


def _params(name: str) -> dict:
    if EXPERT_REGISTRY[name].library == "torch":
        return {"max_epochs": 1}
    return {"n_estimators": 8 if name == "xgboost_rf" else 12}


def _fit(experts, n: int = 700):
    X, y = _data(n)
    names = [f"f{i}" for i in range(X.shape[1])]
    ensemble = ExpertEnsemble(
        experts=experts,
        expert_params={name: _params(name) for name in experts},
        classes=CLASSES,
        stacking_folds=0,
        use_processes=False,
        feature_names=names,
    ).fit(X[:600], y[:600])
    return ensemble, X[600:]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    ensemble, held_out = _fit(ALL)
    out = tmp_path_factory.mktemp("onnx") / "export"
    report = ensemble.to_onnx(out, held_out)
    return ensemble, held_out, out, report


@pytest.mark.parametrize("name", ALL)
def test_every_expert_exports_with_parity(exported, name):
    _, _, out, report = exported
    (result,) = [e for e in report.experts if e.name == name]
    assert result.ok, result.failures
    assert result.max_abs_diff <= TOLERANCE
    assert result.rows >= 100
    manifest = json.loads((out / "model.json").read_text())
    (entry,) = [e for e in manifest["experts"] if e["name"] == name]
    assert (out / entry["file"]).is_file() and entry["converter"] == result.converter


def test_converters_from_the_ecosystem_and_the_forest_layout(exported):
    _, _, _, report = exported
    used = {e.name: e.converter for e in report.experts}
    assert used["xgboost"] == "onnxmltools"
    assert used["catboost"] == used["catboost_alt"] == "catboost"
    assert used["xgboost_rf"] == used["xgboost_dart"] == "forest layout"
    assert {used[n] for n in ALL if EXPERT_REGISTRY[n].library == "torch"} == {"torch.onnx"}
    # onnxmltools' LightGBM graph misses LightGBM's ties / zero band / NaN rules: refused
    (lgbm,) = [e for e in report.experts if e.name == "lightgbm"]
    assert lgbm.converter == "forest layout"
    assert lgbm.failures and lgbm.failures[0].startswith("onnxmltools: max |dp|")


def test_blend_and_whole_ensemble_parity(exported):
    ensemble, _, out, report = exported
    assert report.complete
    assert report.blend_max_abs_diff <= TOLERANCE
    assert report.ensemble_max_abs_diff <= TOLERANCE
    manifest = json.loads((out / "model.json").read_text())
    assert manifest["complete"] and manifest["not_exported"] == []
    assert manifest["classes"] == list(CLASSES)
    assert manifest["features"]["names"] == [f"f{i}" for i in range(6)]
    assert manifest["parity"]["ensemble_max_abs_diff"] == report.ensemble_max_abs_diff
    assert manifest["versions"]["onnxruntime"]


BLOCKER = textwrap.dedent(
    """
    import sys

    BLOCKED = ("torch", "lightgbm", "xgboost", "catboost", "sklearn", "scipy", "pandas",
               "freqtrade", "hyperphysics_strategy", "onnx", "onnxmltools", "skl2onnx")

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"blocked: {name}")
            return None

    sys.meta_path.insert(0, Blocker())
    sys.path.insert(0, sys.argv[1])
    import numpy as np
    from predict import ExportedEnsemble

    model = ExportedEnsemble(sys.argv[1])
    np.save(sys.argv[3], model.predict_proba(np.load(sys.argv[2])))
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    assert not loaded, loaded
    """
)


def test_export_loads_with_only_onnxruntime_and_numpy(exported, tmp_path):
    ensemble, held_out, out, _ = exported
    X = held_out.copy()
    X[3, 2] = np.nan  # a row the package answers with NaN
    np.save(tmp_path / "X.npy", X)
    script = tmp_path / "blocked.py"
    script.write_text(BLOCKER)
    done = subprocess.run(
        [sys.executable, str(script), str(out), str(tmp_path / "X.npy"), str(tmp_path / "p.npy")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    proba = np.load(tmp_path / "p.npy")
    expected = ensemble.predict_proba(X)
    assert np.isnan(proba[3]).all() and np.isnan(expected[3]).all()
    ok = np.arange(len(X)) != 3
    assert np.abs(proba[ok] - expected[ok]).max() <= TOLERANCE


def test_a_damaged_export_is_refused(exported, tmp_path):
    import shutil

    _, _, out, _ = exported
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    blend = copy / "blend.onnx"
    blend.write_bytes(blend.read_bytes()[:-1] + b"\0")
    sys.path.insert(0, str(copy))
    try:
        from predict import ExportedEnsemble

        with pytest.raises(ValueError, match="blend.onnx: checksum mismatch"):
            ExportedEnsemble(copy)
    finally:
        sys.path.remove(str(copy))
        sys.modules.pop("predict", None)


def test_cli_exports_a_saved_ensemble(tmp_path):
    from hyperphysics_strategy.cli import app
    from hyperphysics_strategy.cli.train_results import save_ensemble

    ensemble, held_out = _fit(("lightgbm", "mlp"))
    meta = {"pair": "BTC/USDT", "timeframe": "1h", "horizon": 12, "train_labels": ["up"]}
    save_ensemble(tmp_path / "saved", ensemble, meta, None)  # what train --save writes
    np.save(tmp_path / "rows.npy", held_out)
    result = CliRunner().invoke(
        app,
        ["export", str(tmp_path / "saved"), "--out", str(tmp_path / "out"), "--rows",
         str(tmp_path / "rows.npy")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "lightgbm: forest layout, max |dp|" in result.output
    assert "mlp: torch.onnx, max |dp|" in result.output
    assert "exported 2 expert(s) and the blend" in result.output
    manifest = json.loads((tmp_path / "out" / "model.json").read_text())
    assert manifest["labels"] == {"pair": "BTC/USDT", "timeframe": "1h", "horizon": 12}
    done = subprocess.run(
        [sys.executable, str(tmp_path / "out" / "predict.py"), str(tmp_path / "rows.npy")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == ",".join(CLASSES) and len(lines) == 1 + len(held_out)
    printed = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
    assert np.abs(printed - ensemble.predict_proba(held_out)).max() <= 1e-6


def test_cli_exports_a_freqai_model_folder(tmp_path):
    import cloudpickle

    from hyperphysics_strategy.cli import app
    from hyperphysics_strategy.engine.manifest import write_manifest

    ensemble, _ = _fit(("xgboost",))
    folder = tmp_path / "models" / "hp" / "sub-train-BTC_1700000000"
    folder.mkdir(parents=True)
    with (folder / "cb_btc_1700000000_model.joblib").open("wb") as fh:
        cloudpickle.dump(ensemble, fh)
    (folder / "hyperphysics_model.json").write_text(
        json.dumps({"experts": ["xgboost"], "labels": {"label_period_candles": 12}})
    )
    write_manifest(folder)
    result = CliRunner().invoke(app, ["export", str(folder.parent), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "o" / "model.json").read_text())
    assert manifest["labels"] == {"label_period_candles": 12}
    assert "FreqAI model sub-train-BTC_1700000000" in manifest["source"]
    (folder / "cb_btc_1700000000_model.joblib").write_bytes(b"damaged")
    result = CliRunner().invoke(app, ["export", str(folder), "--out", str(tmp_path / "o2")])
    assert result.exit_code == 2 and "cb_btc_1700000000_model.joblib" in result.output


def test_cli_names_a_folder_that_is_no_model(tmp_path):
    from hyperphysics_strategy.cli import app

    result = CliRunner().invoke(app, ["export", str(tmp_path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "neither a `hyperphysics train --save` folder" in result.output


def test_missing_extra_is_named(monkeypatch):
    ensemble, _ = _fit(("lightgbm",))
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if missing
    with pytest.raises(ImportError, match=r"'onnx' extra .*pip install \"\.\[onnx\]\""):
        require("onnxruntime")
    with pytest.raises(ImportError, match="'onnx' extra"):
        export_ensemble(ensemble, "/nonexistent/never-written")
    assert ensemble.predict_proba(np.zeros((2, 6), np.float32)).shape == (2, 3)


def test_importing_the_package_imports_no_onnx_module():
    code = (
        "import sys, hyperphysics_strategy.ensemble.export, hyperphysics_strategy.ensemble\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('onnx', 'onnxruntime', 'onnxmltools', 'skl2onnx')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
