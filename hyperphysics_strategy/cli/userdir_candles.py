"""``hyperphysics doctor --userdir``'s candle check: the files a backtest of the config needs.

The pairs are the config's ``exchange.pair_whitelist`` plus FreqAI's
``feature_parameters.include_corr_pairlist``; the timeframes the strategy's (the config's
``timeframe``, else the strategy class's) plus ``include_timeframes``. Each (pair,
timeframe) needs a file in ``<userdir>/data/<exchange>`` (where freqtrade looks: its config
key ``datadir`` is ignored) spanning at least FreqAI's first training window and one
backtest window, ``train_period_days + backtest_period_days``, plus the strategy's startup
candles. Files are read with freqtrade's own data handler (``dataformat_ohlcv``).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

#: (where, problem, fix), the fields of ``userdir_check.Problem``
Row = tuple[str, str, str]


def _strategy_defaults() -> tuple[str, int]:
    from hyperphysics_strategy.strategy import HyperPhysicsStrategy

    return HyperPhysicsStrategy.timeframe, int(HyperPhysicsStrategy.startup_candle_count)


def needed_candles(config: dict[str, Any]) -> tuple[list[str], list[str], timedelta]:
    """(pairs, timeframes, shortest span a file may cover) for ``config``."""
    from freqtrade.exchange import timeframe_to_seconds

    default_timeframe, default_startup = _strategy_defaults()
    timeframe = config.get("timeframe") or default_timeframe
    startup = int(config.get("startup_candle_count") or default_startup)
    pairs = list((config.get("exchange") or {}).get("pair_whitelist") or [])
    timeframes = [timeframe]
    span = timedelta(seconds=startup * timeframe_to_seconds(timeframe))
    freqai = config.get("freqai") or {}
    if isinstance(freqai, dict) and freqai.get("enabled"):
        features = freqai.get("feature_parameters") or {}
        pairs += list(features.get("include_corr_pairlist") or [])
        timeframes += list(features.get("include_timeframes") or [])
        days = float(freqai.get("train_period_days") or 0) + float(
            freqai.get("backtest_period_days") or 0
        )
        span += timedelta(days=days)
    return list(dict.fromkeys(pairs)), list(dict.fromkeys(timeframes)), span


def check_candles(userdir: Path, config: dict[str, Any]) -> list[Row]:
    """A (where, problem, fix) row per missing or short candle file that ``config`` needs."""
    from freqtrade.data.history import get_datahandler
    from freqtrade.enums import CandleType

    try:
        pairs, timeframes, span = needed_candles(config)
    except (TypeError, ValueError) as exc:  # the schema check names the bad key
        return [("candles", f"cannot tell which candles the config needs: {exc}", "")]
    if not pairs:
        return []
    exchange = (config.get("exchange") or {}).get("name", "binance")
    datadir = Path(userdir) / "data" / exchange
    data_format = config.get("dataformat_ohlcv") or "feather"
    futures = config.get("trading_mode", "spot") == "futures"
    candle_type = CandleType.FUTURES if futures else CandleType.SPOT
    handler = get_datahandler(datadir, data_format)
    fetch = (
        f"freqtrade download-data --userdir {userdir} --pairs {' '.join(pairs)} "
        f"--timeframes {' '.join(timeframes)} --days {span.days + 1}"
        + (" --trading-mode futures" if futures else "")
    )
    problems = []
    for pair in pairs:
        for timeframe in timeframes:
            where = f"candles {pair} {timeframe}"
            try:
                first, last, count = handler.ohlcv_data_min_max(pair, timeframe, candle_type)
            except Exception as exc:  # a damaged file: freqtrade could not load it either
                problems.append((where, f"cannot be read in {datadir}: {exc}", fetch))
                continue
            if count == 0:
                problems.append((where, f"no {data_format} candle file in {datadir}", fetch))
            elif last - first < span:
                problems.append(
                    (
                        where,
                        f"short: {count} candles, {first:%Y-%m-%d} to {last:%Y-%m-%d} "
                        f"({(last - first).days} days); FreqAI's train_period_days + "
                        f"backtest_period_days plus the startup candles need {span.days} "
                        f"days or more",
                        fetch,
                    )
                )
    return problems
