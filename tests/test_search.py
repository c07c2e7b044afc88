"""``hyperphysics search``: the study resumes and counts every trial, a crash is a failed
trial, a SIGKILL loses nothing, the champion fragment loads in freqtrade, the Ray path runs.

Tiny and cheap: the bundled demo candles (1h, two pairs), one expert with its defaults, test
blocks of 10 days, a pure-pandas feature builder (the strategy's own is tested once, by the
command line test)."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from optuna.trial import TrialState

from hyperphysics_strategy.ensemble.experts import EXPERT_REGISTRY
from hyperphysics_strategy.trading.champion import Champion
from hyperphysics_strategy.trading.search import (
    Market,
    SearchRun,
    SearchSpace,
    TrialSpec,
    conclude,
    open_study,
    search,
)
from hyperphysics_strategy.trading.search.selection import deflated_sharpe, trial_sharpes
from tests.data_paths import DEMO_CANDLES, ROOT

SEARCH = (pd.Timestamp("2021-04-01", tz="UTC"), pd.Timestamp("2021-04-21", tz="UTC"))
CONFIRM = (pd.Timestamp("2021-04-21", tz="UTC"), pd.Timestamp("2021-05-01", tz="UTC"))
RANGES = ("20210401-20210421", "20210421-20210501")
SPACE = SearchSpace(
    timeframes=("1h",),
    horizons=(6, 12),
    experts=("lightgbm",),
    expert_params=False,
    feature_groups=(),
    indicator_periods=((10,),),
    train_days=(14,),
    stacking=(False,),
)


def features(candles, timeframe, groups, periods):
    """Returns and ranges over a few windows: cheap, causal."""
    c = candles[timeframe].sort_values("date")
    r = np.log(c["close"]).diff()
    out = pd.DataFrame(index=c.index)
    for w in (3, 6, 12, 24):
        out[f"%-ret-{w}"] = r.rolling(w).sum()
        out[f"%-vol-{w}"] = r.rolling(w).std()
    out["%-range"] = (c["high"] - c["low"]) / c["close"]
    return out


def market(tmp: Path, build=features, backend: str = "local") -> Market:
    candles = {
        p: {"1h": pd.read_feather(DEMO_CANDLES / f"{p.replace('/', '_')}-1h.feather")}
        for p in ("BTC/USDT", "ETH/USDT")
    }
    return Market(candles, build, test_days=10, cache_dir=tmp / "cache", backend=backend)


def run(out: Path, trials: int) -> SearchRun:
    return SearchRun(out, *SEARCH, trials, space=SPACE, concurrent=1)


def test_every_expert_declares_a_search_space_of_parameters_it_takes():
    for name in EXPERT_REGISTRY:
        cls = EXPERT_REGISTRY[name]
        assert cls.SEARCH_SPACE, name
        assert set(cls.SEARCH_SPACE) <= cls.parameter_names(), name


@pytest.fixture(scope="module")
def resumed(tmp_path_factory):
    """A study of 2 trials resumed to 3 (the same OUT), then concluded: (out, study, summary)."""
    tmp = tmp_path_factory.mktemp("resumed")
    out = tmp / "study"
    first = search(market(tmp), run(out, 2))
    assert len(first.trials) == 2
    study = search(market(tmp), run(out, 3))  # the same --out, more trials: resumes
    summary = conclude(
        study, market(tmp), SEARCH, CONFIRM, RANGES, out, min_trades=1, default_spec=None
    )
    return out, study, summary


def test_the_dsr_counts_every_trial_of_every_run_of_the_study(resumed):
    out, study, summary = resumed
    assert [t.number for t in study.trials] == [0, 1, 2]
    assert summary["trials"] == 3 and summary["scored_trials"] == len(trial_sharpes(study))
    champion = json.loads((out / "champion.json").read_text())["hyperphysics"]["champion"]
    assert champion["trials"] == 3
    # more trials tried, the same returns: a lower deflated Sharpe ratio
    r = np.random.default_rng(0).normal(0.002, 0.01, 200)
    sharpes = [0.05, -0.02, 0.1, 0.0]
    assert deflated_sharpe(r, 40, sharpes)[0] < deflated_sharpe(r, 2, sharpes)[0]


def test_a_crashing_trial_is_recorded_as_failed_with_its_error(tmp_path):
    calls = []

    def crashes_once(candles, timeframe, groups, periods):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("feature store unreachable")
        return features(candles, timeframe, groups, periods)

    study = search(market(tmp_path, crashes_once), run(tmp_path / "s", 2))
    failed = [t for t in study.trials if t.state == TrialState.FAIL]
    assert len(failed) == 1 and "feature store unreachable" in failed[0].user_attrs["error"]
    assert sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in study.trials) == 2


def _slow_features(candles, timeframe, groups, periods):
    time.sleep(2)
    return features(candles, timeframe, groups, periods)


def child(out: str) -> None:  # run in a subprocess by the SIGKILL test
    search(market(Path(out), _slow_features), run(Path(out), 2))


def test_a_search_killed_mid_trial_resumes_with_no_trial_lost_or_counted_twice(tmp_path):
    out = tmp_path / "study"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    code = f"from tests.test_search import child; child({str(out)!r})"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if (out / "study.journal").exists():
                running = open_study(out).get_trials(states=(TrialState.RUNNING,))
                if running and "spec" in running[0].user_attrs:
                    break
            assert proc.poll() is None, "the search ended before it could be killed"
            time.sleep(0.2)
        else:
            pytest.fail("no trial started within 120 s")
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        proc.kill()
    killed = running[0]
    study = search(market(out), run(out, 2))
    trials = study.trials
    assert len({t.number for t in trials}) == len(trials) == 3  # 2 finished + the killed one
    assert trials[killed.number].state == TrialState.FAIL
    assert trials[killed.number].user_attrs["interrupted"] is True
    retry = [t for t in trials if t.user_attrs.get("retry_of") == killed.number]
    assert len(retry) == 1 and retry[0].params == killed.params
    assert retry[0].state in (TrialState.COMPLETE, TrialState.PRUNED)
    # a third run queues nothing again and runs nothing more
    assert len(search(market(out), run(out, 2)).trials) == 3


def test_the_champion_fragment_loads_with_freqtrades_config_merge(resumed):
    from freqtrade.configuration.load_config import load_from_files

    from hyperphysics_strategy.freqai.parameters import parameter_problems

    out, _, summary = resumed
    assert summary["champion"] is not None, summary["verdict"]
    base = ROOT / "hyperphysics_strategy" / "demo" / "config.json"
    merged = load_from_files([str(base), str(out / "champion.json")])
    spec = TrialSpec.from_dict(summary["spec"])
    assert merged["timeframe"] == "1h" and merged["stake_currency"] == "USDT"  # both files
    assert merged["freqai"]["feature_parameters"]["label_period_candles"] == spec.horizon
    assert merged["freqai"]["identifier"] == "hyperphysics"  # kept from the base
    section = merged["freqai"]["model_training_parameters"]
    assert section["experts"] == ["lightgbm"] and parameter_problems(section) == []
    champion = Champion(**merged["hyperphysics"]["champion"])
    assert champion.trials == 3 and champion.pairs == ("BTC/USDT", "ETH/USDT")
    assert champion.search_timerange == RANGES[0] and champion.horizon == spec.horizon
    params = json.loads((out / "HyperPhysicsStrategy.json").read_text())
    assert params["params"]["buy"]["entry_ev_margin"] == round(spec.margin, 2)
    report = (out / "report.md").read_text()
    assert "trials run: 3" in report and "deflated Sharpe ratio" in report


def test_identical_fold_jobs_are_computed_once(tmp_path, monkeypatch):
    from hyperphysics_strategy.trading.search import folds

    fits = []
    original = folds.CachedFitter.fit
    monkeypatch.setattr(
        folds.CachedFitter, "fit", lambda self, *a: fits.append(1) or original(self, *a)
    )
    spec = TrialSpec(
        timeframe="1h", horizon=6, experts=("lightgbm",), train_days=14, stacking=False
    )
    m = market(tmp_path)
    first = folds.walk_forward(m, spec, *SEARCH)
    n = len(fits)
    assert n == 4  # 2 pairs x 2 folds
    again = folds.walk_forward(
        market(tmp_path), spec.__class__(**{**spec.__dict__, "margin": 0.3}), *SEARCH
    )
    assert len(fits) == n  # another margin: the same fits, from the cache
    pd.testing.assert_frame_equal(first.predictions, again.predictions)


@pytest.mark.timeout(600)
def test_a_search_on_the_ray_backend(ray_cluster, tmp_path, monkeypatch):
    from hyperphysics_strategy.trading.search import folds

    workers = []
    original = folds.CachedFitter.fit

    def fit(self, *args):
        model = original(self, *args)
        workers.extend(e.worker for e in model.report_.experts)
        return model

    monkeypatch.setattr(folds.CachedFitter, "fit", fit)
    study = search(market(tmp_path, backend="ray"), run(tmp_path / "s", 2))
    assert workers and set(workers) == {"ray"}
    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(done) == 2 and all(t.user_attrs["score"]["trades"] is not None for t in done)


def _cli(*args: str):
    from typer.testing import CliRunner

    from hyperphysics_strategy.cli import app

    return CliRunner().invoke(app, ["search", *args])


def _userdir(tmp: Path) -> Path:
    (tmp / "ud" / "data").mkdir(parents=True)
    (tmp / "ud" / "data" / "binance").symlink_to(DEMO_CANDLES)
    return tmp / "ud"


def test_the_command_searches_resumes_and_writes_the_fragment_and_report(tmp_path):
    ud, out = _userdir(tmp_path), tmp_path / "out"
    args = [
        "--userdir",
        str(ud),
        "--pairs",
        "BTC/USDT",
        "--timerange",
        RANGES[0],
        "--confirm-timerange",
        RANGES[1],
        "--out",
        str(out),
        "--timeframes",
        "1h",
        "--train-days",
        "14",
        "--test-days",
        "10",
        "--no-baseline",
        "--min-trades",
        "1",
        "--feature-groups",
        "risk",
    ]
    levels = {n: logging.getLogger(n).level for n in ("hyperphysics_strategy.ensemble", "optuna")}
    first = _cli(*args, "--trials", "1")
    assert first.exit_code == 0, first.output[-2000:]
    # the live table's quiet log levels are given back (they silenced other tests' caplog)
    assert {n: logging.getLogger(n).level for n in levels} == levels
    second = _cli(*args, "--trials", "2")
    assert second.exit_code == 0, second.output[-2000:]
    assert "2 / 2" in second.output and "deflated Sharpe ratio" in second.output
    assert len(open_study(out).trials) == 2
    assert "trials run: 2" in (out / "report.md").read_text()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("--timerange", "20210401-"), "needs a start and an end"),
        (("--confirm-timerange", "20210410-20210501"), "must start where --timerange ends"),
        (("--pairs", "DOGE/USDT"), "DOGE/USDT"),
        (("--experts", "lightgbm,nope"), "unknown expert"),
        (("--train-days", "14,x"), "--train-days takes whole numbers"),
    ],
)
def test_bad_input_is_one_line_naming_the_problem(tmp_path, change, message):
    args = {
        "--userdir": str(_userdir(tmp_path)),
        "--pairs": "BTC/USDT",
        "--timerange": RANGES[0],
        "--confirm-timerange": RANGES[1],
        "--out": str(tmp_path / "out"),
        "--timeframes": "1h",
    }
    args[change[0]] = change[1]
    done = _cli(*[x for kv in args.items() for x in kv], "--trials", "1")
    assert done.exit_code == 2 and message in done.output, done.output[-2000:]
    assert not (tmp_path / "out" / "study.journal").exists()


def test_the_meta_label_option_only_drops_the_primarys_bets(tmp_path):
    from hyperphysics_strategy.trading.search.folds import walk_forward
    from hyperphysics_strategy.trading.search.scores import rule_trades

    spec = TrialSpec(
        timeframe="1h",
        horizon=6,
        experts=("lightgbm",),
        train_days=14,
        stacking=False,
        meta_label=True,
    )
    start = pd.Timestamp("2021-03-25", tz="UTC")
    ev = walk_forward(market(tmp_path), spec, start, CONFIRM[1])
    kept, primary = rule_trades(ev, spec), ev.trades(ev.bet.margin)
    assert set(kept.index) <= set(primary.index)
    first_block = primary["fold"] == 0  # no earlier bets to learn from: every bet stands
    assert set(primary.index[first_block]) <= set(kept.index)
