"""Live rounds (freqai/rounds.py) with FreqAI's drawer and data kitchen replaced by
fakes: which pairs are due, that they train at once, that each is published when ready
(one at a time), that a failing pair leaves the others alone, the queue and the log."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from datetime import UTC, datetime
from types import SimpleNamespace

import pandas as pd
import pytest

from hyperphysics_strategy.freqai.compat import extract_data_and_train_model, start_scanning
from hyperphysics_strategy.freqai.rounds import LiveRounds, format_age

NOW = int(datetime.now(tz=UTC).timestamp())


@pytest.fixture(autouse=True)
def _now():
    """The fakes' clock is the wall clock at each test's start (model ages are measured
    against it), not at collection, which can be many minutes earlier."""
    global NOW
    NOW = int(datetime.now(tz=UTC).timestamp())


class FakeKitchen:
    """The few FreqaiDataKitchen methods the round calls; due = trained over 60 s ago."""

    def __init__(self, config, live, pair):
        self.pair = pair
        self.data_path = None

    def check_if_new_training_required(self, trained_timestamp):
        tr = SimpleNamespace(stopts=NOW)
        return NOW - trained_timestamp > 60, tr, SimpleNamespace(stopts=NOW)

    def set_paths(self, pair, stamp):
        self.data_path = f"models/{pair}-{stamp}"

    def use_strategy_to_populate_indicators(self, strategy, **kwargs):
        return kwargs["base_dataframes"]["1m"]

    def buffer_timerange(self, tr):
        return tr

    def slice_dataframe(self, tr, df):
        return df

    def find_features(self, df):
        pass

    def find_labels(self, df):
        pass

    def set_new_model_names(self, pair, stamp):
        self.model_filename = f"cb_{pair}_{stamp}"


class FakeDrawer:
    def __init__(self, trained):
        self.pair_dict = {
            p: {"trained_timestamp": t, "model_filename": "m" if t else ""}
            for p, t in trained.items()
        }
        self.pair_dict_lock = threading.Lock()
        self.history_lock = threading.Lock()
        self.model_type = "joblib"
        self.saved: list[str] = []
        self.saving = 0
        self.most_saving = 0

    def get_pair_dict_info(self, pair):
        info = self.pair_dict.setdefault(pair, {"trained_timestamp": 0, "model_filename": ""})
        return info["model_filename"], info["trained_timestamp"]

    def get_base_and_corr_dataframes(self, timerange, pair, dk):
        dates = pd.Series(pd.date_range("2024-01-01", periods=3, freq="1min", tz="UTC"))
        return {}, {"1m": pd.DataFrame({"date": dates.astype(object), "close": [1.0, 2, 3]})}

    def save_data(self, model, pair, dk):
        self.saving += 1
        self.most_saving = max(self.most_saving, self.saving)
        time.sleep(0.05)
        self.pair_dict[pair]["model_filename"] = dk.model_filename
        self.saved.append(pair)
        self.saving -= 1

    def purge_old_models(self):
        pass

    def save_historic_predictions_to_disk(self):
        pass


class FakeModel:
    def __init__(self, queue, trained, fail=()):
        self.train_queue = deque(queue)
        self.dd = FakeDrawer(trained)
        self.config = {}
        self.live = True
        self.activate_tensorboard = False
        self.plot_features = 0
        self.freqai_info = {}
        self.fail = set(fail)
        self.running = 0
        self.most_running = 0
        self.lock = threading.Lock()
        self.dtypes: list[str] = []

    def train(self, df, pair, dk):
        with self.lock:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
            self.dtypes.append(str(df["date"].dtype))
        try:
            time.sleep(0.3)
            if pair in self.fail:
                raise RuntimeError(f"{pair} has no data")
            return f"model of {pair}"
        finally:
            with self.lock:
                self.running -= 1


@pytest.fixture(autouse=True)
def fakes(monkeypatch):
    monkeypatch.setattr(start_scanning, "FreqaiDataKitchen", FakeKitchen)
    monkeypatch.setattr(
        extract_data_and_train_model,
        "get_tb_logger",
        lambda *a: SimpleNamespace(close=lambda: None),
    )


def strategy(whitelist):
    return SimpleNamespace(dp=SimpleNamespace(current_whitelist=lambda: list(whitelist)))


def test_due_pairs_train_together_and_publish_one_at_a_time(caplog):
    pairs = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT", "OLD/USDT"]
    trained = {"BTC/USDT": 0, "ETH/USDT": NOW - 3600, "SOL/USDT": NOW - 120, "XRP/USDT": NOW}
    model = FakeModel(pairs, trained, fail={"SOL/USDT"})
    live = LiveRounds(model)
    wl = strategy(pairs[:4])  # OLD/USDT left the whitelist
    with caplog.at_level(logging.INFO):
        due = live.due_pairs(wl)
        assert [d.pair for d in due] == ["BTC/USDT", "ETH/USDT", "SOL/USDT"]  # XRP is fresh
        assert "OLD/USDT" not in model.train_queue
        started = time.perf_counter()
        report = live.train_round(due, wl)
        wall = time.perf_counter() - started
    assert model.most_running == 3 and wall < 0.8  # three 0.3 s trainings at once
    assert model.dtypes == ["datetime64[ms, UTC]"] * 3  # dates fixed before training
    assert model.dd.most_saving == 1  # publications never overlap
    assert sorted(model.dd.saved) == ["BTC/USDT", "ETH/USDT"]  # SOL failed, kept no model
    assert model.dd.pair_dict["BTC/USDT"]["trained_timestamp"] == NOW
    assert model.dd.pair_dict["SOL/USDT"]["trained_timestamp"] == NOW - 120
    assert report.trained == ["BTC/USDT", "ETH/USDT"]
    # the oldest model is first in the queue; those just trained go to the back
    assert list(model.train_queue) == ["XRP/USDT", "BTC/USDT", "ETH/USDT", "SOL/USDT"]
    assert set(report.ages) == {"XRP/USDT", "BTC/USDT", "ETH/USDT", "SOL/USDT"}  # old model
    line = next(r.message for r in caplog.records if "round 1: trained" in r.message)
    ages = next(r.message for r in caplog.records if "round 1: model ages" in r.message)
    assert "round 1: trained BTC/USDT, ETH/USDT together in" in line
    assert "failed: SOL/USDT (RuntimeError)" in line
    assert re.search(
        r"round 1: model ages: XRP/USDT \d+ s, BTC/USDT \d+ s, ETH/USDT \d+ s, SOL/USDT 2\.\d min",
        ages,
    )
    assert "Training SOL/USDT raised exception RuntimeError" in caplog.text


def test_max_pairs_bounds_the_pairs_trained_at_once():
    pairs = ["A/USDT", "B/USDT", "C/USDT"]
    model = FakeModel(pairs, {})
    live = LiveRounds(model, max_pairs=1)
    report = live.train_round(live.due_pairs(strategy(pairs)), strategy(pairs))
    assert model.most_running == 1 and report.trained == pairs
    with pytest.raises(ValueError, match="max_pairs"):
        LiveRounds(model, max_pairs=0)


def test_run_stops_with_freqais_stop_event():
    model = FakeModel(["A/USDT"], {})
    model._stop_event = threading.Event()
    live = LiveRounds(model)
    thread = threading.Thread(target=live.run, args=(strategy(["A/USDT"]),))
    thread.start()
    deadline = time.monotonic() + 10
    while not model.dd.saved and time.monotonic() < deadline:
        time.sleep(0.05)
    model._stop_event.set()
    thread.join(5)
    assert not thread.is_alive() and model.dd.saved == ["A/USDT"] and live.rounds == 1


def test_ages_read_like_a_person_would():
    assert [format_age(s) for s in (41, 750, 15_000)] == ["41 s", "12.5 min", "4.2 h"]


def test_a_stop_mid_round_publishes_nothing_and_logs_no_error(caplog):
    pairs = ["A/USDT", "B/USDT"]
    model = FakeModel(pairs, {})
    model._stop_event = threading.Event()
    live = LiveRounds(model)
    timer = threading.Timer(0.1, model._stop_event.set)  # while both pairs train
    timer.start()
    with caplog.at_level(logging.INFO):
        report = live.train_round(live.due_pairs(strategy(pairs)), strategy(pairs))
    assert model.dd.saved == [] and report.trained == []
    assert "not published, FreqAI is stopping" in caplog.text
    assert "raised exception" not in caplog.text
