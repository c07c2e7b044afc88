"""``custom_exit``'s exit agent: asks a saved exit policy about each open trade.

:class:`ExitAgentHook` loads the policy saved beside the FreqAI model
(:mod:`hyperphysics_strategy.trading.exit_agent.store`) once, at the first call, and
decides with ``hyperphysics.exit_agent`` (``auto`` / ``on`` / ``off``) whether to use it:
``auto`` only where the policy's verdict says it beat the barriers out of sample for this
configuration, so without such a policy the strategy exits exactly as without the hook.

For an open trade, at each candle the policy sees what the exit environment shows it in
training (:func:`~hyperphysics_strategy.trading.exit_agent.episodes.observe`), built from
the trade's signal candle and the last closed candle of the analyzed dataframe. It acts at
steps ``0 .. h-2`` (the time barrier owns step ``h-1``); the barriers stay in force. An
exit is tagged :data:`EXIT_REASON` (the exit table's ``agent`` row) and logged with the
trade and the policy's exit probability; holds are logged at debug level.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hyperphysics_strategy.trading.exit_agent import episodes as E
from hyperphysics_strategy.trading.exit_agent import store
from hyperphysics_strategy.trading.exits import EXIT_AGENT

logger = logging.getLogger(__name__)

EXIT_REASON = EXIT_AGENT
DECISION = "hp_exit_agent_p"  # trade custom data: the policy's last exit probability


def agent_folder(config: dict[str, Any], setting: str | None) -> Path:
    """``hyperphysics.exit_agent_folder``, else ``user_data/models/<identifier>/exit_agent``."""
    if setting:
        return Path(setting)
    identifier = (config.get("freqai") or {}).get("identifier", "")
    return Path(config["user_data_dir"]) / "models" / identifier / "exit_agent"


class ExitAgentHook:
    """The exit agent of one strategy instance (``mode``: ``hyperphysics.exit_agent``).

    ``bet``: this run's bet, or a function giving it (called only once a policy is saved).
    """

    def __init__(
        self, mode: store.Mode, folder: Path, bet: store.BetConfig | Callable[[], store.BetConfig]
    ) -> None:
        self.mode = mode
        self.folder = Path(folder)
        self._bet = bet
        self.policy_: Any = None
        self.active_: bool | None = None  # None: not decided yet

    @property
    def bet(self) -> store.BetConfig:
        if callable(self._bet):
            self._bet = self._bet()
        return self._bet

    def check_start(self) -> None:
        """At start: with ``on``, a policy must be saved and intact (else ``ValueError``)."""
        if self.mode == "on" and store.read_verdict(self.folder) is None:
            raise ValueError(self._none_saved())

    def _none_saved(self) -> str:
        return (
            f"hyperphysics.exit_agent is on but no exit agent is saved in {self.folder}: "
            "train one (benchmarks/studies/exit_agent_walkforward.py --save) or set it to auto"
        )

    def active(self) -> bool:
        """Load the saved policy once and apply the mode's rule (logged once)."""
        if self.active_ is None:
            self.active_ = self._decide_use()
        return self.active_

    def _decide_use(self) -> bool:
        if self.mode == "off":
            return False
        try:
            verdict = store.read_verdict(self.folder)
            use, why = store.agent_active(self.mode, verdict, None if verdict is None else self.bet)
            if use:
                self.policy_, _ = store.load_exit_agent(self.folder)
        except (OSError, ValueError, ImportError) as exc:
            if self.mode == "on":
                raise
            use, why = False, f"the exit agent in {self.folder} cannot be used ({exc})"
        if self.mode == "on" and not use:
            raise ValueError(self._none_saved())
        logger.info("HyperPhysics exit agent: %s", why)
        return use

    def observation(
        self, df: pd.DataFrame, open_date: pd.Timestamp, open_rate: float, timeframe_s: int
    ) -> tuple[int, np.ndarray] | None:
        """``(step, observation)`` of a trade opened at ``open_date`` from the analyzed
        candles ``df``; None before its first full candle, at the time barrier's step, or
        without its signal candle."""
        if df is None or df.empty:
            return None
        last = df.iloc[-1]
        tf = pd.Timedelta(seconds=timeframe_s)
        step = int((pd.Timestamp(last["date"]) - open_date) / tf)
        if not 0 <= step < self.bet.horizon - 1:
            return None
        signal = df.loc[df["date"] == open_date - tf]
        if signal.empty:
            return None
        t = signal.iloc[-1]

        def get(row: pd.Series, column: str) -> float:
            return float(row.get(column, np.nan))

        obs = E.observe(
            get(last, "close"), open_rate, get(t, "hp_sigma"), self.bet.horizon, step,
            get(last, "buy"), get(last, "sell"), get(t, "buy"), get(t, "sell"),
            get(last, "hp_sigma"), get(last, "hp_var_99_1d"), get(t, "hp_var_99_1d"),
            get(last, E.OPTIONAL["ob_imbalance"]), get(last, E.OPTIONAL["ob_centroid"]),
        )  # fmt: skip
        return step, obs

    def decide(self, pair: str, trade: Any, df: pd.DataFrame, timeframe_s: int) -> str | None:
        """:data:`EXIT_REASON` when the policy exits ``trade`` now, else None."""
        if trade.is_short or not self.active():  # the policy learnt long trades
            return None
        seen = self.observation(
            df, pd.Timestamp(trade.open_date_utc), float(trade.open_rate), timeframe_s
        )
        if seen is None:
            return None
        step, obs = seen
        p_exit = float(self.policy_.predict_proba(obs[None, :].astype(np.float32))[0, 1])
        trade.set_custom_data(DECISION, p_exit)
        if p_exit > 0.5:
            logger.info(
                "HyperPhysics exit agent %s trade %s: exit at step %d of %d (p(exit)=%.3f)",
                pair, trade.id, step, self.bet.horizon, p_exit,
            )  # fmt: skip
            return EXIT_REASON
        logger.debug("HyperPhysics exit agent %s trade %s: hold (p=%.3f)", pair, trade.id, p_exit)
        return None


class AgentExits:
    """The strategy mixin: ``custom_exit`` is the time barrier first (the next class in
    the MRO, :class:`~.trade_barriers.BarrierTrades`), then the exit agent. It reads the
    strategy's ``config``, ``settings``, ``timeframe``, ``dp`` and ``_bet()``."""

    def exit_agent_hook(self) -> ExitAgentHook:
        """The hook, built at the first call (hyperopt parameters are loaded by then)."""
        hook = getattr(self, "_exit_agent", None)
        if hook is None:
            from freqtrade.exchange import timeframe_to_seconds

            folder = agent_folder(self.config, self.settings.exit_agent_folder)
            hook = ExitAgentHook(self.settings.exit_agent, folder, self._exit_agent_bet)
            self._exit_agent, self._timeframe_s = hook, timeframe_to_seconds(self.timeframe)
        return hook

    def _exit_agent_bet(self) -> store.BetConfig:
        """This run's bet: timeframe, horizon, the trade's barrier multipliers (the label's
        times the hyperopt parameters ``exit_take_scale`` / ``exit_stop_scale``), fee."""
        bet = self._bet()

        def scale(name: str) -> float:
            param = getattr(self, name, None)
            return 1.0 if param is None else float(param.value)

        return store.BetConfig(
            timeframe=self.timeframe, horizon=bet.horizon, k_up=bet.k_up * scale("exit_take_scale"),
            k_down=bet.k_down * scale("exit_stop_scale"), fee=bet.fee,
        )  # fmt: skip

    def custom_exit(self, pair: str, trade: Any, *args: Any, **kwargs: Any) -> str | None:
        reason = super().custom_exit(pair, trade, *args, **kwargs)
        if reason is not None or self.settings.exit_agent == "off":
            return reason
        hook = self.exit_agent_hook()
        if not hook.active():
            return None
        df, _ = self.dp.get_analyzed_dataframe(pair, self.timeframe)
        return hook.decide(pair, trade, df, self._timeframe_s)
