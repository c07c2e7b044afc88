"""The edge gate (issue #25 item 3): dry-run and live enter only on a champion that passed its
confirmation period (DSR, timeframe, pair, age); otherwise the strategy stays flat and says so
once per pair, then hourly. Backtests trade the rule and log the gate's verdict."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from hyperphysics_strategy.strategy.edge_gate import ADVICE, edge_verdict
from hyperphysics_strategy.strategy.settings import RiskSettings, load_settings
from hyperphysics_strategy.trading.champion import Champion
from tests.test_entry_summary import LOGGER, run, strategy

# the fake strategy's candles run 2021-04-01 to 2021-04-03 (5m)
PASSING = {
    "study": "hp-search", "trials": 312, "dsr": 0.97, "timeframe": "5m",
    "pairs": ["BTC/USDT", "ETH/USDT"], "search_timerange": "20201201-20210201",
    "confirm_timerange": "20210201-20210301", "trades": 57, "net_bp_per_trade": 7.5,
    "created": "2021-03-02T00:00:00Z",
}  # fmt: skip
NOW = datetime(2021, 4, 3, tzinfo=UTC)


def gated(tmp_path, runmode: str, **section):
    """The fake strategy of test_entry_summary (every trusted candle clears the margin -1),
    with ``section`` as its ``hyperphysics`` config."""
    strat, candles = strategy(tmp_path, runmode)
    strat.settings = load_settings({"hyperphysics": section})
    strat.edge_gate.settings = strat.settings
    return strat, candles


def gate_lines(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == LOGGER
        and ("edge" in r.getMessage() and "predicted candles" not in r.getMessage())
    ]


@pytest.fixture
def margin_minus_one(monkeypatch):
    from hyperphysics_strategy.strategy.hyperphysics_strategy import HyperPhysicsStrategy

    monkeypatch.setattr(HyperPhysicsStrategy.entry_ev_margin, "value", -1.0)


def test_dry_run_without_a_champion_stays_flat_and_says_so(tmp_path, caplog, margin_minus_one):
    strat, candles = gated(tmp_path, "dry_run")
    with caplog.at_level(logging.INFO, logger=LOGGER):
        df = run(strat, candles)
    assert df["enter_long"].sum() == 0 and df["enter_tag"].isna().all()
    (line,) = gate_lines(caplog)
    assert (
        line
        == f"HyperPhysics BTC/USDT: no proven edge: no champion (hyperphysics.champion); {ADVICE}"
    )
    (summary,) = [r.getMessage() for r in caplog.records if "predicted candles" in r.getMessage()]
    assert "the EV rule proposed 200, 200 dropped by the meta-label filter or the edge gate" in (
        summary
    )
    assert summary.endswith(
        "no entry: every bet the EV rule proposed was dropped (meta-label or edge gate)"
    )
    warnings = [
        r for r in caplog.records if r.levelno == logging.WARNING and "no proven" in r.getMessage()
    ]
    assert len(warnings) == 1


def test_dry_run_with_a_passing_champion_enters(tmp_path, caplog, margin_minus_one):
    strat, candles = gated(tmp_path, "dry_run", champion=PASSING)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        df = run(strat, candles)
    assert df["enter_long"].sum() == 200  # every trusted candle, as without the gate
    assert set(df.loc[df["enter_long"] == 1, "enter_tag"]) == {"ev_long"}
    (line,) = gate_lines(caplog)
    assert "proven edge: champion of study 'hp-search', DSR 0.97 over 312 trials" in line


def test_live_refuses_a_pair_the_champion_never_saw(tmp_path, margin_minus_one):
    strat, candles = gated(tmp_path, "live", champion=PASSING)
    assert run(strat, candles, "SOL/USDT")["enter_long"].sum() == 0
    assert run(strat, candles, "ETH/USDT")["enter_long"].sum() == 200


def test_require_edge_false_trades_without_a_champion_and_warns(tmp_path, caplog, margin_minus_one):
    strat, candles = gated(tmp_path, "dry_run", require_edge=False)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        df = run(strat, candles)
    assert df["enter_long"].sum() == 200
    (line,) = gate_lines(caplog)
    assert "require_edge is false: trading the rule without a proven edge" in line


@pytest.mark.parametrize(
    ("change", "kwargs", "expected"),
    [
        ({"dsr": 0.41}, {},
         "no proven edge: DSR 0.41 over 312 trials, below hyperphysics.edge_min_dsr 0.95"),
        ({"timeframe": "1h"}, {},
         "no proven edge on 5m candles: the champion (DSR 0.97 over 312 trials) was found on 1h"),
        ({}, {"pair": "SOL/USDT"},
         "no proven edge for SOL/USDT: the champion's search (DSR 0.97 over 312 trials) ran on "
         "BTC/USDT, ETH/USDT"),
        ({}, {"now": datetime(2021, 9, 1, tzinfo=UTC)},
         "ending 2021-03-01, 184 days before this candle (hyperphysics.edge_max_age_days 90)"),
        ({"confirm_timerange": "2021-02-01"}, {},
         "confirm_timerange '2021-02-01' is unreadable"),
    ],
)  # fmt: skip
def test_each_refusal_names_its_reason(change, kwargs, expected):
    args = {"pair": "BTC/USDT", "timeframe": "5m", "now": NOW, "min_dsr": 0.95, "max_age_days": 90}
    verdict = edge_verdict(Champion(**{**PASSING, **change}), **{**args, **kwargs})
    assert not verdict.passed and expected in verdict.reason and verdict.reason.endswith(ADVICE)
    assert verdict.reason.startswith("no proven edge")


def test_the_thresholds_are_the_settings():
    champion = Champion(**PASSING)
    args = {"pair": "BTC/USDT", "timeframe": "5m", "now": NOW}
    assert edge_verdict(champion, **args, min_dsr=0.97, max_age_days=33).passed
    assert not edge_verdict(champion, **args, min_dsr=0.98, max_age_days=33).passed
    assert not edge_verdict(champion, **args, min_dsr=0.97, max_age_days=32).passed
    # an open-ended confirmation period ends when the search wrote the champion
    open_end = Champion(**{**PASSING, "confirm_timerange": "20210201-"})
    assert edge_verdict(open_end, **args, min_dsr=0.95, max_age_days=32).passed
    assert not edge_verdict(open_end, **args, min_dsr=0.95, max_age_days=31).passed
    with pytest.raises(ValueError, match="edge_min_dsr"):
        load_settings({"hyperphysics": {"edge_min_dsr": 1.5}})
    with pytest.raises(ValueError, match=r"champion\.dsr"):
        load_settings({"hyperphysics": {"champion": {**PASSING, "dsr": -0.1}}})
    assert RiskSettings().require_edge and RiskSettings().champion is None


def test_the_refusal_is_logged_once_per_pair_then_hourly(tmp_path, caplog, margin_minus_one):
    strat, candles = gated(tmp_path, "dry_run")
    now = [0.0]
    strat.edge_gate.cadence.clock = lambda: now[0]
    # (seconds, pair) of each new candle: BTC is quiet within its hour, ETH is told at once
    schedule = [(0, "BTC"), (1800, "BTC"), (1800, "ETH"), (3599, "BTC"), (3601, "BTC")]
    with caplog.at_level(logging.INFO, logger=LOGGER):
        for now[0], pair in schedule:
            run(strat, candles, f"{pair}/USDT")
    pairs = [line.split(":")[0].removeprefix("HyperPhysics ") for line in gate_lines(caplog)]
    assert pairs == ["BTC/USDT", "ETH/USDT", "BTC/USDT"]


def test_a_backtest_trades_the_rule_and_prints_the_verdict(tmp_path, caplog, margin_minus_one):
    strat, candles = gated(tmp_path, "backtest", champion={**PASSING, "dsr": 0.41})
    with caplog.at_level(logging.INFO, logger=LOGGER):
        df = run(strat, candles)
    assert df["enter_long"].sum() == 200
    (line,) = gate_lines(caplog)
    assert line.startswith(
        "HyperPhysics BTC/USDT: edge gate (backtests trade the rule regardless): "
        "no proven edge: DSR 0.41 over 312 trials"
    )
    assert line.endswith("; dry-run and live would stay flat")


def test_hyperopt_neither_gates_nor_logs(tmp_path, caplog, margin_minus_one):
    strat, candles = gated(tmp_path, "hyperopt")
    with caplog.at_level(logging.INFO, logger=LOGGER):
        df = run(strat, candles)
    assert df["enter_long"].sum() == 200 and gate_lines(caplog) == []
