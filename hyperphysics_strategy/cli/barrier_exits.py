"""Which barrier closed each trade of a freqtrade backtest of HyperPhysicsStrategy.

The strategy tags its exits through freqtrade: ``roi`` is the take-profit barrier
(``custom_roi``), ``time_barrier`` the time barrier (``custom_exit``), ``stop_loss`` /
``trailing_stop_loss`` the stop (``custom_stoploss``). The stop is the nearer of two
prices fixed at entry, the lower barrier and the ES stop, and freqtrade names both
``stop_loss``. They are told apart here by the trade's exported stop price
(``stop_loss_abs``): each candidate is recomputed from the trade's signal candle, which
``freqtrade backtesting --export signals`` saves with the trades, the same way the
strategy computes it in ``order_filled``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from hyperphysics_strategy.strategy import sizing
from hyperphysics_strategy.strategy.hyperphysics_strategy import SIGMA, HyperPhysicsStrategy
from hyperphysics_strategy.strategy.settings import RiskSettings, load_settings
from hyperphysics_strategy.trading.bet import BetSpec
from hyperphysics_strategy.trading.exits import EXIT_KINDS, TIME_BARRIER

STOP_REASONS = ("stop_loss", "trailing_stop_loss")
ES_COLUMN = "hp_es_99"  # the one-candle 99% ES the ES stop is computed from
#: A stop exit belongs to the candidate price nearest its stop, within this relative gap.
STOP_MATCH_RTOL = 2e-3


def stop_candidates(
    open_rate: float,
    is_short: bool,
    sigma: float,
    es_one_candle: float,
    fee_open: float,
    fee_close: float,
    horizon: int,
    k_down: float,
    settings: RiskSettings,
) -> dict[str, float]:
    """Prices of the stops a trade could carry: ``lower_barrier`` (``k_down`` x sigma x
    sqrt(h) from the fill, as in ``order_filled``), ``es_stop`` (the ES distance from
    ``sizing.es_stop_distance`` as a loss after fees) and ``cap`` (the static ``stoploss``
    as a loss after fees). A candidate whose input is unknown is left out."""
    out: dict[str, float] = {}

    def after_fees(loss: float) -> float:  # the price at which the ratio after fees is -loss
        if is_short:
            return open_rate * (1 - fee_open) * (1 + loss) / (1 + fee_close)
        return open_rate * (1 + fee_open) * (1 - loss) / (1 - fee_close)

    if math.isfinite(sigma) and sigma > 0:
        bet = BetSpec(horizon=horizon, k_down=k_down)
        out["lower_barrier"] = bet.prices(open_rate, sigma, is_short)[1]
    es = sizing.es_stop_distance(
        es_one_candle, horizon, settings.es_stop_multiplier, settings.stop_floor, settings.stop_cap
    )
    if es is not None:
        out["es_stop"] = after_fees(es)
    out["cap"] = after_fees(-HyperPhysicsStrategy.stoploss)
    return out


def stop_kind(stop_price: float, candidates: Mapping[str, float]) -> str:
    """``lower_barrier`` or ``es_stop``, whichever candidate ``stop_price`` sits at; ``other``
    when it sits at the static cap or at none of them."""
    if not candidates or not (math.isfinite(stop_price) and stop_price > 0):
        return "other"
    name, price = min(candidates.items(), key=lambda kv: abs(kv[1] / stop_price - 1))
    if name == "cap" or abs(price / stop_price - 1) > STOP_MATCH_RTOL:
        return "other"
    return name


def _utc_ns(dates: pd.Series) -> pd.Series:
    return pd.to_datetime(dates, utc=True).astype("datetime64[ns, UTC]")


def signal_candles(trades: pd.DataFrame, signals: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """For each trade (same index), the last candle of its pair strictly before its entry:
    the candle whose signal it entered on (freqtrade's ``generate_trade_signal_candles``)."""
    columns = [SIGMA, ES_COLUMN]
    rows = pd.DataFrame(index=trades.index, columns=columns, dtype=float)
    for pair, group in trades.groupby("pair"):
        candles = signals.get(pair)
        if candles is None or candles.empty or "date" not in candles:
            continue
        candles = candles.loc[:, ["date", *[c for c in columns if c in candles]]]
        candles = candles.assign(date=_utc_ns(candles["date"]))
        candles = candles.sort_values("date").drop_duplicates("date")
        entries = group[["open_date"]].assign(open_date=_utc_ns(group["open_date"]))
        entries = entries.reset_index().sort_values("open_date")
        matched = pd.merge_asof(
            entries, candles, left_on="open_date", right_on="date", allow_exact_matches=False
        ).set_index("index")
        for column in columns:
            if column in matched:
                rows.loc[matched.index, column] = matched[column].astype(float)
    return rows


def classify_exits(
    trades: pd.DataFrame,
    signals: Mapping[str, pd.DataFrame],
    horizon: int,
    k_down: float = HyperPhysicsStrategy.barrier_k_down,
    settings: RiskSettings | None = None,
) -> pd.Series:
    """The exit kind (a key of :data:`EXIT_KINDS`) of each trade of a backtest export
    (``load_backtest_data``), given the signal candles (``--export signals``) per pair."""
    settings = settings or RiskSettings()
    kinds = pd.Series("other", index=trades.index, dtype=object)
    if trades.empty:
        return kinds
    kinds[trades["exit_reason"] == "roi"] = "take_profit"
    kinds[trades["exit_reason"] == TIME_BARRIER] = TIME_BARRIER
    stops = trades[trades["exit_reason"].isin(STOP_REASONS)]
    if stops.empty:
        return kinds
    signal = signal_candles(stops, signals)
    for i, trade in stops.iterrows():
        candidates = stop_candidates(
            float(trade["open_rate"]),
            bool(trade.get("is_short", False)),
            float(signal.at[i, SIGMA]),
            float(signal.at[i, ES_COLUMN]),
            float(trade["fee_open"]),
            float(trade["fee_close"]),
            horizon,
            k_down,
            settings,
        )
        kinds[i] = stop_kind(float(trade["stop_loss_abs"]), candidates)
    return kinds


def exit_summary(trades: pd.DataFrame, kinds: pd.Series) -> pd.DataFrame:
    """One row per exit kind, every kind present: ``exit``, ``trades``, ``mean_profit_pct``
    (mean profit ratio after fees, in %; NaN without trades) and ``reasons`` (freqtrade's
    exit reasons counted in that row, e.g. ``force_exit 2``)."""
    rows = []
    for kind, label in EXIT_KINDS.items():
        mine = trades[kinds == kind]
        reasons = mine["exit_reason"].value_counts() if len(mine) else pd.Series(dtype=int)
        rows.append(
            {
                "kind": kind,
                "exit": label,
                "trades": len(mine),
                "mean_profit_pct": 100 * mine["profit_ratio"].mean() if len(mine) else math.nan,
                "reasons": ", ".join(f"{r} {n}" for r, n in reasons.items()),
            }
        )
    return pd.DataFrame(rows)


def load_backtest_exits(results_dir: Path) -> tuple[pd.DataFrame, pd.Series]:
    """The latest backtest in ``results_dir`` (freqtrade's ``backtest_results``): its
    trades and their exit kinds. Needs the export of ``--export signals``; the label
    horizon and the ``hyperphysics`` settings come from the config saved with it."""
    import json
    import zipfile

    from freqtrade.data.btanalysis import (
        get_latest_backtest_filename,
        load_backtest_analysis_data,
        load_backtest_data,
    )

    zip_path = Path(results_dir) / get_latest_backtest_filename(results_dir)
    with zipfile.ZipFile(zip_path) as archive:
        names = set(archive.namelist())
        config = json.loads(archive.read(f"{zip_path.stem}_config.json"))
    if f"{zip_path.stem}_signals.pkl" not in names:
        raise FileNotFoundError(
            f"no signal candles in {zip_path}: run freqtrade backtesting with --export signals"
        )
    trades = load_backtest_data(zip_path)
    signals = load_backtest_analysis_data(zip_path, "signals") or {}
    strategy = next(iter(signals)) if len(signals) == 1 else "HyperPhysicsStrategy"
    horizon = int(config["freqai"]["feature_parameters"]["label_period_candles"])
    kinds = classify_exits(
        trades, signals.get(strategy, {}), horizon, settings=load_settings(config)
    )
    return trades, kinds
