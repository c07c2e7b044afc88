"""Bad input a running bot meets: the ensemble ``hyperphysics train --save`` writes and
``--load`` reads (issue 23; see docs/reliability.md, "Saved models").

The ensemble is saved as its experts' native files plus JSON, so loading never unpickles;
``--load`` of anything that is not such a save is one line naming the file and the
problem, exit code 2. One tiny ensemble (two fast tree experts, no stacking folds) is
fitted once for the module.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from hyperphysics_strategy.cli import app
from hyperphysics_strategy.demo import demo_data_dir
from hyperphysics_strategy.engine.manifest import MANIFEST, CorruptSaveError, write_manifest
from hyperphysics_strategy.ensemble import ExpertEnsemble
from tests.bad_input import FAST, fit_data, labels


@pytest.fixture(scope="module")
def fitted():
    data = fit_data()
    params = {name: FAST[name] for name in ("lightgbm", "xgboost")}
    ensemble = ExpertEnsemble(["lightgbm", "xgboost"], params, stacking_folds=0)
    return data, ensemble.fit(data.X, labels(data.y))


class _Payload:
    """Pickles as a call that would leave a marker file (it must never run)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _report(ensemble: ExpertEnsemble) -> dict:
    """What ``train --save`` puts in report.json (what ``--load`` reads)."""
    return {
        "pair": "BTC/USDT",
        "horizon": 12,
        "periods": [10, 20],
        "last_train_date": "2024-01-01 00:00:00+00:00",
        "train_labels": ["buy", "neutral", "sell"],
        "feature_names": [f"f{i}" for i in range(ensemble.n_features_in_)],
    }


def _load(folder: Path):
    args = ["train", "--datadir", str(demo_data_dir()), "--pair", "BTC/USDT"]
    return CliRunner().invoke(app, [*args, "--load", str(folder)])


def _one_error_line(result) -> str:
    assert result.exit_code == 2, (result.output, result.exception)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    return " ".join(lines[0].split())


def test_ensemble_save_load_round_trip_predicts_identically_without_unpickling(
    fitted, tmp_path, monkeypatch
):
    """``ExpertEnsemble.save`` writes native expert files plus ``ensemble.json`` (no pickle
    anywhere) with a manifest; ``load`` never calls an unpickler and predicts exactly as the
    fitted ensemble, with its classes, parameters, weights and report."""
    import joblib

    data, ensemble = fitted
    ensemble.save(tmp_path / "ens")
    names = sorted(
        p.relative_to(tmp_path / "ens").as_posix() for p in (tmp_path / "ens").rglob("*")
    )
    assert "ensemble.json" in names and MANIFEST in names
    assert {"lightgbm/model.txt", "xgboost/model.ubj"} <= set(names)
    assert not [n for n in names if n.endswith((".joblib", ".pkl", ".pickle"))], names

    def refuse(*args, **kwargs):
        raise AssertionError("an unpickler ran")

    for module, name in [(pickle, "load"), (pickle, "loads"), (joblib, "load")]:
        monkeypatch.setattr(module, name, refuse)
    loaded = ExpertEnsemble.load(tmp_path / "ens")
    monkeypatch.undo()
    np.testing.assert_array_equal(
        loaded.predict_proba(data.X_val), ensemble.predict_proba(data.X_val)
    )
    np.testing.assert_array_equal(loaded.predict(data.X_val), ensemble.predict(data.X_val))
    assert list(loaded.classes_) == list(ensemble.classes_)
    np.testing.assert_array_equal(loaded.weights_, ensemble.weights_)
    assert loaded.report_.to_dict() == ensemble.report_.to_dict()
    params = {k: v for k, v in ensemble.get_params().items() if k != "placement_provider"}
    got = loaded.get_params()
    assert {k: got[k] for k in params} == {**params, "classes": list(ensemble.classes)}


@pytest.mark.parametrize("layout", ["older version's save", "planted beside a new save"])
def test_planted_ensemble_joblib_is_never_executed_by_load(fitted, tmp_path, layout):
    """``train --load`` used to ``joblib.load`` whatever ``ensemble.joblib`` held: a payload
    ran. Now the pickle is never opened: an older version's save (report.json and
    ``ensemble.joblib``) is refused by name, and one planted in a new save is a file the
    manifest does not list."""
    from hyperphysics_strategy.cli.train_results import save_ensemble

    _, ensemble = fitted
    folder, marker = tmp_path / "m", tmp_path / "pwned"
    if layout == "older version's save":
        folder.mkdir()
        (folder / "report.json").write_text(json.dumps(_report(ensemble)))
        problem = "a pickled ensemble from an older version; it is not loaded"
    else:
        save_ensemble(folder, ensemble, _report(ensemble), None)
        problem = f"not listed in {MANIFEST}"
    (folder / "ensemble.joblib").write_bytes(pickle.dumps(_Payload(marker)))
    line = _one_error_line(_load(folder))
    assert f"{folder / 'ensemble.joblib'}: {problem}" in line, line
    assert not marker.exists()


def _older_save(folder: Path, ensemble, pickled: bytes) -> None:
    folder.mkdir()
    (folder / "report.json").write_text(json.dumps(_report(ensemble)))
    (folder / "ensemble.joblib").write_bytes(pickled)


def _rewrite(folder: Path, name: str, content: str) -> None:
    (folder / name).write_text(content)
    write_manifest(folder)  # written on purpose: the manifest matches


CASES = {
    # what older versions read with joblib (tracebacks before): garbage, empty, foreign
    "garbage pickle": (
        lambda f, e: _older_save(f, e, b"\x80\x04garbage" * 10),
        "ensemble.joblib: a pickled ensemble from an older version",
    ),
    "empty pickle": (
        lambda f, e: _older_save(f, e, b""),
        "ensemble.joblib: a pickled ensemble from an older version",
    ),
    "foreign pickle": (
        lambda f, e: _older_save(f, e, pickle.dumps({"not": "an ensemble"})),
        "ensemble.joblib: a pickled ensemble from an older version",
    ),
    # the new layout
    "a file, not a folder": (
        lambda f, e: f.write_bytes(b"\x00garbage"),
        "a file, not a saved ensemble's folder",
    ),
    "empty folder": (lambda f, e: f.mkdir(), "not a saved ensemble (no ensemble.json)"),
    "an expert's save": (
        lambda f, e: e.experts_[0].save(f),
        "ensemble.json: missing: not a saved ensemble",
    ),
    "damaged ensemble.json": (
        lambda f, e: (e.save(f), (f / "ensemble.json").write_text("{}")),
        "ensemble.json: 2 bytes where the manifest records",
    ),
    "garbage ensemble.json": (
        lambda f, e: (e.save(f), _rewrite(f, "ensemble.json", "\x00garbage")),
        "ensemble.json: not a saved ensemble's state (the file: Invalid JSON",
    ),
    "foreign ensemble.json": (
        lambda f, e: (e.save(f), _rewrite(f, "ensemble.json", '{"format": 1, "weights": []}')),
        "ensemble.json: not a saved ensemble's state (params: Field required",
    ),
    "foreign report.json": (
        lambda f, e: (e.save(f), _rewrite(f, "report.json", '{"pair": "BTC/USDT"}')),
        "report.json: missing or unreadable (no horizon, last_train_date, train_labels)",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_load_of_garbage_empty_or_foreign_input_is_one_named_error(fitted, tmp_path, case):
    """``train --load`` of a garbage, empty or foreign file or folder: exit 2 and one line
    naming the file and the problem (a raw traceback before, for the pickles)."""
    _, ensemble = fitted
    make, problem = CASES[case]
    folder = tmp_path / "m"
    make(folder, ensemble)
    line = _one_error_line(_load(folder))
    assert line.startswith("hyperphysics train: --load") and problem in line, line
    assert str(folder) in line


def test_a_file_the_manifest_does_not_list_is_refused(fitted, tmp_path):
    """A save whose manifest leaves out a file it holds (edited, or a file dropped in) is
    refused naming that file, before any loader sees it."""
    _, ensemble = fitted
    folder = tmp_path / "ens"
    ensemble.save(folder)
    manifest = json.loads((folder / MANIFEST).read_text())
    del manifest["files"]["lightgbm/model.txt"]
    (folder / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(CorruptSaveError, match=rf"model\.txt: not listed in {MANIFEST}"):
        ExpertEnsemble.load(folder)


def test_save_onto_a_folder_of_other_files_fails_before_training(tmp_path, monkeypatch):
    """``--save`` replaces its folder whole (staging, one rename), so a folder holding files
    that are not a save is refused before anything trains, and its files stay."""
    from hyperphysics_strategy.cli import train_cmd

    def never(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(train_cmd, "_train", never)
    (tmp_path / "notes.txt").write_text("mine")
    args = ["train", "--datadir", str(demo_data_dir()), "--rows", "200", "--save", str(tmp_path)]
    line = _one_error_line(CliRunner().invoke(app, args))
    assert f"--save {tmp_path}: holds files that are not a saved ensemble" in line, line
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_a_loaded_ensemble_still_matches_columns_by_name(tmp_path):
    """The fitted column names are saved in ``ensemble.json``: a loaded ensemble reorders a
    DataFrame's columns by name, and refuses one whose names differ, as the fitted one does."""
    import pandas as pd

    data = fit_data()
    names = [f"%-f{i}" for i in range(data.X.shape[1])]
    train = pd.DataFrame(data.X, columns=names)
    ensemble = ExpertEnsemble(["lightgbm"], {"lightgbm": FAST["lightgbm"]}, stacking_folds=0)
    ensemble.fit(train, labels(data.y)).save(tmp_path / "ens")
    loaded = ExpertEnsemble.load(tmp_path / "ens")
    assert list(loaded.feature_names_in_) == names
    rows = pd.DataFrame(data.X_val, columns=names)
    np.testing.assert_array_equal(
        loaded.predict_proba(rows[names[::-1]]), ensemble.predict_proba(rows)
    )
    with pytest.raises(ValueError, match="%-f0"):
        loaded.predict_proba(rows.rename(columns={"%-f0": "%-other"}))
