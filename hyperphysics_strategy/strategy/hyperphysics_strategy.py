"""HyperPhysicsStrategy: trades the HyperPhysics ensemble's class probabilities.

The FreqAI model (``HyperPhysicsEnsemble`` or a single expert) predicts, for each candle,
the probabilities that the price moves down (``sell``), stays within a volatility band
(``neutral``) or moves up (``buy``) over the next ``label_period_candles``. The strategy
enters long when ``buy`` is likely enough and more likely than ``sell``, and exits when
``sell`` becomes likely; with ``trading_mode: futures`` it trades the mirror image short.
Thresholds are hyperoptable.

Risk is managed the way a risk desk would: each position is sized so that its one-day
99% VaR uses a fixed fraction of the wallet, its stop sits at a multiple of the 99%
Expected Shortfall, and entries pause when realised losses breach VaR too often.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from freqtrade.exchange import timeframe_to_seconds
from freqtrade.persistence import Order, Trade
from freqtrade.strategy import DecimalParameter, IStrategy, stoploss_from_open

from hyperphysics_strategy.engine.hardware import log_summary
from hyperphysics_strategy.engine.risk import GPURiskEngine
from hyperphysics_strategy.ensemble.decision import (
    DEFAULT_MIN_MARGIN,
    DEFAULT_MIN_PROBABILITY,
    edge_signal,
)

from . import features, risk_features, sizing, var_guard
from .orderbook_features import OrderBookFeatures
from .settings import load_settings

logger = logging.getLogger(__name__)

ES_STOP = "hp_es_stop"  # trade custom data: stop distance fixed at entry
VAR_1D = "hp_var_99_1d"  # trade custom data: one-day 99% VaR at entry


class HyperPhysicsStrategy(IStrategy):
    INTERFACE_VERSION = 3

    timeframe = "5m"
    process_only_new_candles = True  # required by FreqAI
    startup_candle_count: int = 300  # covers the one-day risk window of 5m candles
    can_short = False  # set from trading_mode in __init__

    minimal_roi = {"0": 0.04, "120": 0.02, "360": 0.0}
    stoploss = -0.15  # hard limit; the ES stop (custom_stoploss) sits inside it
    use_custom_stoploss = True
    use_exit_signal = True
    exit_profit_only = False

    # Entry and exit thresholds on the predicted class probabilities. The ensemble's
    # probabilities are calibrated (near the class frequencies when it sees no edge, e.g.
    # sell 0.25 / neutral 0.5 / buy 0.25), so the defaults ask for a directional edge
    # (p(buy) - p(sell)) large enough to pay the fees (see docs/strategy.md).
    entry_probability = DecimalParameter(
        0.20, 0.80, decimals=2, default=DEFAULT_MIN_PROBABILITY, space="buy"
    )
    entry_margin = DecimalParameter(0.0, 0.30, decimals=2, default=DEFAULT_MIN_MARGIN, space="buy")
    exit_probability = DecimalParameter(0.20, 0.80, decimals=2, default=0.35, space="sell")

    # Target definition (see features.direction_labels).
    label_vol_window = 288
    label_threshold_sigma = 0.5

    # FreqAI strips the "%" feature columns from the dataframe it returns, so the plots
    # use the "hp_" copies that risk_features and orderbook_features keep for them.
    plot_config = {
        "main_plot": {
            "hp_var_95_floor": {"color": "#f4a261"},
            "hp_var_99_floor": {"color": "#e76f51"},
        },
        "subplots": {
            "class probabilities": {
                "buy": {"color": "green"},
                "neutral": {"color": "grey"},
                "sell": {"color": "red"},
            },
            "one-day VaR 99% and ES 99%": {
                "hp_var_99_1d": {"color": "#e76f51"},
                "hp_es_99": {"color": "#9b2226"},
            },
            "hyperbolic order book": {
                "hp_ob_imbalance_5": {"color": "#264653"},
                "hp_ob_centroid_distance": {"color": "#2a9d8f"},
                "hp_ob_source": {"color": "#8d99ae"},
            },
            "do_predict": {"do_predict": {"color": "brown"}},
        },
    }

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__(config)
        self.can_short = config.get("trading_mode", "spot") != "spot"
        self.settings = load_settings(config)
        self.risk_engine = GPURiskEngine(seed=0)
        self.orderbooks = OrderBookFeatures(
            Path(config["user_data_dir"]) / "orderbooks",
            config.get("exchange", {}).get("name", "exchange"),
            levels=self.settings.orderbook_levels,
        )

    def bot_start(self, **kwargs: Any) -> None:
        log_summary(logger)  # hardware and device plan, once per process
        logger.info("HyperPhysics risk settings: %s", self.settings.model_dump())

    # -- FreqAI feature hooks --------------------------------------------------------------
    def feature_engineering_expand_all(
        self, dataframe: pd.DataFrame, period: int, metadata: dict, **kwargs: Any
    ) -> pd.DataFrame:
        return features.add_indicator_features(dataframe, period)

    def feature_engineering_expand_basic(
        self, dataframe: pd.DataFrame, metadata: dict, **kwargs: Any
    ) -> pd.DataFrame:
        return features.add_basic_features(dataframe)

    def feature_engineering_standard(
        self, dataframe: pd.DataFrame, metadata: dict, **kwargs: Any
    ) -> pd.DataFrame:
        timeframe_seconds = timeframe_to_seconds(self.timeframe)
        dataframe = features.add_calendar_features(dataframe)
        dataframe = self.orderbooks.add(dataframe, metadata["pair"], timeframe_seconds)
        return risk_features.add_risk_columns(
            dataframe,
            self.risk_engine,
            timeframe_seconds,
            window=self.settings.risk_window,
            option_days=self.settings.option_days,
        )

    def set_freqai_targets(
        self, dataframe: pd.DataFrame, metadata: dict, **kwargs: Any
    ) -> pd.DataFrame:
        self.freqai.class_names = list(features.CLASSES)
        dataframe[features.TARGET_COLUMN] = features.direction_labels(
            dataframe["close"], self._horizon(), self.label_vol_window, self.label_threshold_sigma
        )
        return dataframe

    def _horizon(self) -> int:
        return int(self.freqai_info["feature_parameters"]["label_period_candles"])

    # -- signals -----------------------------------------------------------------------------
    def populate_indicators(self, dataframe: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        if self.dp.runmode.value in ("live", "dry_run"):
            # Keep this candle's L2 book: backtests over this period will use it.
            book = self.dp.orderbook(metadata["pair"], self.settings.orderbook_levels)
            self.orderbooks.record(metadata["pair"], book, int(datetime.now().timestamp() * 1000))
        dataframe = self.freqai.start(dataframe, metadata, self)
        # Sizing, stops and plots read hp_ columns. feature_engineering_standard adds them,
        # but FreqAI skips feature engineering when it reuses saved predictions: only then
        # compute them here (not on every live candle, where FreqAI already did).
        timeframe_seconds = timeframe_to_seconds(self.timeframe)
        if "hp_var_99_1d" not in dataframe.columns:
            dataframe = risk_features.add_risk_management_columns(
                dataframe, self.risk_engine, timeframe_seconds, self.settings.risk_window
            )
        if "hp_ob_source" not in dataframe.columns:
            dataframe = self.orderbooks.add(
                dataframe, metadata["pair"], timeframe_seconds, features=False
            )
        if self.dp.runmode.value in ("live", "dry_run") and len(dataframe):
            last = dataframe.iloc[-1]
            probs = "  ".join(f"p({c})={last.get(c, float('nan')):.3f}" for c in features.CLASSES)
            do_predict = last.get("do_predict", float("nan"))
            logger.info(
                "HyperPhysics %s %s: %s do_predict=%s",
                metadata["pair"],
                last["date"],
                probs,
                "nan" if pd.isna(do_predict) else int(do_predict),
            )
        return dataframe

    def _confident(self, df: pd.DataFrame, side: str, other: str) -> pd.Series:
        edge = edge_signal(
            df[side], df[other], self.entry_probability.value, self.entry_margin.value
        )
        return (df["do_predict"] == 1) & edge

    def populate_entry_trend(self, df: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        df.loc[self._confident(df, "buy", "sell"), ["enter_long", "enter_tag"]] = (1, "p_buy")
        if self.can_short:
            df.loc[self._confident(df, "sell", "buy"), ["enter_short", "enter_tag"]] = (
                1,
                "p_sell",
            )
        return df

    def populate_exit_trend(self, df: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        df.loc[df["sell"] >= self.exit_probability.value, ["exit_long", "exit_tag"]] = (1, "p_sell")
        if self.can_short:
            df.loc[df["buy"] >= self.exit_probability.value, ["exit_short", "exit_tag"]] = (
                1,
                "p_buy",
            )
        return df

    # -- risk ----------------------------------------------------------------------------------
    def _last_row(self, pair: str) -> pd.Series | None:
        df, _ = self.dp.get_analyzed_dataframe(pair, self.timeframe)
        return None if df is None or df.empty else df.iloc[-1]

    def custom_stake_amount(
        self,
        pair: str,
        current_time: datetime,
        current_rate: float,
        proposed_stake: float,
        min_stake: float | None,
        max_stake: float,
        leverage: float,
        entry_tag: str | None,
        side: str,
        **kwargs: Any,
    ) -> float:
        row = self._last_row(pair)
        var_1d = float(row.get(VAR_1D, float("nan"))) if row is not None else float("nan")
        stake = sizing.var_budget_stake(
            self.wallets.get_total_stake_amount(),
            var_1d * leverage,
            self.settings.var_budget,
            min_stake,
            min(max_stake, proposed_stake),
        )
        return proposed_stake if stake is None else stake

    def _stop_distance(self, pair: str) -> float | None:
        row = self._last_row(pair)
        es = float(row.get("hp_es_99", float("nan"))) if row is not None else float("nan")
        return sizing.es_stop_distance(
            es,
            self._horizon(),
            self.settings.es_stop_multiplier,
            self.settings.stop_floor,
            self.settings.stop_cap,
        )

    def order_filled(
        self, pair: str, trade: Trade, order: Order, current_time: datetime, **kwargs: Any
    ) -> None:
        if order.ft_order_side != trade.entry_side or trade.get_custom_data(ES_STOP) is not None:
            return
        distance = self._stop_distance(pair)
        if distance is not None:
            trade.set_custom_data(ES_STOP, distance)
        row = self._last_row(pair)
        if row is not None and pd.notna(row.get(VAR_1D)):
            trade.set_custom_data(VAR_1D, float(row[VAR_1D]))

    def custom_stoploss(
        self,
        pair: str,
        trade: Trade,
        current_time: datetime,
        current_rate: float,
        current_profit: float,
        after_fill: bool,
        **kwargs: Any,
    ) -> float | None:
        distance = trade.get_custom_data(ES_STOP)
        if distance is None:
            return None  # keep the static stoploss
        return stoploss_from_open(
            -float(distance), current_profit, is_short=trade.is_short, leverage=trade.leverage
        )

    def confirm_trade_entry(
        self,
        pair: str,
        order_type: str,
        amount: float,
        rate: float,
        time_in_force: str,
        current_time: datetime,
        entry_tag: str | None,
        side: str,
        **kwargs: Any,
    ) -> bool:
        lookback = timedelta(hours=self.settings.breach_lookback_hours)
        closed = [
            var_guard.ClosedTrade(
                t.close_date_utc, t.close_profit or 0.0, t.get_custom_data(VAR_1D)
            )
            for t in Trade.get_trades_proxy(is_open=False, close_date=current_time - lookback)
        ]
        if var_guard.should_pause(closed, current_time, lookback, self.settings.max_var_breaches):
            until = current_time + timedelta(minutes=self.settings.breach_pause_minutes)
            self.lock_pair("*", until, reason="HyperPhysics: realised losses breach VaR too often")
            logger.warning(
                "HyperPhysics: %d trades lost more than their one-day VaR in %s; "
                "entries paused until %s",
                var_guard.count_breaches(closed, current_time, lookback),
                lookback,
                until,
            )
            return False
        return True
