"""Replay mode of the local Binance simulator: shifted candles that advance with the clock."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import ccxt
import pandas as pd
import pytest

from hyperphysics_strategy.exchange import ExchangeSimulator, ManualClock
from tests.simulated_exchange import (  # noqa: F401 (fixtures)
    END,
    START,
    as_rows,
    datadir_fixture,
    frames_fixture,
    get,
    make_client,
    ms,
    same_rows,
)

# ----------------------------------------------------------------------------- replay
REPLAY_NOW = 1_800_000_012_345  # a wall-clock instant in 2027, 12.345 s past a minute


def test_replay_serves_shifted_candles_that_advance(
    datadir: Path, frames: dict[str, pd.DataFrame]
) -> None:
    clock = ManualClock(REPLAY_NOW)
    origin = START + pd.Timedelta(days=2)
    with ExchangeSimulator(
        datadir, mode="replay", speed=5, replay_start=origin.to_pydatetime(), clock=clock
    ) as replay:
        ex = make_client(replay.url)
        ex.load_markets()
        assert replay.served_interval() == "1m"
        candles = ex.fetch_ohlcv("BTC/USDT", "1m", limit=3)
        forming, last_closed = candles[-1], candles[-2]
        minute = 60_000
        assert forming[0] == REPLAY_NOW // minute * minute
        assert forming[0] <= REPLAY_NOW < forming[0] + minute
        assert REPLAY_NOW - minute <= last_closed[0] + minute <= REPLAY_NOW

        data = as_rows(frames["BTC/USDT-5m"])
        index = next(i for i, r in enumerate(data) if r[0] == ms(origin))
        assert same_rows([last_closed[1:]], [data[index - 1][1:]])
        final = data[index]
        assert forming[1] == final[1]
        assert final[3] <= forming[3] <= forming[2] <= final[2]
        assert forming[5] < final[5]

        trades = ex.fetch_trades("BTC/USDT", limit=1000)
        assert trades[-1]["timestamp"] <= REPLAY_NOW
        assert ex.fetch_ticker("BTC/USDT")["last"] == trades[-1]["price"]

        five = ex.fetch_ohlcv("BTC/USDT", "5m", limit=2)
        assert five[-2][0] % (5 * minute) == 0

        clock.advance(minute)
        after = ex.fetch_ohlcv("BTC/USDT", "1m", limit=2)
        assert after[0][0] == forming[0] and same_rows([after[0][1:]], [final[1:]])
        assert after[1][0] == forming[0] + minute
        with pytest.raises(ccxt.BadRequest):
            ex.fetch_ohlcv("BTC/USDT", "1s")


def test_replay_default_start_and_end_of_data(
    datadir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = ManualClock(REPLAY_NOW)
    with ExchangeSimulator(datadir, mode="replay", clock=clock) as replay:
        data_now = replay.data_time()
        assert data_now is not None
        span = (END - START).total_seconds()
        share = (data_now - START.to_pydatetime()).total_seconds() / span
        assert 0.79 < share < 0.81
        clock.advance(10 * 86_400_000)
        with caplog.at_level(logging.WARNING):
            _, candles = get(replay.url + "/api/v3/klines?symbol=ETHUSDT&interval=5m&limit=2")
        assert any("end of the data" in r.message for r in caplog.records)
        last = candles[-1]
        assert last[6] + 1 < REPLAY_NOW + 10 * 86_400_000
        clock.advance(3_600_000)
        assert get(replay.url + "/api/v3/klines?symbol=ETHUSDT&interval=5m&limit=2")[1] == candles


def test_replay_rejects_bad_speed_and_start(datadir: Path) -> None:
    with pytest.raises(ValueError, match="speed"):
        ExchangeSimulator(datadir, mode="replay", speed=7)
    with pytest.raises(ValueError, match="outside the data"):
        ExchangeSimulator(datadir, mode="replay", replay_start=datetime(2019, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError, match="mode"):
        ExchangeSimulator(datadir, mode="live")
    with pytest.raises(FileNotFoundError):
        ExchangeSimulator(datadir / "missing")
