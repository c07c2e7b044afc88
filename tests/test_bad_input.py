"""Bad input a running bot meets, one test per class (issue 16; see docs/reliability.md).

Each test asserts a clear error naming the problem, or a correct degraded result, and
that nothing already saved was lost. The kill tests fork a child that saves or records
in a loop and SIGKILL it at random moments; the child only writes files (no OpenMP work),
so forking from the test process is safe.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from hyperphysics_strategy.engine.hardware import Device, Placement
from hyperphysics_strategy.engine.manifest import MANIFEST, CorruptSaveError
from hyperphysics_strategy.ensemble import make_expert
from hyperphysics_strategy.ensemble.experts import FitData

KILLS = 24


def _data(n: int = 600, seed: int = 0) -> FitData:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6)).astype(np.float32)
    s = X[:, 0] + 0.3 * rng.normal(size=n)
    y = np.where(s > 0.5, 0, np.where(s < -0.5, 2, 1))
    k = n * 4 // 5
    return FitData(X[:k], y[:k], np.ones(k), X[k:], y[k:], np.ones(n - k), 3)


FAST = {
    "lightgbm": {"n_estimators": 30},
    "xgboost": {"n_estimators": 30},
    "mlp": {"max_epochs": 3, "hidden": [16]},
}


@pytest.fixture(scope="module")
def trained():
    data = _data()
    return data, {
        name: make_expert(name, params, seed=1).fit(data)
        for name, params in FAST.items()
    }


MODEL_FILE = {"lightgbm": "model.txt", "xgboost": "model.ubj", "mlp": "model.pt"}


def kill_repeatedly(
    work: Callable[[], None], check: Callable[[], None], kills: int, max_delay: float
) -> None:
    """Fork a child running ``work`` (a loop), SIGKILL it after a random delay, ``check``."""
    rng = random.Random(16)
    for _ in range(kills):
        pid = os.fork()
        if pid == 0:  # child: never returns into pytest
            try:
                work()
            finally:
                os._exit(0)
        time.sleep(rng.uniform(0.0, max_delay))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        assert os.WIFSIGNALED(status), "the child ended before it was killed"
        check()


# -- 1. corrupted and truncated model files, half-written saves, kills during a save -------


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
    data = _data(seed=2)
    params = {"max_epochs": 2, "hidden": [16]}
    a = make_expert("mlp", params, seed=11).fit(data)
    b = make_expert("mlp", params, seed=12).fit(data)
    expected = {11: a.predict_proba(data.X_val), 12: b.predict_proba(data.X_val)}
    assert not np.allclose(expected[11], expected[12])
    target = tmp_path / "mlp"
    seen = {"a": 0, "b": 0, "refused": 0}

    def work() -> None:
        while True:
            a.save(target)
            b.save(target)

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
    kill_repeatedly(work, check, KILLS, max_delay=0.25)
    assert seen["a"] + seen["b"] + seen["refused"] == KILLS
    assert seen["a"] > 0 and seen["b"] > 0, seen  # the children really saved
    assert seen["refused"] == 0, seen  # the previous save always survives a kill


# -- 1b. FreqAI's model folder: atomic save, verified load ---------------------------------


def _drawer(root: Path):
    from freqtrade.freqai.data_drawer import FreqaiDataDrawer

    from hyperphysics_strategy.freqai.model_store import install_crash_safe_saves

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

    def work() -> None:
        while True:
            for model in (a, b):
                drawer.save_data(model, "BTC/USDT", _kitchen(tmp_path, data, live=True))

    def check() -> None:
        loaded = _drawer(tmp_path).load_data("BTC/USDT", _kitchen(tmp_path, data, live=True))
        assert loaded is not None, "the previous model was lost"
        np.testing.assert_array_equal(loaded.predict_proba(data.X_val), expected[loaded.seed])
        seen[loaded.seed] += 1

    kill_repeatedly(work, check, KILLS, max_delay=0.25)
    assert seen[1] > 0 and seen[2] > 0, seen


# -- 2. order-book history: damaged files, level changes, hostile names, kills -------------


def _book(ts: int, levels: int = 20) -> tuple[list, list]:
    shift = (ts % 97) * 0.01
    bids = [[100.0 - k - shift, 1.0 + k] for k in range(1, levels + 1)]
    asks = [[100.0 + k + shift, 2.0 + k] for k in range(1, levels + 1)]
    return bids, asks


def test_unreadable_history_is_quarantined_never_compacted_over(tmp_path, caplog):
    """A damaged main parquet used to be skipped, then overwritten by compaction (50
    snapshots became 3): now it is renamed to .corrupt with a warning, bytes intact."""
    from hyperphysics_strategy.engine.orderbook import OrderBookRecorder, pair_path
    from hyperphysics_strategy.engine.orderbook import read_orderbooks as read

    rec = OrderBookRecorder(tmp_path, "binance", levels=5, compact_every=10)
    for t in range(50):
        rec.record("BTC/USDT", t, *_book(t, 5))
    main = pair_path(tmp_path, "binance", "BTC/USDT")
    assert len(read(main)[0]) == 50 and main.is_file()
    damaged = bytearray(main.read_bytes())
    damaged[len(damaged) // 2 : len(damaged) // 2 + 64] = b"\0" * 64
    damaged = bytes(damaged[:-16])  # and truncated: no footer
    main.write_bytes(damaged)
    with caplog.at_level("WARNING"):
        assert len(read(main)[0]) == 0  # readers skip it with a warning...
        assert "unreadable" in caplog.text
        for t in range(50, 53):
            rec.record("BTC/USDT", t, *_book(t, 5))
        rec.compact()  # ...and compaction moves it aside before writing
    corrupt = list(main.parent.glob("BTC_USDT.parquet.*.corrupt"))
    assert len(corrupt) == 1 and corrupt[0].read_bytes() == damaged
    assert "not compacted over" in caplog.text and corrupt[0].name in caplog.text
    assert read(main)[0].tolist() == [50, 51, 52]


def test_level_count_change_is_padded_to_a_common_width(tmp_path):
    """Restarting with another ``levels`` used to make every later call fail."""
    from hyperphysics_strategy.engine.orderbook import OrderBookRecorder, pair_path
    from hyperphysics_strategy.engine.orderbook import read_orderbooks as read

    wide = OrderBookRecorder(tmp_path, "binance", levels=20, compact_every=4)
    for t in range(8):
        wide.record("ETH/USDT", t, *_book(t, 20))
    narrow = OrderBookRecorder(tmp_path, "binance", levels=10, compact_every=3)
    for t in range(8, 14):
        narrow.record("ETH/USDT", t, *_book(t, 20))
    main = pair_path(tmp_path, "binance", "ETH/USDT")
    for _ in range(2):  # before and after the final compaction
        ts, bids, asks = read(main)
        assert ts.tolist() == list(range(14))
        assert bids.shape == asks.shape == (14, 20, 2)  # never trimmed: no level lost
        np.testing.assert_array_equal(bids[3], np.array(_book(3, 20)[0]))
        np.testing.assert_array_equal(bids[9, :10], np.array(_book(9, 10)[0]))
        assert np.isnan(bids[9, 10:]).all() and np.isnan(asks[13, 10:]).all()
        narrow.compact()
    assert not list(main.parent.glob("*.corrupt"))


@pytest.mark.parametrize(
    ("exchange", "pair"),
    [("../../escape", "BTC/USDT"), ("binance", "../../../escape/x"), ("/abs", "..\\x:y")],
)
def test_exchange_and_pair_names_cannot_escape_the_history_folder(tmp_path, exchange, pair):
    from hyperphysics_strategy.engine.orderbook import OrderBookRecorder, read_orderbooks

    root = tmp_path / "user_data" / "orderbooks"
    path = OrderBookRecorder(root, exchange, levels=2).record(pair, 1, *_book(1, 2))
    assert path.resolve().is_relative_to(root.resolve())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["user_data"]
    assert read_orderbooks(OrderBookRecorder(root, exchange).path(pair))[0].tolist() == [1]
    with pytest.raises(ValueError, match="exchange '..' has no letter or digit"):
        OrderBookRecorder(root, "..")


RECORD_SERVER = """
import importlib.util, os, sys
# the module alone, under its own name so that its relative imports resolve, without the
# orderbook package (which imports torch): numpy only, a fast start
name = "hyperphysics_strategy.engine.orderbook.recorder"
spec = importlib.util.spec_from_file_location(name, sys.argv[1])
recorder = importlib.util.module_from_spec(spec)
spec.loader.exec_module(recorder)
import polars  # imported once here, first used in each forked child
root, log = sys.argv[2], sys.argv[3]

def book(ts):
    shift = (ts % 97) * 0.01
    return ([[100.0 - k - shift, 1.0 + k] for k in range(1, 21)],
            [[100.0 + k + shift, 2.0 + k] for k in range(1, 21)])

for line in sys.stdin:
    base = int(line)
    pid = os.fork()
    if pid == 0:
        rec = recorder.OrderBookRecorder(root, "kraken", levels=20, compact_every=5)
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        i = 0
        while True:
            rec.record("ETH/USDT", base + i, *book(base + i))
            os.write(fd, f"{base + i}\\n".encode())  # logged only once record() returned
            i += 1
    print(pid, flush=True)
    os.waitpid(pid, 0)
    print("reaped", flush=True)
"""


def test_sigkill_during_recording_loses_no_completed_snapshot(tmp_path):
    """24 kills at random points of a recording loop that compacts every 5 appends: the
    history always holds every snapshot whose ``record`` returned, each intact."""
    import subprocess
    import sys

    from hyperphysics_strategy.engine.orderbook import pair_path, read_orderbooks
    from hyperphysics_strategy.engine.orderbook import recorder as recorder_module

    root, log = tmp_path / "books", tmp_path / "completed.log"
    server = subprocess.Popen(
        [sys.executable, "-c", RECORD_SERVER, recorder_module.__file__, str(root), str(log)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    rng = random.Random(16)
    main = pair_path(root, "kraken", "ETH/USDT")
    completed: set[int] = set()
    landed_uncounted = 0
    try:
        for k in range(KILLS):
            base = 1_000_000 * (k + 1)
            server.stdin.write(f"{base}\n")
            server.stdin.flush()
            pid = int(server.stdout.readline())
            deadline = time.monotonic() + 60
            while not (log.is_file() and f"{base}\n" in log.read_text()):
                assert time.monotonic() < deadline, "the recording child never recorded"
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.3))
            os.kill(pid, signal.SIGKILL)
            assert server.stdout.readline().strip() == "reaped"
            completed |= {int(x) for x in log.read_text().split()}
            ts, bids, asks = read_orderbooks(main)
            got = set(ts.tolist())
            assert completed <= got, f"kill {k}: lost {sorted(completed - got)[:5]}"
            landed_uncounted = len(got - completed)  # at most the append in flight per kill
            assert landed_uncounted <= k + 1
            for i in rng.sample(range(len(ts)), 5):
                expected = _book(int(ts[i]))
                np.testing.assert_array_equal(bids[i], np.array(expected[0]))
                np.testing.assert_array_equal(asks[i], np.array(expected[1]))
    finally:
        server.stdin.close()
        server.kill()
        server.wait()
    assert len(completed) > 5 * KILLS  # the children recorded and compacted between kills
    assert not list(main.parent.glob("*.corrupt"))  # no kill damaged a file


# -- 3. the exchange simulator: load, half-open connections, bad framing, bad candles ------


def _candle_dir(root: Path, rows: int = 200, mutate: Callable | None = None) -> Path:
    import pandas as pd

    root.mkdir(parents=True, exist_ok=True)
    close = 100.0 + np.cumsum(np.random.default_rng(0).normal(size=rows))
    df = pd.DataFrame(
        {
            "date": pd.date_range("2024-01-01", periods=rows, freq="5min", tz="UTC"),
            "open": close,
            "high": close + 1.0,
            "low": close - 1.0,
            "close": close,
            "volume": np.full(rows, 10.0),
        }
    )
    if mutate is not None:
        df = mutate(df)
    df.to_feather(root / "BTC_USDT-5m.feather")
    return root


def _http(port: int, raw: bytes, timeout: float = 5.0) -> bytes:
    """Send raw bytes to 127.0.0.1:port, read until the server closes; the response."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


PING = b"GET /api/v3/ping HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"


def test_hundred_simultaneous_connections_are_all_served_within_5s(tmp_path):
    """With a listen backlog of 5, 24 to 45 of 100 simultaneous connects timed out."""
    import threading

    from hyperphysics_strategy.exchange import ExchangeSimulator

    with ExchangeSimulator(_candle_dir(tmp_path / "data")) as sim:
        start = threading.Barrier(100)
        answers: list[bytes | Exception] = [b""] * 100

        def client(i: int) -> None:
            start.wait(timeout=10)
            try:
                answers[i] = _http(sim.port, PING, timeout=5.0)
            except Exception as exc:  # recorded and asserted below
                answers[i] = exc

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(100)]
        began = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=15)
        elapsed = time.monotonic() - began
    failed = [a for a in answers if not (isinstance(a, bytes) and a.startswith(b"HTTP/1.1 200"))]
    assert not failed, f"{len(failed)} of 100 not served: {failed[:3]}"
    assert elapsed < 5.0, f"100 connections took {elapsed:.1f} s"


def test_half_open_connections_hold_a_bounded_number_of_threads():
    """400 silent connections used to hold 411 threads: now at most ``max_workers`` run,
    each closed after the handler timeout, and the server then answers again."""
    import socket
    import threading

    from hyperphysics_strategy.exchange.server import BinanceHTTPServer

    server = BinanceHTTPServer(
        "127.0.0.1",
        0,
        {"/api/v3/ping": lambda params: {}},
        max_workers=8,
        handler_timeout_s=0.5,
        slot_wait_s=0.2,
    )
    base = threading.active_count()
    loop = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    loop.start()
    silent = []
    try:
        most = 0
        for _ in range(60):
            silent.append(socket.create_connection(("127.0.0.1", server.port), timeout=5))
            most = max(most, threading.active_count())
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            most = max(most, threading.active_count())
            time.sleep(0.01)
        assert most <= base + 1 + 8, f"{most - base - 1} handler threads for 60 silent clients"
        deadline = time.monotonic() + 30
        while True:  # the silent ones are timed out (or turned away), then a ping is served
            try:
                if _http(server.port, PING, timeout=2.0).startswith(b"HTTP/1.1 200"):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the server never recovered"
        for sock in silent:  # each silent client was closed, or turned away with a 503
            sock.settimeout(5)
            try:
                data = sock.recv(1024)
            except ConnectionResetError:
                data = b""
            assert data == b"" or data.startswith(b"HTTP/1.1 503"), data[:60]
    finally:
        for sock in silent:
            sock.close()
        server.shutdown()
        server.server_close()
        loop.join(timeout=5)
    assert not loop.is_alive()


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        (b"Content-Length: abc", b"not a non-negative integer"),
        (b"Content-Length: -5", b"not a non-negative integer"),
        (b"Content-Length: 99999999999", b"exceeds"),
        (b"Content-Length: 3\r\nContent-Length: 4", b"conflicting"),
        (b"Transfer-Encoding: chunked", b"chunked request bodies"),
    ],
)
def test_malformed_framing_gets_http_400_not_a_traceback(tmp_path, header, problem, caplog):
    """``Content-Length: abc`` used to close the connection with a traceback, no answer."""
    from hyperphysics_strategy.exchange import ExchangeSimulator

    with ExchangeSimulator(_candle_dir(tmp_path / "data")) as sim:
        for method in (b"POST /api/v3/order", b"GET /api/v3/ping"):
            raw = method + b" HTTP/1.1\r\nHost: x\r\n" + header + b"\r\n\r\n"
            answer = _http(sim.port, raw)
            assert answer.startswith(b"HTTP/1.1 400"), answer[:80]
            assert problem in answer and b'"code":-1000' in answer
        assert _http(sim.port, PING).startswith(b"HTTP/1.1 200")  # still serving
    assert "Traceback" not in caplog.text


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda df: df.iloc[:0], "every candle file in .* is empty: BTC_USDT-5m.feather"),
        (lambda df: df.assign(close=df.close.where(df.index != 7)), "1 of 200 candles .*NaN"),
        (lambda df: df.assign(low=df.low.where(df.index < 190, 0.0)), "10 of 200 .*price <= 0"),
        (lambda df: df.assign(volume=np.inf), "200 of 200 candles"),
    ],
    ids=["empty", "nan", "zero-price", "inf-volume"],
)
def test_empty_or_nan_candle_files_fail_at_start_up_naming_the_file(tmp_path, mutate, message):
    """An empty file used to raise IndexError; NaN candles were served as "nan" strings."""
    from hyperphysics_strategy.exchange import ExchangeSimulator

    datadir = _candle_dir(tmp_path / "data", mutate=mutate)
    with pytest.raises(ValueError, match=message) as info:
        ExchangeSimulator(datadir)
    assert "BTC_USDT-5m.feather" in str(info.value)


# -- 4. no false certainty: degenerate training input gets a named error ------------------


def _ensemble():
    from hyperphysics_strategy.ensemble import ExpertEnsemble

    return ExpertEnsemble(
        experts=("lightgbm",), expert_params={"lightgbm": {"n_estimators": 5}}, stacking_folds=0
    )


def _labels(codes):
    return np.array(["buy", "neutral", "sell"], dtype=object)[codes]


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("one-class-training", r"training labels hold one class \('neutral'\)"),
        ("one-class-validation", r"validation labels hold one class \('sell'\)"),
        ("lengths", "training set: 480 feature rows, 479 labels"),
        ("negative-weights", "training weights hold 1 negative values"),
        ("nan-weights", "validation weights hold 1 NaN/inf values"),
        ("zero-weights", "training weights are all zero"),
        ("text-features", "training features must be numeric"),
    ],
)
def test_degenerate_training_input_is_refused_by_name(case, message):
    """One class gave p = 1.0 on every row ("val log-loss 0.0000"); X and y of different
    lengths trained silently; negative weights gave p(sell) = 1. Now: named errors."""
    data = _data()
    X, y, w = data.X, _labels(data.y), data.weight.copy()
    Xv, yv, wv = data.X_val, _labels(data.y_val), data.weight_val.copy()
    if case == "one-class-training":
        y = np.full(len(y), "neutral", dtype=object)
    elif case == "one-class-validation":
        yv = np.full(len(yv), "sell", dtype=object)
    elif case == "lengths":
        y = y[:-1]
    elif case == "negative-weights":
        w[3] = -1.0
    elif case == "nan-weights":
        wv[0] = np.nan
    elif case == "zero-weights":
        w[:] = 0.0
    elif case == "text-features":
        X = X.astype(str)
    with pytest.raises(ValueError, match=message):
        _ensemble().fit(X, y, w, Xv, yv, wv)


# -- 5. FreqAI parameters: validated at start-up, strict types, unknown keys named --------


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"use_processes": "false"},
            r"use_processes: Input should be a valid boolean \(got 'false'\)",
        ),
        ({"expert_timeout": "10"}, r"expert_timeout: Input should be a valid number \(got '10'\)"),
        ({"stacking_fold": 2}, r"stacking_fold: unknown key, did you mean 'stacking_folds'\?"),
        ({"stacking_c": 0.1}, r"stacking_c: unknown key, did you mean 'stacking_C'\?"),
        ({"n_estimators": 300}, r"n_estimators: unknown key.*lightgbm\.n_estimators"),
        ({"experts": ["lightgbm", "lgbm"]}, r"unknown expert\(s\) \['lgbm'\].*'lightgbm'"),
        ({"blend_method": "simplex"}, r"blend_method: unknown key"),  # the one blend: stack
        ({"calibrate": False}, r"calibrate: unknown key"),
        ({"use_processes": 1}, r"use_processes: Input should be a valid boolean"),
    ],
)
def test_bad_freqai_parameters_fail_at_start_up_naming_the_key(params, message):
    """``use_processes: "false"`` read as true, ``expert_timeout: "10"`` failed every
    expert, misspelled keys were ignored. Now the model's constructor refuses them before
    FreqAI sets anything up, naming the key (and the closest valid one)."""
    from hyperphysics_strategy.freqai import HyperPhysicsEnsemble, HyperPhysicsMLPClassifier

    for model in (HyperPhysicsEnsemble, HyperPhysicsMLPClassifier):
        with pytest.raises(ValueError, match=message) as info:
            model({"freqai": {"model_training_parameters": params}})
        assert "freqai.model_training_parameters." in str(info.value)


def test_a_misspelled_torch_parameter_fails_at_start_up_naming_it():
    """An expert's own section goes to its library, but a torch expert knows its keys: a
    misspelled one used to train silently with the default."""
    from hyperphysics_strategy.freqai import HyperPhysicsMLPClassifier

    config = {"freqai": {"model_training_parameters": {"mlp": {"max_epoch": 3}}}}
    with pytest.raises(ValueError, match=r"expert 'mlp': unknown parameter 'max_epoch'"):
        HyperPhysicsMLPClassifier(config)


def test_freqai_parameter_defaults_are_unchanged_and_reach_the_ensemble():
    """An empty section gives the ensemble's own defaults, and a valid
    ``stacking_folds: 0`` really reaches the trained ensemble."""
    import inspect

    import pandas as pd

    from hyperphysics_strategy.ensemble import ExpertEnsemble
    from hyperphysics_strategy.freqai import HyperPhysicsEnsemble
    from hyperphysics_strategy.freqai.parameters import load_training_parameters

    defaults = load_training_parameters({})
    signature = inspect.signature(ExpertEnsemble).parameters
    keys = ["experts", "seed", "max_train_rows", "drift_rows", "use_processes"]
    keys += ["expert_timeout", "stacking_folds", "stacking_C"]
    for key in keys:
        assert getattr(defaults, key) == signature[key].default, key
    assert load_training_parameters(None) == defaults

    data = _data()
    columns = [f"%f{i}" for i in range(data.X.shape[1])]
    params = {"stacking_folds": 0, "use_processes": False, "lightgbm": {"n_estimators": 5}}
    model = SimpleNamespace(
        params=load_training_parameters(params),
        expert_names=lambda: ("lightgbm",),
        class_names=["buy", "neutral", "sell"],
        _label_period=lambda: 0,
    )
    dictionary = {
        "train_features": pd.DataFrame(data.X, columns=columns),
        "train_labels": pd.DataFrame({"&s": _labels(data.y)}),
        "train_weights": data.weight,
        "test_features": pd.DataFrame(data.X_val, columns=columns),
        "test_labels": pd.DataFrame({"&s": _labels(data.y_val)}),
        "test_weights": data.weight_val,
    }
    ensemble = HyperPhysicsEnsemble.fit(model, dictionary, SimpleNamespace(pair="BTC", data={}))
    assert ensemble.stacking_folds == 0
    assert ensemble.report_.to_dict()["calibration"]["stacking_blocks"] == 1
    assert ensemble.experts_[0].params == {"n_estimators": 5}
    assert np.isfinite(ensemble.predict_proba(data.X_val)).all()


# -- 6. experts that fail: out of memory, a missing library, a crash ---------------------


def _cpu_and_cuda(experts):
    """Placement provider of a machine with one (fake) CUDA device for the torch experts."""
    placements = [
        Placement("torch", Device("cuda", 0)) if e.library == "torch" else Placement(e.library)
        for e in experts
    ]
    return placements, 2


def test_gpu_out_of_memory_retries_the_expert_once_on_the_cpu(cuda_out_of_memory, caplog):
    """A torch expert that raises ``torch.cuda.OutOfMemoryError`` on its GPU is trained
    again on the CPU; the ensemble keeps it and reports where it trained."""
    from hyperphysics_strategy.ensemble import ExpertEnsemble

    devices = cuda_out_of_memory
    data = _data()
    ensemble = ExpertEnsemble(
        experts=("lightgbm", "mlp"),
        expert_params={"lightgbm": {"n_estimators": 5}, "mlp": FAST["mlp"]},
        placement_provider=_cpu_and_cuda,
        use_processes=False,  # the patch lives in this process
        stacking_folds=0,
    )
    with caplog.at_level("WARNING"):
        ensemble.fit(data.X, _labels(data.y), data.weight, data.X_val, _labels(data.y_val))
    assert devices == ["cuda:0", "cpu"]
    assert "ran out of memory on cuda:0" in caplog.text
    report = {e.name: e for e in ensemble.report_.experts}
    assert report["mlp"].error is None and report["mlp"].device == "cpu"
    assert [e.name for e in ensemble.experts_] == ["lightgbm", "mlp"]
    assert np.isfinite(ensemble.predict_proba(data.X_val)).all()


def test_missing_gpu_library_is_named_with_the_pip_command(monkeypatch):
    """An expert whose library does not import fails by name (with ``pip install``), at
    the FreqAI model's start-up; the experts that do not need it still load."""
    import sys

    from hyperphysics_strategy.ensemble import EXPERT_REGISTRY, make_expert
    from hyperphysics_strategy.freqai import HyperPhysicsCatBoostClassifier, HyperPhysicsEnsemble

    monkeypatch.setitem(sys.modules, "catboost", None)  # import catboost -> ImportError
    monkeypatch.delitem(
        sys.modules, "hyperphysics_strategy.ensemble.experts.catboost_expert", raising=False
    )
    named = r"expert 'catboost' cannot be loaded.*pip install catboost"
    with pytest.raises(ImportError, match=named):
        EXPERT_REGISTRY["catboost"]
    config = {"freqai": {"model_training_parameters": {"experts": ["lightgbm", "catboost"]}}}
    with pytest.raises(ImportError, match="pip install catboost"):
        HyperPhysicsEnsemble(config)
    with pytest.raises(ImportError, match="pip install catboost"):
        HyperPhysicsCatBoostClassifier({"freqai": {}})
    assert make_expert("lightgbm").name == "lightgbm"


def test_an_expert_that_crashes_is_dropped_and_the_rest_still_blend(monkeypatch):
    """One expert raising inside its library is logged and dropped; the ensemble trains
    with the others and says which expert was dropped and why."""
    from hyperphysics_strategy.ensemble import ExpertEnsemble
    from hyperphysics_strategy.ensemble.experts.xgboost_expert import XGBoostExpert

    def crash(self, data, placement):
        raise RuntimeError("segfault-free stand-in for a library crash")

    monkeypatch.setattr(XGBoostExpert, "fit", crash)
    data = _data()
    ensemble = ExpertEnsemble(
        experts=("lightgbm", "xgboost"),
        expert_params={"lightgbm": {"n_estimators": 5}},
        use_processes=False,
        stacking_folds=0,
    )
    ensemble.fit(data.X, _labels(data.y), data.weight, data.X_val, _labels(data.y_val))
    report = {e.name: e for e in ensemble.report_.experts}
    assert report["xgboost"].error == "RuntimeError: segfault-free stand-in for a library crash"
    assert any("xgboost" in line and "dropped" in line for line in ensemble.report_.lines())
    assert [e.name for e in ensemble.experts_] == ["lightgbm"]
    p = ensemble.predict_proba(data.X_val)
    assert np.isfinite(p).all() and np.allclose(p.sum(axis=1), 1.0)


# -- 7. torch weights: never unpickled, GPU-saved files load on a CPU-only process --------


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


# -- 8. the simulator binds to loopback only ---------------------------------------------


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "example.com"])
def test_simulator_refuses_to_bind_beyond_loopback(tmp_path, host):
    """The simulator serves a fake exchange without authentication: any host that is not
    a loopback address is refused by name before any candle is read or a port opened."""
    from hyperphysics_strategy.exchange import ExchangeSimulator

    with pytest.raises(ValueError, match="loopback") as info:
        ExchangeSimulator(tmp_path / "never-read", host=host)
    assert host in str(info.value)


# -- 9. bad config keys and CLI arguments ----------------------------------------------


@pytest.mark.parametrize(
    ("section", "named"),
    [
        ({"var_budjet": 0.02}, "hyperphysics.var_budjet: Extra inputs are not permitted"),
        ({"orderbook_levels": "twenty"}, "hyperphysics.orderbook_levels"),
        ({"stop_floor": 0.2, "stop_cap": 0.1}, "stop_floor 0.2 exceeds stop_cap 0.1"),
    ],
)
def test_bad_hyperphysics_config_keys_are_named(section, named):
    """The strategy's own section refuses unknown keys and bad values, naming them (the
    strategy reads it at start-up; ``hyperphysics doctor`` suggests the closest key)."""
    from hyperphysics_strategy.strategy.settings import load_settings

    with pytest.raises(ValueError, match="invalid hyperphysics config") as info:
        load_settings({"hyperphysics": section})
    assert named in str(info.value)


def _cli(*args: str):
    from typer.testing import CliRunner

    from hyperphysics_strategy.cli import app

    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["train", "--rows", "abc"], "Invalid value for '--rows'"),
        (["train", "--holdout", "0.95"], "Invalid value for '--holdout'"),
        (["train", "--no-such-option"], "No such option: --no-such-option"),
        (["exchange", "--host", "0.0.0.0"], "refusing to bind the exchange simulator"),
        (["train", "--pair", "BTCUSDT"], "pair must look like BTC/USDT"),
    ],
)
def test_bad_cli_arguments_exit_2_with_a_message(args, named):
    result = _cli(*args)
    assert result.exit_code == 2, result.output
    assert named in " ".join(result.output.split()), result.output
    assert "Traceback" not in result.output


def test_train_save_onto_an_unwritable_path_fails_before_training(tmp_path, monkeypatch):
    """``--save`` onto a path that cannot be written used to fail after training (the
    model was lost); now it is exit 2 naming the path, before anything trains, and the
    file in the way is untouched."""
    from hyperphysics_strategy.cli import train_cmd
    from hyperphysics_strategy.demo import demo_data_dir

    def never(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(train_cmd, "_train", never)
    blocker = tmp_path / "a-file"
    blocker.write_text("keep me")
    common = ["train", "--datadir", str(demo_data_dir()), "--rows", "200"]
    for save, problem in [
        (blocker / "models", "cannot write there"),
        (blocker, "exists and is not a folder"),
    ]:
        result = _cli(*common, "--save", str(save))
        assert result.exit_code == 2, result.output
        line = " ".join(result.output.split())
        assert f"--save {save}" in line and problem in line, line
    assert blocker.read_text() == "keep me"


# -- 10. too little history, constant features, duplicated timestamps, zero volume -------


def test_too_little_history_is_a_named_error():
    data = _data()
    with pytest.raises(ValueError, match="12 rows are too few for a 15% validation split"):
        _ensemble().fit(data.X[:12], _labels(data.y[:12]))


def test_constant_features_train_without_false_certainty():
    """A constant column is ignored by every expert (no division by its zero spread);
    when every column is constant, the ensemble predicts one prior for all rows."""
    from hyperphysics_strategy.ensemble import ExpertEnsemble

    data = _data()
    X, Xv = data.X.copy(), data.X_val.copy()
    X[:, 3], Xv[:, 3] = 7.0, 7.0
    params = {"lightgbm": {"n_estimators": 5}, "mlp": FAST["mlp"]}
    ensemble = ExpertEnsemble(
        experts=("lightgbm", "mlp"), expert_params=params, use_processes=False, stacking_folds=0
    )
    ensemble.fit(X, _labels(data.y), None, Xv, _labels(data.y_val))
    assert all(e.error is None for e in ensemble.report_.experts)
    p = ensemble.predict_proba(Xv)
    assert np.isfinite(p).all() and ensemble.report_.val_balanced_accuracy > 0.6

    flat = np.ones_like(X)
    p = _ensemble().fit(flat, _labels(data.y)).predict_proba(np.ones_like(Xv))
    assert np.isfinite(p).all() and np.allclose(p, p[0]) and p.max() < 0.9


def _candles_file(folder: Path, edit: Callable) -> Path:
    import pandas as pd

    from hyperphysics_strategy.demo import demo_data_dir

    candles = pd.read_feather(demo_data_dir() / "ETH_USDT-1h.feather")
    folder.mkdir(exist_ok=True)
    path = folder / "ETH_USDT-1h.feather"
    edit(candles).reset_index(drop=True).to_feather(path)
    return path


def test_duplicated_timestamps_are_dropped_before_the_features(tmp_path):
    """30 repeated candles in the file: ``hyperphysics train``'s loader (freqtrade's)
    drops them, and the features and labels are exactly those of the clean file."""
    import pandas as pd

    from hyperphysics_strategy.cli.train_data import load_training_set

    def repeat(c):
        return pd.concat([c, c.iloc[100:130]]).sort_values("date", kind="stable")

    X, y, _ = load_training_set(_candles_file(tmp_path / "clean", lambda c: c), None, 12)
    X2, y2, dates2 = load_training_set(_candles_file(tmp_path / "dup", repeat), None, 12)
    assert dates2.is_unique and len(X2) == len(X)
    pd.testing.assert_frame_equal(X2.reset_index(drop=True), X.reset_index(drop=True))
    assert (y2.to_numpy() == y.to_numpy()).all()


def test_zero_volume_candles_cost_at_most_the_rows_they_touch(tmp_path):
    """20 zero-volume candles (freqtrade also fills missing candles with volume 0): the
    features stay finite, and the only rows lost are candles with zero volume."""
    import pandas as pd

    from hyperphysics_strategy.cli.train_data import load_training_set

    zeroed = range(500, 520)

    def zero_volume(c):
        return c.assign(volume=c["volume"].where(~c.index.isin(zeroed), 0.0))

    clean = _candles_file(tmp_path / "clean", lambda c: c)
    zero = _candles_file(tmp_path / "zero", zero_volume)
    X, _, dates = load_training_set(clean, None, 12)
    X0, _, dates0 = load_training_set(zero, None, 12)
    assert np.isfinite(X0.to_numpy()).all()
    zero_dates = set(pd.read_feather(zero)["date"].iloc[list(zeroed)])
    lost = set(dates) - set(dates0)
    assert set(dates0) <= set(dates) and lost <= zero_dates, sorted(lost - zero_dates)[:3]


# -- the strategy's per-candle hot path (outside FreqAI) -------------------------------------


def _live_strategy(tmp_path: Path, orderbook: Callable):
    """The strategy as a dry run sees it: a fake ``dp`` whose ``orderbook`` is given and a
    fake FreqAI that returns fixed predictions (what FreqAI does is not under test)."""
    import pandas as pd

    from hyperphysics_strategy.strategy.hyperphysics_strategy import HyperPhysicsStrategy

    strat = HyperPhysicsStrategy(
        {
            "user_data_dir": tmp_path,
            "stake_currency": "USDT",
            "exchange": {"name": "binance"},
            "freqai": {"enabled": True, "feature_parameters": {"label_period_candles": 12}},
        }
    )
    strat.dp = SimpleNamespace(runmode=SimpleNamespace(value="dry_run"), orderbook=orderbook)

    def start(df, metadata, strategy):
        return df.assign(sell=0.1, neutral=0.2, buy=0.7, do_predict=1)

    strat.freqai = SimpleNamespace(start=start)
    strat.freqai_info = strat.config["freqai"]  # set by freqtrade's ft_bot_start
    n = 400
    rng = np.random.default_rng(3)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.003, n)))
    candles = pd.DataFrame(
        {"date": pd.date_range("2021-04-01", periods=n, freq="5min", tz="UTC"),
         "open": close, "high": close * 1.002, "low": close * 0.998, "close": close,
         "volume": np.full(n, 10.0)}
    )  # fmt: skip
    return strat, candles


def test_exchange_error_from_the_order_book_still_gives_the_candle_signals(tmp_path, caplog):
    """``dp.orderbook`` raising an exchange error used to raise before FreqAI ran, so the
    pair's candle was skipped: now a warning, and the candle's predictions and signals come."""
    from freqtrade.exceptions import TemporaryError

    def orderbook(pair, levels):
        raise TemporaryError("binance GET /api/v3/depth 503 Service Unavailable")

    strat, candles = _live_strategy(tmp_path, orderbook)
    with caplog.at_level("WARNING"):
        df = strat.populate_indicators(candles, {"pair": "BTC/USDT"})
    assert "recording the order book failed" in caplog.text and "503" in caplog.text
    assert (df["buy"] == 0.7).all() and np.isfinite(df["hp_sigma"].iloc[-1])
    assert np.isfinite(df["hp_var_99_1d"].iloc[-1]) and "hp_ob_source" in df
    df = strat.populate_entry_trend(df, {"pair": "BTC/USDT"})
    assert "enter_long" in df and df["enter_long"].iloc[-1] in (0, 1)


def test_every_per_candle_step_outside_freqai_is_guarded(tmp_path, caplog, monkeypatch):
    """A failure in the risk columns, the order-book columns or the log line costs only
    that step: a warning names it, and the predictions and the other columns still come."""
    from hyperphysics_strategy.strategy import hyperphysics_strategy as hs

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    strat, candles = _live_strategy(tmp_path, lambda pair, levels: {"bids": [], "asks": []})
    monkeypatch.setattr(hs.risk_features, "add_risk_management_columns", broken)
    monkeypatch.setattr(strat.orderbooks, "add", broken)
    monkeypatch.setattr(hs, "_log_prediction", broken)
    with caplog.at_level("WARNING"):
        df = strat.populate_indicators(candles, {"pair": "BTC/USDT"})
    for step in ("the risk columns", "the order-book columns", "logging the prediction"):
        assert f"{step} failed" in caplog.text
    assert (df["buy"] == 0.7).all() and np.isfinite(df["hp_sigma"].iloc[-1])
    assert "enter_long" in strat.populate_entry_trend(df, {"pair": "BTC/USDT"})


def test_ccxt_three_element_levels_are_recorded(tmp_path):
    """ccxt's ``[price, qty, count]`` levels (some exchanges add the order count) were
    rejected; the first two fields are recorded, exactly as the two-element book."""
    from hyperphysics_strategy.engine.orderbook import pair_path, read_orderbooks

    bids, asks = _book(0, levels=5)
    three = {"bids": [[*lv, 3] for lv in bids], "asks": [[*lv, 7] for lv in asks]}
    strat, candles = _live_strategy(tmp_path, lambda pair, levels: three)
    strat.populate_indicators(candles, {"pair": "BTC/USDT"})
    strat.orderbooks.record("ETH/USDT", {"bids": bids, "asks": asks, "timestamp": 5}, 0)
    root = tmp_path / "orderbooks"
    _, b3, a3 = read_orderbooks(pair_path(root, "binance", "BTC/USDT"))
    _, b2, a2 = read_orderbooks(pair_path(root, "binance", "ETH/USDT"))
    assert len(b3) == 1 and np.array_equal(b3, b2, equal_nan=True)
    assert np.array_equal(a3, a2, equal_nan=True)


@pytest.mark.parametrize("bad", [np.nan, 0.0, -5.0, np.inf])
def test_a_bad_close_costs_the_risk_columns_only_its_own_row(bad):
    """One NaN, zero, negative or infinite close made ``add_risk_columns`` raise ("spot must
    be > 0"). Now it counts as missing from the returns: only its row loses values (floors
    and Greeks); every other value that was finite stays finite and close to the clean one."""
    import pandas as pd

    from hyperphysics_strategy.engine.risk import GPURiskEngine
    from hyperphysics_strategy.strategy.risk_features import add_risk_columns

    rng = np.random.default_rng(0)
    clean = pd.DataFrame({"close": 100 * np.exp(np.cumsum(rng.normal(0, 0.003, 600)))})
    dirty = clean.copy()
    dirty.loc[400, "close"] = bad
    want = add_risk_columns(clean, GPURiskEngine(seed=0), 300, window=288)
    got = add_risk_columns(dirty, GPURiskEngine(seed=0), 300, window=288)
    cols = [c for c in want.columns if c != "close"]
    lost = np.isfinite(want[cols].to_numpy()) & ~np.isfinite(got[cols].to_numpy())
    assert set(np.nonzero(lost)[0]) == {400}
    assert got.loc[400, ["hp_var_95_floor", "hp_var_99_floor", "%-atm_gamma"]].isna().all()
    others = got.drop(index=400)[cols].to_numpy()
    ok = np.isfinite(others)
    assert np.allclose(others[ok], want.drop(index=400)[cols].to_numpy()[ok], rtol=0.05)


def _set(column: str, rows, value: float) -> Callable:
    def edit(c):
        c = c.copy()
        c.loc[list(rows), column] = value
        return c

    return edit


@pytest.mark.parametrize(
    "edit, rows",
    [
        (_set("close", [600], np.nan), [600]),
        (_set("close", [600], 0.0), [600]),
        (_set("close", [600], -1.0), [600]),
        (_set("high", [600, 601, 602], np.inf), [600, 601, 602]),
        (_set("volume", [700], np.nan), [700]),
        (_set("open", [400], 0.0), [400]),
    ],
    ids=["nan-close", "zero-close", "negative-close", "inf-highs", "nan-volume", "zero-open"],
)
def test_bad_prices_cost_the_training_set_only_their_own_rows(edit, rows):
    """One NaN close in ``build_training_set`` dropped 1,247 of 1,396 rows (TA-Lib carries
    the NaN forward; the volatility of the labels now raised). A bad candle is now a flat
    candle at the last valid close for the indicators and labels of the others, and only
    its own row is dropped; the other rows' labels barely move."""
    import pandas as pd

    from hyperphysics_strategy.demo import demo_data_dir
    from hyperphysics_strategy.strategy.features import build_training_set

    candles = pd.read_feather(demo_data_dir() / "ETH_USDT-1h.feather")
    X, y = build_training_set(candles)
    X2, y2 = build_training_set(edit(candles))
    assert np.isfinite(X2.to_numpy()).all()
    assert sorted(set(X.index) - set(X2.index)) == rows and set(X2.index) <= set(X.index)
    assert (y2 == y.loc[X2.index]).mean() > 0.99


@pytest.mark.parametrize("bad", [np.nan, 0.0, -1.0])
def test_a_bad_close_costs_the_strategys_freqai_features_only_its_own_row(tmp_path, bad):
    """The strategy's FreqAI feature hooks (indicators, candle shape, calendar, order-book
    and risk columns) on a live-sized frame with one bad close: every feature that is
    finite on the clean frame stays finite, except on the bad candle's own row."""
    strat, candles = _live_strategy(tmp_path, lambda pair, levels: {})
    meta = {"pair": "BTC/USDT"}

    def features(df):
        df = strat.feature_engineering_expand_all(df, 10, meta)
        df = strat.feature_engineering_expand_basic(df, meta)
        return strat.feature_engineering_standard(df, meta)

    clean = features(candles.copy())
    dirty = candles.copy()
    dirty.loc[350, "close"] = bad
    got = features(dirty)
    cols = [c for c in clean.columns if c.startswith("%")]
    assert len(cols) > 30 and list(got.columns) == list(clean.columns)
    lost = np.isfinite(clean[cols].to_numpy()) & ~np.isfinite(got[cols].to_numpy())
    assert set(np.nonzero(lost)[0]) == {350}
