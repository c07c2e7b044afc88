"""The life of a HyperPhysics trade: its stake, its barriers, its stops and the VaR guard.

:class:`BarrierTrades` holds the freqtrade callbacks that act on a trade once the signal
(``HyperPhysicsStrategy.populate_entry_trend``) has fired:

* ``custom_stake_amount``: the stake whose one-day 99% VaR uses ``var_budget`` of the
  wallet (:mod:`.sizing`);
* ``order_filled``: fixes the bet at the fill, stored on the trade: the take-profit and
  stop barriers from the fill price and the signal's sigma, the time barrier in candles,
  the ES stop distance and the one-day VaR;
* ``custom_roi`` (take-profit barrier), ``custom_exit`` (time barrier) and
  ``custom_stoploss`` (the nearer of the stop barrier and the ES stop);
* ``confirm_trade_entry``: pauses entries when realised losses breach VaR too often
  (:mod:`.var_guard`).

It is a mixin of the strategy class: it reads the strategy's ``dp``, ``timeframe``,
``settings``, ``wallets``, ``barrier_k_up`` / ``barrier_k_down`` and ``_horizon()``.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from freqtrade.exchange import timeframe_to_seconds
from freqtrade.persistence import Order, Trade
from freqtrade.strategy import stoploss_from_absolute, stoploss_from_open

from hyperphysics_strategy.trading.bet import DEFAULT_BET, BetSpec
from hyperphysics_strategy.trading.exits import TIME_BARRIER

from . import sizing, var_guard

logger = logging.getLogger(__name__)

ES_STOP = "hp_es_stop"  # trade custom data: stop distance fixed at entry
VAR_1D = "hp_var_99_1d"  # trade custom data: one-day 99% VaR at entry
TAKE_PRICE = "hp_take_price"  # trade custom data: take-profit barrier price
STOP_PRICE = "hp_stop_price"  # trade custom data: stop barrier price
TIME_CANDLES = "hp_time_candles"  # trade custom data: time barrier, in candles
SIGMA = "hp_sigma"  # dataframe: trailing one-candle volatility (the barriers' sigma)


def _param(obj: Any, name: str, default: float) -> float:
    """The value of the strategy's hyperopt parameter ``name``; ``default`` without one."""
    param = getattr(obj, name, None)
    return default if param is None else float(param.value)


class BarrierTrades:
    """freqtrade's trade callbacks for the triple-barrier bet (a mixin of the strategy)."""

    def _horizon(self) -> int:
        return int(self.freqai_info["feature_parameters"]["label_period_candles"])

    def _bet(self) -> BetSpec:
        """The bet of this strategy and config: the label's horizon and barriers, the
        config's ``fee`` (the bet's default when it sets none) and the entry margin."""
        fee = self.config.get("fee")
        return BetSpec(
            horizon=self._horizon(),
            vol_window=self.label_vol_window,
            k_up=self.barrier_k_up,
            k_down=self.barrier_k_down,
            fee=DEFAULT_BET.fee if fee is None else float(fee),
            margin=_param(self, "entry_ev_margin", DEFAULT_BET.margin),
        )

    def _var_budget(self) -> float:
        """``hyperphysics.var_budget``, or the hyperopt parameter ``stake_var_budget`` while
        hyperopt tunes it or a strategy parameter file sets it."""
        param = getattr(self, "stake_var_budget", None)
        from_file = (getattr(self, "_ft_params_from_file", None) or {}).get("stake") or {}
        if param is not None and (param.in_space or "stake_var_budget" in from_file):
            return float(param.value)
        return self.settings.var_budget

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
            self._var_budget(),
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
        if sigma > 0:  # the bet's barriers, from the fill price and the signal's sigma,
            # times the hyperopt parameters exit_take_scale / exit_stop_scale (1 when absent)
            take, stop = self._bet().prices(
                float(trade.open_rate),
                sigma,
                trade.is_short,
                _param(self, "exit_take_scale", 1.0),
                _param(self, "exit_stop_scale", 1.0),
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
        return TIME_BARRIER if current_time - trade.open_date_utc >= limit else None

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
