"""A freqtrade user's first hour, offline, on one user_data: the README's block as written
(init, the simulator over the bundled candles, download-data, a backtest, the simulator in
fast live replay, a real `freqtrade trade --dry-run` stopped with Ctrl-C), then a backtest
of the dry run's window and a hyperopt over the first backtest's range.

The dry run: FreqAI trains the two pairs in rounds (several pairs at once, each round
logging every model's age), predictions reach the strategy, a retrain after a new candle
succeeds (freqtrade's live-retraining date bug would make every such retrain fail), without
a champion from ``hyperphysics search`` the edge gate keeps it flat and says so per pair, SIGINT
stops the bot cleanly, and the user's candle files are not written to (FreqAI's start-up
download lands in ``data/binance-simulator``). The L2 books recorded while it ran are what
the window's backtest then uses. The hyperopt finds every window's cached predictions of the
first backtest: the dry run kept its models in a folder of its own, and its purge left the
backtest's model folders alone. The README's commands run unchanged; freqtrade's
``FREQTRADE__`` environment variables shrink the training for the test.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from hyperphysics_strategy.engine.orderbook import pair_path, read_orderbooks
from hyperphysics_strategy.runner import write_simulator_config
from tests.freqtrade_e2e import model_files, unwrapped_env, write_json

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[1] / "README.md"
PAIRS = ["ADA/USDT", "BTC/USDT"]  # the dry run's (the test's whitelist)
BACKTEST_RANGE, BACKTEST_PAIR = "20210226-20210305", "ADA/USDT"  # the README's backtest
EPOCHS = 6
# plumbing, not model quality: one day of training (the backtest: one 7-day window), one
# stacking fold and small forests keep each training short on two cores
SMALL = {
    "FREQTRADE__EXCHANGE__PAIR_WHITELIST": json.dumps(PAIRS),
    "FREQTRADE__FREQAI__TRAIN_PERIOD_DAYS": "1",
    "FREQTRADE__FREQAI__LIVE_RETRAIN_HOURS": "0",
    "FREQTRADE__FREQAI__EXPIRATION_HOURS": "0",
    "FREQTRADE__FREQAI__FEATURE_PARAMETERS__INDICATOR_PERIODS_CANDLES": "[10]",
    "FREQTRADE__FREQAI__FEATURE_PARAMETERS__LABEL_PERIOD_CANDLES": "6",
    "FREQTRADE__FREQAI__MODEL_TRAINING_PARAMETERS__STACKING_FOLDS": "1",
    "FREQTRADE__FREQAI__MODEL_TRAINING_PARAMETERS__LIGHTGBM__N_ESTIMATORS": "20",
    "FREQTRADE__FREQAI__MODEL_TRAINING_PARAMETERS__XGBOOST__N_ESTIMATORS": "20",
}
TRAINED = re.compile(r"HyperPhysics (\S+): model trained on candles through (.+)$")
PREDICTED = re.compile(
    r"HyperPhysics (\S+) \S+ \S+: p\(sell\)=(\S+)\s+p\(neutral\)=\S+\s+p\(buy\)=\S+ do_predict=1"
)
RECORDED = re.compile(r"HyperPhysics (\S+) order books per candle: \{.*'recorded': (\d+)")
ROUND = re.compile(r"HyperPhysics round (\d+): trained (.+) together in (\S+) s")
AGES = re.compile(r"HyperPhysics round (\d+): model ages: (.+)$")
STARTING = re.compile(r"-+ Starting training (\S+) -+")
DONE = re.compile(r"-+ Done training (\S+) ")
DEADLINE_S = 900  # the whole block, up to the dry run's retrain


def readme_block(heading: str = "## Add it to your own freqtrade setup") -> str:
    """The first ```bash block of the README section under ``heading``."""
    text = README.read_text()
    section = text[text.index(heading) :]
    match = re.search(r"```bash\n(.*?)```", section, re.S)
    assert match, f"no bash block under {heading!r}"
    return match.group(1)


def rounds_together(log: str) -> list[tuple[list[str], list[str]]]:
    """(pairs trained together, pairs with a model age) of each round that trained
    several pairs."""
    trained: dict[str, list[str]] = {}
    aged: dict[str, list[str]] = {}
    for line in log.splitlines():
        if m := ROUND.search(line):
            trained[m.group(1)] = m.group(2).split("; ")[0].split(", ")
        elif m := AGES.search(line):
            aged[m.group(1)] = [a.rsplit(" ", 2)[0] for a in m.group(2).split(", ")]
    return [(t, aged.get(n, [])) for n, t in trained.items() if len(t) >= 2]


def most_training_at_once(log: str) -> int:
    """The most pairs between FreqAI's 'Starting training' and 'Done training' at once."""
    running: set[str] = set()
    most = 0
    for line in log.splitlines():
        if m := STARTING.search(line):
            running.add(m.group(1))
            most = max(most, len(running))
        elif m := DONE.search(line):
            running.discard(m.group(1))
    return most


def trained_through(log: str) -> dict[str, list[pd.Timestamp]]:
    out: dict[str, list[pd.Timestamp]] = {}
    for line in log.splitlines():
        m = TRAINED.search(line)
        if m:
            out.setdefault(m.group(1), []).append(pd.Timestamp(m.group(2)))
    return out


def retrained_after_new_candle(log: str) -> bool:
    """Some pair was trained again on data reaching past its first model's last candle."""
    return any(len(ts) >= 2 and max(ts) > ts[0] for ts in trained_through(log).values())


def hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.glob("*.feather")}


def dry_run_process(shell: subprocess.Popen) -> psutil.Process | None:
    """The README block's `freqtrade trade`, once it runs."""
    try:
        children = psutil.Process(shell.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return None
    for child in children:
        try:
            if "trade" in child.cmdline() and any("freqtrade" in a for a in child.cmdline()):
                return child
        except psutil.NoSuchProcess:
            continue
    return None


def port_is_free(port: int = 8765) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_readme_block_backtest_dry_run_backtest_hyperopt(tmp_path):
    assert port_is_free(), "port 8765, the README's simulator port, is taken by another process"
    env = {**unwrapped_env(), **SMALL, "PYTHONUNBUFFERED": "1"}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    userdir = tmp_path / "user_data"
    candles = userdir / "data" / "binance"
    shell_log = tmp_path / "readme-block.log"
    before: dict[str, str] = {}
    started = pd.Timestamp.now(tz="UTC")
    offset = 0  # where the dry run's output starts in the block's
    stopped = False
    with open(shell_log, "w") as out:
        shell = subprocess.Popen(
            ["bash", "-c", readme_block()], cwd=tmp_path, env=env, stdout=out,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        start = time.monotonic()
        bot = None
        while bot is None and shell.poll() is None and time.monotonic() - start < DEADLINE_S:
            bot = dry_run_process(shell)
            time.sleep(0.2)
        assert bot is not None, "the block never reached freqtrade trade:\n" + tail(shell_log)
        before = hashes(candles)  # the downloaded candles, before the dry run starts
        started = pd.Timestamp.now(tz="UTC")
        offset = len(shell_log.read_text())
        while time.monotonic() - start < DEADLINE_S and bot.is_running():
            log = shell_log.read_text()[offset:]
            if retrained_after_new_candle(log) and PREDICTED.search(log) and rounds_together(log):
                break
            time.sleep(2)
        still_running = bot.is_running()
        # the replayed candles up to now, for the window's backtest (simulator still up)
        download_window(tmp_path, userdir, env, started)
        bot.send_signal(signal.SIGINT)  # Ctrl-C; the block then stops the simulator
        shell.wait(timeout=180)
        stopped = any(port_is_free() or time.sleep(0.5) for _ in range(20))
    finally:
        with contextlib.suppress(ProcessLookupError):  # the block's simulator, if it is left
            os.killpg(shell.pid, signal.SIGKILL)
        shell.wait()
    assert stopped, "the README block left its simulator running"
    block_log = shell_log.read_text()
    log = block_log[offset:]
    assert still_running, "freqtrade exited early:\n" + log[-4000:]
    assert_block_clean(block_log)
    # the README's backtest trained and saved its one window of its pair
    assert {c: len(f) for c, f in model_files(userdir, "hyperphysics").items()} == {
        BACKTEST_PAIR.split("/")[0]: 1
    }, block_log[:offset][-4000:]

    # nothing of the user's was written to: the dry run downloaded into a folder of its own
    assert before and hashes(candles) == before, "the dry run wrote to the user's candles"
    own = userdir / "data" / "binance-simulator"
    assert sorted(p.name for p in own.glob("*-1m.feather")) == [
        f"{p.replace('/', '_')}-1m.feather" for p in PAIRS
    ]
    # ...and kept its models apart from the backtest's
    assert (userdir / "models" / "hyperphysics-simulator" / "pair_dictionary.json").is_file()

    assert PREDICTED.search(log), "no prediction reached the strategy:\n" + log[-4000:]
    # as the README says: with no champion from a search the dry run stays flat, and says so
    for pair in PAIRS:
        assert f"HyperPhysics {pair}: no proven edge: no champion" in log, log[-4000:]
    assert "signal found: about create a new trade" not in log
    assert retrained_after_new_candle(log), (
        f"no retrain on a new candle: {trained_through(log)}\n" + log[-4000:]
    )
    # FreqAI's one-pair-at-a-time loop is replaced by rounds: the pairs trained together,
    # and each round logged the age of every pair's model.
    together = rounds_together(log)
    assert together, "no round trained several pairs:\n" + log[-4000:]
    assert any(sorted(ages) == sorted(PAIRS) for _, ages in together), together
    assert most_training_at_once(log) >= 2, "the pairs' trainings never overlapped"
    # freqtrade answers SIGINT like Ctrl-C: it cleans up and exits.
    for step in ("Cleaning up modules", "Stopping FreqAI", "SIGINT received, aborting"):
        assert step in log, f"no {step!r} in the shutdown:\n" + log[-3000:]

    # Order books were recorded to parquet while the bot traded...
    for pair in PAIRS:
        timestamps, bids, asks = read_orderbooks(pair_path(userdir / "orderbooks", "binance", pair))
        assert len(timestamps) >= 2, f"{pair}: {len(timestamps)} recorded books"
        assert (bids[:, 0, 0] < asks[:, 0, 0]).all()

    from hyperphysics_strategy.exchange import ExchangeSimulator

    with ExchangeSimulator(candles) as sim:
        write_simulator_config(userdir, sim, PAIRS)
        configs = [userdir / "config_hyperphysics.json", userdir / "exchange-simulator.json"]
        # ...and a backtest over that window (exit 0, clean log) takes them as its source.
        window_log = backtest_window(tmp_path, userdir, configs, env, started)
        recorded = {m.group(1): int(m.group(2)) for m in RECORDED.finditer(window_log)}
        assert recorded and max(recorded.values()) >= 1, window_log[-3000:]
        hyperopt_log = hyperopt(tmp_path, userdir, configs, env)
    # every window's predictions came from the first backtest, whose model folders survived
    assert "Found backtesting prediction file" in hyperopt_log, hyperopt_log[-4000:]
    assert "Could not find backtesting prediction file" not in hyperopt_log, hyperopt_log[-4000:]
    results = list((userdir / "hyperopt_results").glob("*.fthypt"))
    assert results, "no hyperopt results file"
    epochs = [json.loads(line) for line in results[0].read_text().splitlines() if line.strip()]
    assert len(epochs) == EPOCHS
    spaces = set()
    for epoch in epochs:
        spaces |= set(epoch["params_details"])
    assert "buy" in spaces
    margins = {epoch["params_details"]["buy"]["entry_ev_margin"] for epoch in epochs}
    assert len(margins) > 1 and all(0.0 <= m <= 0.5 for m in margins)


def tail(path: Path, chars: int = 4000) -> str:
    return path.read_text()[-chars:] if path.is_file() else ""


def assert_block_clean(log: str) -> None:
    bad = [ln for ln in log.splitlines() if re.search(r"raised exception|Traceback \(", ln)]
    assert not bad, "errors in the README block's output:\n" + "\n".join(bad[:20])


def run(cmd: list[str], env: dict, log: Path) -> str:
    with open(log, "w") as out:
        rc = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT).returncode
    text = log.read_text()
    assert rc == 0, f"{' '.join(cmd[:4])} exited with {rc}:\n" + text[-4000:]
    assert_block_clean(text)
    return text


def download_window(tmp_path: Path, userdir: Path, env: dict, started: pd.Timestamp) -> None:
    """Download the replayed candles up to now into the dry run's own candle folder."""
    now, day, fmt = pd.Timestamp.now(tz="UTC"), pd.Timedelta(days=1), "%Y%m%d"
    run(
        [sys.executable, "-m", "freqtrade", "download-data", "--userdir", str(userdir),
         "-c", str(userdir / "config_hyperphysics.json"), "-c", str(userdir / "replay.json"),
         "--datadir", str(userdir / "data" / "binance-simulator"),
         "--timeframes", "1m", "5m", "1h",
         "--timerange", f"{(started - 4 * day).strftime(fmt)}-{(now + day).strftime(fmt)}"],
        env, tmp_path / "download-window.log",
    )  # fmt: skip


def backtest_window(tmp_path, userdir, configs, env, started: pd.Timestamp) -> str:
    """Backtest the dry run's window on its own candles, as a 1m strategy (one pair: the
    check is that recorded books are used, not the training)."""
    window = write_json(
        tmp_path / "window.json", {"timeframe": "1m", "freqai": {"backtest_period_days": 0.1}}
    )
    start = (started - pd.Timedelta(minutes=10)).strftime("%Y%m%dT%H%M")
    end = pd.Timestamp.now(tz="UTC").floor("min").strftime("%Y%m%dT%H%M")
    return run(
        [sys.executable, "-m", "freqtrade", "backtesting", "--userdir", str(userdir),
         *[a for c in [*configs, window] for a in ("-c", str(c))],
         "--datadir", str(userdir / "data" / "binance-simulator"),
         "--strategy", "HyperPhysicsStrategy", "--freqaimodel", "HyperPhysicsEnsemble",
         "--timerange", f"{start}-{end}", "--cache", "none", "--pairs", PAIRS[0]],
        env, tmp_path / "window-backtest.log",
    )  # fmt: skip


def hyperopt(tmp_path, userdir, configs, env) -> str:
    """A short hyperopt over the entry space (the EV margin) on the README's backtest range."""
    return run(
        [sys.executable, "-m", "freqtrade", "hyperopt", "--userdir", str(userdir),
         *[a for c in configs for a in ("-c", str(c))],
         "--strategy", "HyperPhysicsStrategy", "--freqaimodel", "HyperPhysicsEnsemble",
         "--hyperopt-loss", "SharpeHyperOptLoss", "--spaces", "buy",
         "--epochs", str(EPOCHS), "--timerange", BACKTEST_RANGE, "--pairs", BACKTEST_PAIR,
         "-j", "1", "--random-state", "1", "--print-json", "--disable-param-export"],
        env, tmp_path / "hyperopt.log",
    )  # fmt: skip
