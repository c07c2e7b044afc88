"""HyperPhysicsStrategy: trades the triple-barrier bet the HyperPhysics ensemble predicts.

For each candle the target is a triple-barrier label (``ensemble.barriers``): barriers
``barrier_k_up`` / ``barrier_k_down`` x sigma x sqrt(h) above and below the close, ``h`` =
``label_period_candles``, and the class names the barrier touched first (``buy`` upper,
``sell`` lower, ``neutral`` the time barrier). The FreqAI model (``HyperPhysicsEnsemble``
or a single expert) predicts the three probabilities.

A trade is that same bet: the barriers are fixed at entry and stored on the trade, the
take-profit exits through ``custom_roi``, the stop through ``custom_stoploss`` (the nearer
of the lower barrier and the ES stop; the static ``stoploss`` is a hard cap) and the time
barrier through ``custom_exit`` after ``h`` candles. A side enters when the bet's expected
value after fees (``ensemble.decision``) exceeds a hyperoptable margin times sigma x
sqrt(h); with ``trading_mode: futures`` shorts take the mirrored bet.

Risk is managed the way a risk desk would: each position is sized so that its one-day
99% VaR uses a fixed fraction of the wallet, its stop sits at a multiple of the 99%
Expected Shortfall, and entries pause when realised losses breach VaR too often.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from freqtrade.exchange import timeframe_to_seconds
from freqtrade.persistence import Order, Trade
from freqtrade.strategy import (
    DecimalParameter,
    IStrategy,
    stoploss_from_absolute,
    stoploss_from_open,
)

from hyperphysics_strategy.engine.hardware import log_summary
from hyperphysics_strategy.engine.risk import GPURiskEngine
from hyperphysics_strategy.ensemble.decision import (
    DEFAULT_EV_MARGIN,
    ev_signal,
    long_expected_value,
    short_expected_value,
)
from hyperphysics_strategy.freqai.ensemble_model import M_TIME  # the model's extra return

from . import features, risk_features, sizing, var_guard
from .orderbook_features import OrderBookFeatures
from .settings import load_settings

logger = logging.getLogger(__name__)

ES_STOP = "hp_es_stop"  # trade custom data: stop distance fixed at entry
VAR_1D = "hp_var_99_1d"  # trade custom data: one-day 99% VaR at entry
TAKE_PRICE = "hp_take_price"  # trade custom data: take-profit barrier price
STOP_PRICE = "hp_stop_price"  # trade custom data: stop barrier price
TIME_CANDLES = "hp_time_candles"  # trade custom data: time barrier, in candles
SIGMA = "hp_sigma"  # dataframe: trailing one-candle volatility (the barriers' sigma)
DEFAULT_FEE = 0.001  # fee per side assumed by the EV when the config sets none


def _guarded(what: str, pair: str, fallback: Any, step: Callable[..., Any], *args, **kwargs) -> Any:
    """``step(*args, **kwargs)``, or ``fallback`` with a warning when it raises: a per-candle
    step outside FreqAI must never cost the pair its candle."""
    try:
        return step(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - any failure here must not stop the candle
        logger.warning(
            "HyperPhysics %s: %s failed, the candle goes on without it (%s: %s)",
            pair, what, type(exc).__name__, exc,
        )  # fmt: skip
        return fallback


def _log_prediction(pair: str, dataframe: pd.DataFrame) -> None:
    last = dataframe.iloc[-1]
    probs = "  ".join(f"p({c})={last.get(c, float('nan')):.3f}" for c in features.CLASSES)
    do_predict = last.get("do_predict", float("nan"))
    logger.info(
        "HyperPhysics %s %s: %s do_predict=%s",
        pair,
        last["date"],
        probs,
        "nan" if pd.isna(do_predict) else int(do_predict),
    )


class HyperPhysicsStrategy(IStrategy):
    INTERFACE_VERSION = 3

    timeframe = "5m"
    process_only_new_candles = True  # required by FreqAI
    startup_candle_count: int = 300  # covers the one-day risk window of 5m candles
    can_short = False  # set from trading_mode in __init__

    # Exits are the trade's own barriers (custom_roi, custom_stoploss, custom_exit); the
    # table only keeps freqtrade's ROI check running for custom_roi, it never binds.
    minimal_roi = {"0": 100.0}
    use_custom_roi = True
    stoploss = -0.15  # hard limit; the barrier / ES stop (custom_stoploss) sits inside it
    use_custom_stoploss = True
    use_exit_signal = True  # needed for custom_exit (the time barrier)
    exit_profit_only = False

    # Enter when the bet's EV after fees exceeds entry_ev_margin x sigma x sqrt(h).
    entry_ev_margin = DecimalParameter(0.0, 0.5, decimals=2, default=DEFAULT_EV_MARGIN, space="buy")

    # Target and barrier definition (see ensemble.barriers), fixed for training.
    label_vol_window = 288
    barrier_k_up = 1.0
    barrier_k_down = 1.0

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
        # FreqAI returns the model's hp_m_time with its predictions (saved in its metadata)
        # only for keys declared here.
        freqai = config.get("freqai")
        if isinstance(freqai, dict):
            extra = dict(freqai.get("extra_returns_per_train") or {})
            extra.setdefault(M_TIME, 0.0)
            freqai["extra_returns_per_train"] = extra
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
        dataframe[features.TARGET_COLUMN] = features.barrier_labels(
            dataframe, self._horizon(), self.label_vol_window, self.barrier_k_up,
            self.barrier_k_down,
        )  # fmt: skip
        return dataframe

    def _horizon(self) -> int:
        return int(self.freqai_info["feature_parameters"]["label_period_candles"])

    # -- signals -----------------------------------------------------------------------------
    def populate_indicators(self, dataframe: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        """FreqAI's predictions plus the ``hp_`` columns that sizing, stops and plots read.

        Every step here outside FreqAI is guarded (:func:`_guarded`): when one fails (an
        exchange error fetching the book, a damaged history, bad prices) it logs a warning
        and the candle goes on without it, so the pair's signals still come. Missing ``hp_``
        columns read as NaN downstream (no barrier sigma: no entry).
        """
        pair = metadata["pair"]
        live = self.dp.runmode.value in ("live", "dry_run")
        if live:  # keep this candle's L2 book: backtests over this period will use it
            _guarded("recording the order book", pair, None, self._record_book, pair)
        dataframe = self.freqai.start(dataframe, metadata, self)
        # Sizing, stops and plots read hp_ columns. feature_engineering_standard adds them,
        # but FreqAI skips feature engineering when it reuses saved predictions: only then
        # compute them here (not on every live candle, where FreqAI already did).
        timeframe_seconds = timeframe_to_seconds(self.timeframe)
        if "hp_var_99_1d" not in dataframe.columns:
            dataframe = _guarded(
                "the risk columns", pair, dataframe, risk_features.add_risk_management_columns,
                dataframe, self.risk_engine, timeframe_seconds, self.settings.risk_window,
            )  # fmt: skip
        dataframe[SIGMA] = _guarded(
            "the barrier sigma", pair, float("nan"), features.barrier_sigma,
            dataframe["close"], self.label_vol_window,
        )  # fmt: skip
        if "hp_ob_source" not in dataframe.columns:
            dataframe = _guarded(
                "the order-book columns", pair, dataframe, self.orderbooks.add,
                dataframe, pair, timeframe_seconds, features=False,
            )  # fmt: skip
        if live and len(dataframe):
            _guarded("logging the prediction", pair, None, _log_prediction, pair, dataframe)
        return dataframe

    def _record_book(self, pair: str) -> None:
        book = self.dp.orderbook(pair, self.settings.orderbook_levels)
        self.orderbooks.record(pair, book, int(datetime.now().timestamp() * 1000))

    def _fee(self) -> float:
        fee = self.config.get("fee")
        return DEFAULT_FEE if fee is None else float(fee)

    def _barrier_distances(self, sigma):
        scale = sigma * self._horizon() ** 0.5
        return self.barrier_k_up * scale, self.barrier_k_down * scale

    def populate_entry_trend(self, df: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        sigma = df[SIGMA]
        d_up, d_down = self._barrier_distances(sigma)
        m_time = df[M_TIME] if M_TIME in df.columns else 0.0
        probs = (df["buy"], df["sell"], df["neutral"])
        scale = sigma * self._horizon() ** 0.5
        margin = float(self.entry_ev_margin.value)
        fee = self._fee()
        ok = df["do_predict"] == 1
        # Signal columns always exist: freqtrade would otherwise read the probability
        # columns "buy" / "sell" as legacy entry / exit signals.
        df["enter_long"] = 0
        df["hp_ev_long"] = long_expected_value(*probs, d_up, d_down, m_time, fee)
        long = ok & ev_signal(df["hp_ev_long"], scale, margin)
        df.loc[long, ["enter_long", "enter_tag"]] = (1, "ev_long")
        if self.can_short:
            df["enter_short"] = 0
            df["hp_ev_short"] = short_expected_value(*probs, d_up, d_down, m_time, fee)
            short = ok & ev_signal(df["hp_ev_short"], scale, margin)
            df.loc[short, ["enter_short", "enter_tag"]] = (1, "ev_short")
        return df

    def populate_exit_trend(self, df: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        # Exits are the trade's barriers (custom_roi, custom_stoploss, custom_exit). The
        # columns stay 0 so that freqtrade does not read the "sell" probability as a signal.
        df["exit_long"] = 0
        if self.can_short:
            df["exit_short"] = 0
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
        sigma = float(row.get(SIGMA, float("nan"))) if row is not None else float("nan")
        if sigma > 0:  # the bet's barriers, from the fill price and the signal's sigma
            d_up, d_down = self._barrier_distances(sigma)
            price = float(trade.open_rate)
            take, stop = (
                (price * math.exp(d_up), price * math.exp(-d_down))
                if not trade.is_short
                else (price * math.exp(-d_up), price * math.exp(d_down))
            )
            trade.set_custom_data(TAKE_PRICE, take)
            trade.set_custom_data(STOP_PRICE, stop)
        trade.set_custom_data(TIME_CANDLES, self._horizon())

    def custom_roi(
        self,
        pair: str,
        trade: Trade,
        current_time: datetime,
        trade_duration: int,
        entry_tag: str | None,
        side: str,
        **kwargs: Any,
    ) -> float | None:
        """The profit ratio (fees included) at the take-profit barrier."""
        take = trade.get_custom_data(TAKE_PRICE)
        return None if take is None else trade.calc_profit_ratio(float(take))

    def custom_exit(
        self,
        pair: str,
        trade: Trade,
        current_time: datetime,
        current_rate: float,
        current_profit: float,
        **kwargs: Any,
    ) -> str | None:
        """The time barrier: exit at the open of the candle ``h`` candles after entry."""
        candles = trade.get_custom_data(TIME_CANDLES) or self._horizon()
        limit = timedelta(seconds=timeframe_to_seconds(self.timeframe) * int(candles))
        return "time_barrier" if current_time - trade.open_date_utc >= limit else None

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
        """The nearer of the stop barrier and the ES stop (relative to ``current_rate``)."""
        stops = []
        distance = trade.get_custom_data(ES_STOP)
        if distance is not None:
            stops.append(
                stoploss_from_open(-float(distance), current_profit, trade.is_short, trade.leverage)
            )
        price = trade.get_custom_data(STOP_PRICE)
        if price is not None:
            stops.append(
                stoploss_from_absolute(float(price), current_rate, trade.is_short, trade.leverage)
            )
        return min(stops) if stops else None  # None keeps the static stoploss

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
