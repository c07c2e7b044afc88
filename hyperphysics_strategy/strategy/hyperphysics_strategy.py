"""HyperPhysicsStrategy: trades the triple-barrier bet the HyperPhysics ensemble predicts.

For each candle the target is a triple-barrier label (``trading.barriers``): barriers
``barrier_k_up`` / ``barrier_k_down`` x sigma x sqrt(h) above and below the close, ``h`` =
``label_period_candles``, and the class names the barrier touched first (``buy`` upper,
``sell`` lower, ``neutral`` the time barrier). The FreqAI model (``HyperPhysicsEnsemble``
or a single expert) predicts the three probabilities.

A trade is that same bet: the barriers are fixed at entry and stored on the trade, the
take-profit exits through ``custom_roi``, the stop through ``custom_stoploss`` (the nearer
of the lower barrier and the ES stop; the static ``stoploss`` is a hard cap) and the time
barrier through ``custom_exit`` after ``h`` candles. A side enters when the bet's expected
value after fees (``trading.decision``) exceeds a hyperoptable margin times sigma x
sqrt(h); with ``trading_mode: futures`` shorts take the mirrored bet.

Risk is managed the way a risk desk would: each position is sized so that its one-day
99% VaR uses a fixed fraction of the wallet, its stop sits at a multiple of the 99%
Expected Shortfall, and entries pause when realised losses breach VaR too often.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from freqtrade.exchange import timeframe_to_seconds
from freqtrade.strategy import DecimalParameter, IStrategy

from hyperphysics_strategy.engine.hardware import DevicePlan, log_summary
from hyperphysics_strategy.engine.risk import GPURiskEngine
from hyperphysics_strategy.ensemble.experts import expert_libraries
from hyperphysics_strategy.freqai.ensemble_model import M_TIME  # the model's extra return
from hyperphysics_strategy.trading.bet import DEFAULT_BET
from hyperphysics_strategy.trading.exits import ENTER_LONG, ENTER_SHORT

from . import features, risk_features
from .entry_summary import EntrySummaries
from .orderbook_features import OrderBookFeatures
from .settings import load_settings
from .trade_barriers import SIGMA, BarrierTrades

logger = logging.getLogger(__name__)


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


class HyperPhysicsStrategy(BarrierTrades, IStrategy):
    """Signals from the FreqAI model's barrier probabilities; the trade's life (stake,
    barriers, stops, VaR guard) is :class:`~.trade_barriers.BarrierTrades`'."""

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

    # -- hyperopt parameters (docs/strategy.md, "Hyperopt"); FreqAI's cached predictions
    # stay valid for all of them: none changes what the model learns.
    # Enter when the bet's EV after fees exceeds entry_ev_margin x sigma x sqrt(h). 0 is the
    # loosest the rule allows: below it the strategy takes bets its model prices as losing
    # after fees.
    entry_ev_margin = DecimalParameter(
        0.0, 0.5, decimals=2, default=DEFAULT_BET.margin, space="buy"
    )
    # The trade's take-profit / stop barriers as multiples of the label's (1: the bet the
    # model priced; the EV at entry is always the label's bet).
    exit_take_scale = DecimalParameter(0.5, 2.0, decimals=2, default=1.0, space="sell")
    exit_stop_scale = DecimalParameter(0.5, 2.0, decimals=2, default=1.0, space="sell")
    # The VaR budget of a position, in its own space: used instead of hyperphysics.var_budget
    # only while hyperopt tunes it or a strategy parameter file sets it.
    stake_var_budget = DecimalParameter(0.005, 0.05, decimals=3, default=0.02, space="stake")

    # Target and barrier definition (see trading.barriers), fixed for training.
    label_vol_window = DEFAULT_BET.vol_window
    barrier_k_up = DEFAULT_BET.k_up
    barrier_k_down = DEFAULT_BET.k_down

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
        self.entry_summaries = EntrySummaries()  # why each pair entered as often as it did
        self.risk_engine = GPURiskEngine(seed=0)
        self._warned_no_predictions: set[str] = set()  # pairs told they have no predictions
        self.orderbooks = OrderBookFeatures(
            Path(config["user_data_dir"]) / "orderbooks",
            config.get("exchange", {}).get("name", "exchange"),
            levels=self.settings.orderbook_levels,
        )

    def bot_start(self, **kwargs: Any) -> None:
        # hardware and the device plan of the FreqAI model's experts, once per process
        names = getattr(getattr(self, "freqai", None), "expert_names", None)
        plan = None
        if callable(names):
            experts = list(names())
            plan = DevicePlan.build(expert_libraries(experts), names=experts)
        log_summary(logger, plan=plan)
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

    def _prediction_columns(self, df: pd.DataFrame, pair: str) -> None:
        """Adds the probability and ``do_predict`` columns FreqAI did not give as NaN / 0
        (a pair whose data starts after the backtest start has no predictions for its
        first candles): those candles enter nothing, and the pair's backtest goes on.
        Logged once per pair."""
        missing = [c for c in (*features.CLASSES, "do_predict", SIGMA) if c not in df.columns]
        if not missing:
            return
        if pair not in self._warned_no_predictions:
            self._warned_no_predictions.add(pair)
            logger.warning(
                "HyperPhysics %s: no %s column from FreqAI (no model for these candles): "
                "no entries for them", pair, ", ".join(missing),
            )  # fmt: skip
        for column in missing:
            df[column] = 0 if column == "do_predict" else float("nan")

    def populate_entry_trend(self, df: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        self._prediction_columns(df, metadata["pair"])
        bet, sigma = self._bet(), df[SIGMA]
        m_time = df[M_TIME] if M_TIME in df.columns else 0.0
        ev_long, ev_short = bet.expected_values(df["buy"], df["sell"], df["neutral"], sigma, m_time)
        signal = bet.signal(ev_long, ev_short if self.can_short else None, sigma)
        ok = df["do_predict"] == 1
        # Signal columns always exist: freqtrade would otherwise read the probability
        # columns "buy" / "sell" as legacy entry / exit signals.
        df["enter_long"] = 0
        df["hp_ev_long"] = ev_long
        df.loc[ok & (signal == 1), ["enter_long", "enter_tag"]] = (1, ENTER_LONG)
        if self.can_short:
            df["enter_short"] = 0
            df["hp_ev_short"] = ev_short
            df.loc[ok & (signal == -1), ["enter_short", "enter_tag"]] = (1, ENTER_SHORT)
        scale = pd.Series(bet.sigma_horizon(sigma), index=df.index)
        self._summarise_entries(df, metadata["pair"], bet.margin, scale)
        return df

    def _summarise_entries(self, df: pd.DataFrame, pair: str, margin: float, scale) -> None:
        """Per pair: entries, ``do_predict`` share and the best EV against the margin
        (:mod:`.entry_summary`; every pair in a backtest, hourly live, never in hyperopt)."""
        _guarded(
            "the entry summary", pair, None, self.entry_summaries.log, logger,
            self.dp.runmode.value, df, pair, margin, scale,
        )  # fmt: skip

    def populate_exit_trend(self, df: pd.DataFrame, metadata: dict) -> pd.DataFrame:
        # Exits are the trade's barriers (custom_roi, custom_stoploss, custom_exit). The
        # columns stay 0 so that freqtrade does not read the "sell" probability as a signal.
        df["exit_long"] = 0
        if self.can_short:
            df["exit_short"] = 0
        return df
