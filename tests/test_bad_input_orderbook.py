"""Bad input a running bot meets: the order-book history (issue 16; docs/reliability.md).

Damaged files, level-count changes and hostile names get a named error or a correct
degraded result; a recording child SIGKILLed at random moments loses no completed snapshot.
"""

from __future__ import annotations

import os
import random
import signal
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.bad_input import KILLS, book

# -- order-book history: damaged files, level changes, hostile names, kills -------------


def test_unreadable_history_is_quarantined_never_compacted_over(tmp_path, caplog):
    """A damaged main parquet used to be skipped, then overwritten by compaction (50
    snapshots became 3): now it is renamed to .corrupt with a warning, bytes intact."""
    from hyperphysics_strategy.engine.orderbook import OrderBookRecorder, pair_path
    from hyperphysics_strategy.engine.orderbook import read_orderbooks as read

    rec = OrderBookRecorder(tmp_path, "binance", levels=5, compact_every=10)
    for t in range(50):
        rec.record("BTC/USDT", t, *book(t, 5))
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
            rec.record("BTC/USDT", t, *book(t, 5))
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
        wide.record("ETH/USDT", t, *book(t, 20))
    narrow = OrderBookRecorder(tmp_path, "binance", levels=10, compact_every=3)
    for t in range(8, 14):
        narrow.record("ETH/USDT", t, *book(t, 20))
    main = pair_path(tmp_path, "binance", "ETH/USDT")
    for _ in range(2):  # before and after the final compaction
        ts, bids, asks = read(main)
        assert ts.tolist() == list(range(14))
        assert bids.shape == asks.shape == (14, 20, 2)  # never trimmed: no level lost
        np.testing.assert_array_equal(bids[3], np.array(book(3, 20)[0]))
        np.testing.assert_array_equal(bids[9, :10], np.array(book(9, 10)[0]))
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
    path = OrderBookRecorder(root, exchange, levels=2).record(pair, 1, *book(1, 2))
    assert path.resolve().is_relative_to(root.resolve())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["user_data"]
    assert read_orderbooks(OrderBookRecorder(root, exchange).path(pair))[0].tolist() == [1]
    with pytest.raises(ValueError, match="exchange '..' has no letter or digit"):
        OrderBookRecorder(root, "..")


LOAD_RECORDER = """
import importlib.util, os, sys
# the recorder and its name mapping alone, under their own names so that their relative
# imports resolve, without the orderbook package (which imports torch): a fast start
def load(module, path):
    name = "hyperphysics_strategy.engine.orderbook." + module
    spec = importlib.util.spec_from_file_location(name, path)
    sys.modules[name] = mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
load("names", os.path.join(os.path.dirname(sys.argv[1]), "names.py"))
recorder = load("recorder", sys.argv[1])
import filelock, polars  # imported once here, first used in each forked child
"""

RECORD_SERVER = (
    LOAD_RECORDER
    + """
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
)


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
            # six records (one compaction) before the kill's random delay, however slow
            # the machine: the kills then always land among appends and compactions
            deadline = time.monotonic() + 60
            while not (log.is_file() and f"{base + 5}\n" in log.read_text()):
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
                expected = book(int(ts[i]))
                np.testing.assert_array_equal(bids[i], np.array(expected[0]))
                np.testing.assert_array_equal(asks[i], np.array(expected[1]))
    finally:
        server.stdin.close()
        server.kill()
        server.wait()
    assert len(completed) > 5 * KILLS  # the children recorded and compacted between kills
    assert not list(main.parent.glob("*.corrupt"))  # no kill damaged a file


WRITER = (
    LOAD_RECORDER
    + """
root, base, count = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rec = recorder.OrderBookRecorder(root, "binance", levels=2, compact_every=10)
print("ready", flush=True)
sys.stdin.readline()  # both writers start together
for ts in range(base, base + count):
    rec.record("BTC/USDT", ts, [[100.0 - ts % 97, 1.0], [99.0, 2.0]], [[101.0, ts % 89]])
rec.compact()
"""
)


def test_two_processes_recording_one_pair_lose_nothing(tmp_path):
    """A dry-run and a live bot sharing a user dir: 189 and 35 of 600 snapshots survived
    (one `.parquet.tmp` name for every compaction, no lock), the main file was quarantined.
    Now compaction holds a per-pair file lock and every temporary name is unique; a reader
    meanwhile reads again when a part is compacted away under it."""
    import subprocess
    import sys

    from hyperphysics_strategy.engine.orderbook import pair_path, read_orderbooks
    from hyperphysics_strategy.engine.orderbook import recorder as recorder_module

    root, count = tmp_path / "books", 300
    main = pair_path(root, "binance", "BTC/USDT")
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, recorder_module.__file__, str(root), str(base), "300"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for base in (0, 1_000_000)
    ]
    try:
        assert [w.stdout.readline() for w in writers] == ["ready\n"] * 2
        for w in writers:
            w.stdin.write("go\n")
            w.stdin.flush()
        seen: set[int] = set()
        deadline = time.monotonic() + 120
        while any(w.poll() is None for w in writers):  # a reader meanwhile never sees
            now = set(read_orderbooks(main)[0].tolist())  # a snapshot vanish
            assert seen <= now, f"{len(seen - now)} snapshots vanished from a read"
            seen = now
            assert time.monotonic() < deadline, "the writers never finished"
            time.sleep(0.1)
        codes = [w.wait(timeout=10) for w in writers]
    finally:
        for w in writers:
            w.kill()
            w.wait()
    ts, bids, asks = read_orderbooks(main)
    expected = [*range(count), *range(1_000_000, 1_000_000 + count)]
    assert len(ts) == 2 * count and ts.tolist() == expected, f"lost {2 * count - len(ts)}"
    assert codes == [0, 0]
    np.testing.assert_array_equal(bids[:, 0, 0], 100.0 - ts % 97)
    np.testing.assert_array_equal(asks[:, 0, 1], ts % 89)
    leftovers = [p.name for p in main.parent.iterdir() if p.suffix in (".corrupt", ".tmp")]
    assert leftovers == [] and not any(main.with_name(main.name + ".parts").iterdir())


def test_different_pairs_never_share_a_history_file_and_old_files_still_read(tmp_path):
    """Every character outside [A-Za-z0-9_-] used to become `_`: `BTC/USDT:USDT` and
    `BTC_USDT/USDT` shared one file, and so did two Chinese pair names of one length. Now
    `/` is written `_` and every other character `%XX`; files of the old names still read."""
    import shutil

    from hyperphysics_strategy.engine.orderbook import OrderBookRecorder, read_orderbooks
    from hyperphysics_strategy.engine.orderbook.names import safe_name, unsafe_name

    root = tmp_path / "books"
    rec = OrderBookRecorder(root, "binance", levels=2, compact_every=2)
    pairs = ["BTC/USDT:USDT", "BTC_USDT/USDT", "币安/USDT", "比特/USDT", "BTC/USDT"]
    for i, pair in enumerate(pairs):
        for t in range(3):
            rec.record(pair, 10 * i + t, *book(t, 2))
    paths = [rec.path(pair) for pair in pairs]
    for i, path in enumerate(paths):
        assert read_orderbooks(path)[0].tolist() == [10 * i, 10 * i + 1, 10 * i + 2]
        assert unsafe_name(path.stem) == pairs[i] and path.parent == root / "binance"
    assert [p.name for p in paths] == [
        "BTC_USDT%3AUSDT.parquet",
        "BTC%5FUSDT_USDT.parquet",
        "%E5%B8%81%E5%AE%89_USDT.parquet",
        "%E6%AF%94%E7%89%B9_USDT.parquet",
        "BTC_USDT.parquet",  # names of letters, digits, - and / keep their old file
    ]
    assert safe_name("..\\x:y/../z") == "%2E%2E%5Cx%3Ay_%2E%2E_z"
    with pytest.raises(ValueError, match="too long for a file name"):
        rec.record("币" * 30 + "/USDT", 1, *book(1, 2))

    # a history an older version wrote for ETH/USDT:USDT (a main file and a part)
    old = OrderBookRecorder(tmp_path / "old", "binance", levels=2, compact_every=3)
    for t in range(4):
        old.record("ETH/USDT/USDT", t, *book(t, 2))  # today's name for it: ETH_USDT_USDT
    shutil.copytree(tmp_path / "old" / "binance", root / "binance", dirs_exist_ok=True)
    legacy = root / "binance" / "ETH_USDT_USDT.parquet"
    assert legacy.is_file() and any(legacy.with_name(legacy.name + ".parts").iterdir())
    legacy_bytes = legacy.read_bytes()
    new = rec.path("ETH/USDT:USDT")
    assert read_orderbooks(new)[0].tolist() == [0, 1, 2, 3]
    for t in range(4, 7):
        rec.record("ETH/USDT:USDT", t, *book(t, 2))
    rec.compact()
    ts, bids, _ = read_orderbooks(new)
    assert ts.tolist() == list(range(7)) and new.is_file()
    assert legacy.read_bytes() == legacy_bytes  # read, never written
    np.testing.assert_array_equal(bids[5], np.array(book(5, 2)[0]))


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1, max_size=24))
def test_pair_file_names_decode_back_to_the_pair(pair):
    """One file name per pair and back (so no two pairs share one), never a path."""
    from hyperphysics_strategy.engine.orderbook.names import safe_name, unsafe_name

    try:
        name = safe_name(pair, "pair")
    except ValueError:
        assert not any(c.isascii() and c.isalnum() for c in pair)
        return
    assert unsafe_name(name) == pair
    assert "/" not in name and "\\" not in name and "." not in name and "\0" not in name
