"""Bad input a running bot meets: saved models (issue 16; see docs/reliability.md).

Corrupted, truncated and half-written model files, FreqAI's model folder and torch weights
get a named error, and nothing already saved is lost: the kill tests fork a child that
saves in a loop and SIGKILL it at random moments; the child only writes files (no OpenMP
work), so forking from the test process is safe.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from hyperphysics_strategy.engine.hardware import Device, Placement
from hyperphysics_strategy.engine.manifest import MANIFEST, CorruptSaveError
from hyperphysics_strategy.ensemble import make_expert
from hyperphysics_strategy.ensemble.experts import FitData
from tests.bad_input import FAST, KILLS, fit_data, kill_repeatedly


@pytest.fixture(scope="module")
def trained():
    data = fit_data()
    return data, {
        name: make_expert(name, params, seed=1).fit(data) for name, params in FAST.items()
    }


MODEL_FILE = {"lightgbm": "model.txt", "xgboost": "model.ubj", "mlp": "model.pt"}


# -- corrupted and truncated model files, half-written saves, kills during a save -------


@pytest.mark.parametrize("name", list(FAST))
def test_corrupted_model_file_is_refused_before_the_native_loader(trained, tmp_path, name):
    """One flipped byte (xgboost/lightgbm crash natively on some) gives a named error."""
    data, experts = trained
    expert = experts[name]
    expert.save(tmp_path / name)
    target = tmp_path / name / MODEL_FILE[name]
    raw = bytearray(target.read_bytes())
    raw[len(raw) // 2] ^= 0x40
    target.write_bytes(bytes(raw))
    with pytest.raises(CorruptSaveError, match=MODEL_FILE[name]) as info:
        type(expert).load(tmp_path / name)
    assert "sha256" in str(info.value)
    assert info.value.path == target


def test_truncated_model_file_is_refused(trained, tmp_path):
    """A truncated LightGBM model.txt (SIGABRT in LightGBM) is refused, naming the file."""
    _, experts = trained
    expert = experts["lightgbm"]
    expert.save(tmp_path / "lgb")
    target = tmp_path / "lgb" / "model.txt"
    target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    with pytest.raises(CorruptSaveError, match=r"model\.txt.*truncated"):
        type(expert).load(tmp_path / "lgb")


def test_half_written_save_without_manifest_is_refused(trained, tmp_path):
    """A folder without the manifest (an interrupted or pre-manifest save) is refused."""
    data, experts = trained
    expert = experts["lightgbm"]
    expert.save(tmp_path / "lgb")
    (tmp_path / "lgb" / MANIFEST).unlink()
    with pytest.raises(CorruptSaveError, match=MANIFEST):
        type(expert).load(tmp_path / "lgb")
    # and saving again over it works: the old save is replaced as a whole
    expert.save(tmp_path / "lgb")
    again = type(expert).load(tmp_path / "lgb")
    np.testing.assert_array_equal(again.predict_proba(data.X_val), expert.predict_proba(data.X_val))


def test_save_never_replaces_a_folder_that_is_not_a_model(trained, tmp_path):
    """Saving onto a folder with other files refuses and leaves those files alone."""
    _, experts = trained
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not a saved model"):
        experts["lightgbm"].save(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_sigkill_during_expert_saves_never_loads_wrongly(tmp_path):
    """24 kills at random points of a loop that saves two different models alternately
    onto one folder: what is on disk loads and predicts exactly as one of them was saved,
    or is refused with a named error; a mix of the two never loads."""
    data = fit_data(seed=2)
    params = {"max_epochs": 2, "hidden": [16]}
    a = make_expert("mlp", params, seed=11).fit(data)
    b = make_expert("mlp", params, seed=12).fit(data)
    expected = {11: a.predict_proba(data.X_val), 12: b.predict_proba(data.X_val)}
    assert not np.allclose(expected[11], expected[12])
    target = tmp_path / "mlp"
    seen = {"a": 0, "b": 0, "refused": 0}

    def check() -> None:
        cls = type(a)
        try:
            loaded = cls.load(target)
        except CorruptSaveError as exc:
            assert target.name in str(exc)
            seen["refused"] += 1
            return
        np.testing.assert_array_equal(loaded.predict_proba(data.X_val), expected[loaded.seed])
        seen["a" if loaded.seed == 11 else "b"] += 1

    a.save(target)  # a first complete save: a kill may only ever replace it whole
    kill_repeatedly([lambda: a.save(target), lambda: b.save(target)], check, KILLS, 0.25)
    assert seen["a"] + seen["b"] + seen["refused"] == KILLS
    assert seen["a"] > 0 and seen["b"] > 0, seen  # the children really saved
    assert seen["refused"] == 0, seen  # the previous save always survives a kill


def _leave_out(folder: Path, name: str) -> None:
    """Edit ``folder``'s manifest so that it no longer lists ``name`` (the file stays)."""
    manifest = json.loads((folder / MANIFEST).read_text())
    del manifest["files"][name]
    (folder / MANIFEST).write_text(json.dumps(manifest))


def test_a_file_the_manifest_does_not_list_is_refused_naming_it(trained, tmp_path):
    """The check covers the folder, not only the manifest's list: a model file the manifest
    leaves out (damaged bytes in it reached LightGBM, which aborts the process) or a file
    dropped in after the save is refused by name before the native loader runs. (The test
    leaves the bytes intact: the old code would abort the test process.)"""
    _, experts = trained
    expert, folder = experts["lightgbm"], tmp_path / "lgb"
    expert.save(folder)
    _leave_out(folder, "model.txt")
    with pytest.raises(CorruptSaveError, match=rf"model\.txt: not listed in {MANIFEST}"):
        type(expert).load(folder)
    expert.save(folder)  # a save replaces it whole
    (folder / "extra.txt").write_text("dropped in later")
    with pytest.raises(CorruptSaveError, match=rf"extra\.txt: not listed in {MANIFEST}"):
        type(expert).load(folder)


# -- FreqAI's model folder: atomic save, verified load ---------------------------------


def _drawer(root: Path):
    from freqtrade.freqai.data_drawer import FreqaiDataDrawer

    from hyperphysics_strategy.freqai.compat.drawer import install_crash_safe_saves

    drawer = FreqaiDataDrawer(root, {"freqai": {}})
    install_crash_safe_saves(drawer)
    return drawer


def _kitchen(root: Path, data: FitData, live: bool):
    import pandas as pd

    features = pd.DataFrame(data.X_val, columns=[f"%f{i}" for i in range(data.X_val.shape[1])])
    return SimpleNamespace(
        data_path=root / "sub-train-BTC_1700000000",
        model_filename="cb_btc_1700000000",
        live=live,
        data={},
        training_features_list=list(features.columns),
        label_list=["&s-up"],
        feature_pipeline={"scaler": "fitted"},
        label_pipeline={"labels": "fitted"},
        data_dictionary={
            "train_features": features,
            "train_dates": pd.Series(pd.date_range("2024-01-01", periods=len(features))),
        },
    )


def test_freqai_corrupt_model_is_refused_and_retrained(trained, tmp_path):
    """A flipped byte in FreqAI's model.joblib (SIGSEGV in xgboost's __setstate__) is
    refused before cloudpickle reads it: live mode logs it, resets the pair so FreqAI
    retrains and returns no model; backtesting raises the named error."""
    from hyperphysics_strategy.freqai.model_store import verified_model_folder

    data, experts = trained
    model = experts["xgboost"]
    drawer = _drawer(tmp_path)
    drawer.pair_dict["BTC/USDT"] = dict(drawer.empty_pair_dict)
    drawer.save_data(model, "BTC/USDT", _kitchen(tmp_path, data, live=True))
    folder = tmp_path / "sub-train-BTC_1700000000"
    assert (folder / MANIFEST).is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging left
    assert drawer.pair_dict["BTC/USDT"]["data_path"] == str(folder)

    # an intact save loads after a restart and predicts exactly as saved
    fresh = _drawer(tmp_path)
    loaded = fresh.load_data("BTC/USDT", _kitchen(tmp_path, data, live=True))
    np.testing.assert_array_equal(loaded.predict_proba(data.X_val), model.predict_proba(data.X_val))

    # backtesting asks model_exists first: a saved window counts only while it verifies
    from hyperphysics_strategy.freqai import HyperPhysicsEnsemble

    freqai_model = object.__new__(HyperPhysicsEnsemble)  # only .dd is read by model_exists
    freqai_model.dd = fresh
    assert freqai_model.model_exists(_kitchen(tmp_path, data, live=False))

    joblib_file = folder / "cb_btc_1700000000_model.joblib"
    raw = bytearray(joblib_file.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    joblib_file.write_bytes(bytes(raw))
    assert "model.joblib" in str(verified_model_folder(folder))
    assert not freqai_model.model_exists(_kitchen(tmp_path, data, live=False))  # retrain

    with pytest.raises(CorruptSaveError, match="model.joblib"):
        _drawer(tmp_path).load_data("BTC/USDT", _kitchen(tmp_path, data, live=False))
    restarted = _drawer(tmp_path)
    assert restarted.load_data("BTC/USDT", _kitchen(tmp_path, data, live=True)) is None
    assert restarted.pair_dict["BTC/USDT"]["trained_timestamp"] == 0  # FreqAI retrains
    assert _drawer(tmp_path).pair_dict["BTC/USDT"]["model_filename"] == ""  # persisted


def test_sigkill_during_freqai_saves_never_loads_wrongly(trained, tmp_path):
    """24 kills while FreqAI's save_data alternately saves two models: after each kill a
    restarted drawer loads one of them exactly as saved (pair_dictionary.json stays valid)."""
    data, experts = trained
    a = experts["xgboost"]
    b = make_expert("xgboost", FAST["xgboost"], seed=2).fit(data)
    expected = {1: a.predict_proba(data.X_val), 2: b.predict_proba(data.X_val)}
    assert not np.allclose(expected[1], expected[2])
    drawer = _drawer(tmp_path)
    drawer.pair_dict["BTC/USDT"] = dict(drawer.empty_pair_dict)
    drawer.save_data(a, "BTC/USDT", _kitchen(tmp_path, data, live=True))
    seen = {1: 0, 2: 0}

    def save(model) -> Callable[[], None]:
        return lambda: drawer.save_data(model, "BTC/USDT", _kitchen(tmp_path, data, live=True))

    def check() -> None:
        loaded = _drawer(tmp_path).load_data("BTC/USDT", _kitchen(tmp_path, data, live=True))
        assert loaded is not None, "the previous model was lost"
        np.testing.assert_array_equal(loaded.predict_proba(data.X_val), expected[loaded.seed])
        seen[loaded.seed] += 1

    kill_repeatedly([save(a), save(b)], check, KILLS, max_delay=0.25)
    assert seen[1] > 0 and seen[2] > 0, seen


def test_freqai_model_file_the_manifest_does_not_list_is_refused(trained, tmp_path):
    """FreqAI's folder too: a ``*_model.joblib`` the manifest leaves out is refused by name
    (``model_exists`` is False: the window retrains) before cloudpickle reads it."""
    from hyperphysics_strategy.freqai import HyperPhysicsEnsemble
    from hyperphysics_strategy.freqai.model_store import verified_model_folder

    data, experts = trained
    drawer = _drawer(tmp_path)
    drawer.pair_dict["BTC/USDT"] = dict(drawer.empty_pair_dict)
    drawer.save_data(experts["xgboost"], "BTC/USDT", _kitchen(tmp_path, data, live=True))
    folder = tmp_path / "sub-train-BTC_1700000000"
    freqai_model = object.__new__(HyperPhysicsEnsemble)
    freqai_model.dd = drawer
    assert freqai_model.model_exists(_kitchen(tmp_path, data, live=False))
    _leave_out(folder, "cb_btc_1700000000_model.joblib")
    assert "model.joblib: not listed in manifest.json" in str(verified_model_folder(folder))
    assert not freqai_model.model_exists(_kitchen(tmp_path, data, live=False))


def test_freqai_model_trained_with_another_setup_is_retrained(trained, tmp_path, caplog):
    """A FreqAI model folder records the expert set, feature list and label configuration
    it was trained with (``hyperphysics_model.json``, under the manifest). A backtest
    (``model_exists``) or a live restart (``load_data``) with other ones retrains, with one
    log line naming what changed; the old model used to be reused without a word."""
    from freqtrade.freqai.data_drawer import FreqaiDataDrawer

    from hyperphysics_strategy.freqai import HyperPhysicsEnsemble
    from hyperphysics_strategy.freqai.compat.drawer import install_crash_safe_saves
    from hyperphysics_strategy.freqai.compat.start_backtesting import predictions_reusable
    from hyperphysics_strategy.freqai.model_identity import CURRENT_FEATURES

    data, experts = trained

    def model(names=("xgboost",), horizon=12, k_up=1.0):
        m = object.__new__(HyperPhysicsEnsemble)  # what model_identity and model_exists read
        m.EXPERTS, m.class_names = names, ["sell", "neutral", "buy"]
        m.freqai_info = {"feature_parameters": {"label_period_candles": horizon}}
        m._strategy_labels = {"barrier_k_up": k_up}
        m.dd = FreqaiDataDrawer(tmp_path, {"freqai": {}})
        install_crash_safe_saves(m.dd, m.model_identity)
        return m

    def kitchen(live, features=None):
        dk = _kitchen(tmp_path, data, live)
        dk.pair = "BTC/USDT"
        if features is not None:
            setattr(dk, CURRENT_FEATURES, features)
        return dk

    saver = model()
    saver.dd.pair_dict["BTC/USDT"] = dict(saver.dd.empty_pair_dict)
    saver.dd.save_data(experts["xgboost"], "BTC/USDT", kitchen(True))
    folder = tmp_path / "sub-train-BTC_1700000000"
    assert "hyperphysics_model.json" in json.loads((folder / MANIFEST).read_text())["files"]
    same = [f"%f{i}" for i in range(data.X.shape[1])]
    assert model().model_exists(kitchen(False, same))
    for m, features, why in [
        (model(("lightgbm", "xgboost")), same, "expert set (saved ['xgboost'], now ['lightgbm'"),
        (model(), same[:-1], "feature list (6 features, now 5: added [], removed ['%f5'])"),
        (model(horizon=24), same, "label configuration (label_period_candles 12, now 24)"),
        (model(k_up=2.0), same, "label configuration (barrier_k_up 1.0, now 2.0)"),
    ]:
        caplog.clear()
        assert not m.model_exists(kitchen(False, features))
        lines = [r.getMessage() for r in caplog.records if "retraining" in r.getMessage()]
        assert len(lines) == 1 and f"trained with another {why}" in lines[0], lines
    valid = {"check_if_backtest_prediction_is_valid": lambda self, rows: rows > 0}
    saved_predictions = type("Window", (SimpleNamespace,), valid)(**vars(kitchen(False)))
    assert predictions_reusable(model().dd, saved_predictions, 24)
    assert not predictions_reusable(model(("lightgbm",)).dd, saved_predictions, 24)
    caplog.clear()
    live = model(("lightgbm",))  # a restarted bot whose config names another expert set
    assert live.dd.load_data("BTC/USDT", kitchen(True)) is None
    assert live.dd.pair_dict["BTC/USDT"]["trained_timestamp"] == 0  # FreqAI retrains
    assert [r.getMessage() for r in caplog.records if "another expert set" in r.getMessage()]


# -- torch weights: never unpickled, GPU-saved files load on a CPU-only process --------


def _rewrite_model_pt(path: Path, edit: Callable[[bytes], bytes]) -> None:
    """Rewrite the pickle inside torch's zip file ``path`` with ``edit``."""
    import zipfile

    original = path.read_bytes()
    tmp = path.with_suffix(".orig")
    tmp.write_bytes(original)
    with zipfile.ZipFile(tmp) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename.endswith("data.pkl"):
                data = edit(data)
            zout.writestr(info, data)
    tmp.unlink()


def test_gpu_trained_torch_model_loads_on_a_cpu_only_process(trained, tmp_path):
    """A ``model.pt`` whose tensors were saved from ``cuda:0`` (the storage location in
    the file says so) loads onto the CPU and predicts as saved; so does a pickled expert
    (FreqAI's joblib) whose placement names a GPU."""
    import pickle

    import torch

    from hyperphysics_strategy.engine.manifest import write_manifest

    data, experts = trained
    folder = tmp_path / "mlp"
    experts["mlp"].save(folder)
    cpu, cuda = b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0"  # storage location
    _rewrite_model_pt(folder / "model.pt", lambda pickled: pickled.replace(cpu, cuda))
    write_manifest(folder)
    if not torch.cuda.is_available():  # the file really needs a GPU unless mapped
        with pytest.raises(RuntimeError, match="CUDA device"):
            torch.load(folder / "model.pt", weights_only=True)
    loaded = make_expert("mlp").load(folder)
    expected = experts["mlp"].predict_proba(data.X_val)
    np.testing.assert_allclose(loaded.predict_proba(data.X_val), expected, rtol=1e-6)

    gpu = pickle.loads(pickle.dumps(experts["mlp"]))
    gpu.placement = Placement("torch", Device("cuda", 0))
    restored = pickle.loads(pickle.dumps(gpu))
    np.testing.assert_allclose(restored.predict_proba(data.X_val), expected, rtol=1e-6)


class _Payload:
    """Pickles as a call that would leave a marker file (it must never run)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_torch_weights_are_never_unpickled(trained, tmp_path):
    """A ``model.pt`` holding a pickled object (valid manifest: written by an attacker, not
    damaged) is refused by name; the object's code never runs."""
    import torch

    from hyperphysics_strategy.engine.manifest import write_manifest

    _, experts = trained
    folder = tmp_path / "mlp"
    experts["mlp"].save(folder)
    marker = tmp_path / "pwned"
    torch.save({"input.mean": _Payload(marker)}, folder / "model.pt")
    write_manifest(folder)
    with pytest.raises(CorruptSaveError, match=r"model\.pt: holds more than plain tensors"):
        make_expert("mlp").load(folder)
    assert not marker.exists()
