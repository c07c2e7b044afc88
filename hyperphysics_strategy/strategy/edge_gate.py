"""The edge gate: dry-run and live trading enter only on an edge that survived a search.

``hyperphysics search`` writes its champion (:class:`~hyperphysics_strategy.trading.champion.
Champion`) into ``champion.json``, which a second ``-c`` merges into
``config["hyperphysics"]["champion"]``. :func:`edge_verdict` says whether it lets a pair
enter: its confirmation-period deflated Sharpe ratio is at least ``edge_min_dsr``, it was
found on the strategy's timeframe, its search ran on the pair, and its confirmation period
ended at most ``edge_max_age_days`` before the candle traded.

:class:`EdgeGate` applies it to the entry signals. Dry-run and live (with
``hyperphysics.require_edge``, the default): a refused pair's signals are cleared, and the
refusal is logged once per pair and then hourly ("no proven edge: DSR 0.41 over 312 trials;
run hyperphysics search, or set hyperphysics.require_edge false"). Backtests always trade the
configured rule and log the verdict once per pair and backtest; hyperopt logs nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from freqtrade.configuration import TimeRange
from freqtrade.exceptions import ConfigurationError

from hyperphysics_strategy.trading.champion import Champion

from .cadence import Cadence
from .settings import RiskSettings

ADVICE = "run hyperphysics search, or set hyperphysics.require_edge false"
SIGNALS = ("enter_long", "enter_short")


@dataclass(frozen=True)
class Verdict:
    """Whether the gate lets a pair enter, and why, in one line."""

    passed: bool
    reason: str


def confirmation_end(champion: Champion) -> datetime:
    """The end of the champion's confirmation period (``confirm_timerange``, freqtrade's
    format); an open end counts as the day the search wrote it. freqtrade's
    ``ValueError`` / ``ConfigurationError`` when the timerange cannot be read."""
    stop = TimeRange.parse_timerange(champion.confirm_timerange).stopdt
    return utc(stop if stop is not None else champion.created)


def utc(moment: datetime) -> pd.Timestamp:
    """``moment`` as a UTC timestamp; one without a time zone is taken as UTC."""
    stamp = pd.Timestamp(moment)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def edge_verdict(
    champion: Champion | None,
    *,
    pair: str,
    timeframe: str,
    now: datetime,
    min_dsr: float,
    max_age_days: float,
) -> Verdict:
    """The gate's verdict for ``pair`` on a ``timeframe`` candle at ``now`` (UTC)."""
    if champion is None:
        return Verdict(False, f"no proven edge: no champion (hyperphysics.champion); {ADVICE}")
    found = f"DSR {champion.dsr:.2f} over {champion.trials} trials"
    if champion.dsr < min_dsr:
        return Verdict(
            False,
            f"no proven edge: {found}, below hyperphysics.edge_min_dsr {min_dsr:.2f}; {ADVICE}",
        )
    if champion.timeframe != timeframe:
        return Verdict(
            False,
            f"no proven edge on {timeframe} candles: the champion ({found}) was found on "
            f"{champion.timeframe}; {ADVICE}",
        )
    if pair not in champion.pairs:
        return Verdict(
            False,
            f"no proven edge for {pair}: the champion's search ({found}) ran on "
            f"{', '.join(champion.pairs)}; {ADVICE}",
        )
    try:
        end = confirmation_end(champion)
    except (ValueError, ConfigurationError) as exc:
        return Verdict(
            False,
            f"no proven edge: the champion's confirm_timerange "
            f"{champion.confirm_timerange!r} is unreadable ({exc}); {ADVICE}",
        )
    age = (utc(now) - end).total_seconds() / 86400
    if age > max_age_days:
        return Verdict(
            False,
            f"no proven edge: the champion ({found}) was confirmed on a period ending "
            f"{end:%Y-%m-%d}, {age:.0f} days before this candle (hyperphysics.edge_max_age_days "
            f"{max_age_days:g}); {ADVICE}",
        )
    return Verdict(
        True,
        f"proven edge: champion of study {champion.study!r}, {found}, confirmed on "
        f"{champion.confirm_timerange} ({champion.trades} trades, "
        f"{champion.net_bp_per_trade:+.1f} bp per trade after fees)",
    )


class EdgeGate:
    """Applies :func:`edge_verdict` to a pair's entry signals (see the module's docstring);
    ``interval`` seconds of ``clock`` between two live lines about one pair."""

    def __init__(
        self,
        settings: RiskSettings,
        interval: float = 3600.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.settings = settings
        self.cadence = Cadence(interval) if clock is None else Cadence(interval, clock)
        self._passed: dict[str, bool] = {}

    def verdict(self, pair: str, timeframe: str, now: datetime) -> Verdict:
        return edge_verdict(
            self.settings.champion,
            pair=pair,
            timeframe=timeframe,
            now=now,
            min_dsr=self.settings.edge_min_dsr,
            max_age_days=self.settings.edge_max_age_days,
        )

    def apply(
        self, df: pd.DataFrame, pair: str, timeframe: str, runmode: str, logger: logging.Logger
    ) -> None:
        """Clear ``df``'s entry signals in dry-run and live unless the gate passes ``pair``
        on ``timeframe`` at the last candle; log the verdict (backtest: every call; live:
        once per pair, then each ``interval`` and whenever the verdict changes)."""
        if runmode not in ("backtest", "live", "dry_run") or df.empty:
            return
        verdict = self.verdict(pair, timeframe, df["date"].iloc[-1])
        if runmode == "backtest":
            logger.info(
                "HyperPhysics %s: edge gate (backtests trade the rule regardless): %s%s",
                pair, verdict.reason, self._would(verdict),
            )  # fmt: skip
            return
        if self._passed.get(pair) != verdict.passed:  # a change is news: say it now
            self._passed[pair] = verdict.passed
            self.cadence.reset(pair)
        if not verdict.passed and self.settings.require_edge:
            for column in SIGNALS:
                if column in df.columns:
                    df[column] = 0
            if "enter_tag" in df.columns:
                df["enter_tag"] = None
        if not self.cadence.due(pair):
            return
        if verdict.passed:
            logger.info("HyperPhysics %s: %s", pair, verdict.reason)
        elif self.settings.require_edge:
            logger.warning("HyperPhysics %s: %s", pair, verdict.reason)
        else:
            logger.warning(
                "HyperPhysics %s: hyperphysics.require_edge is false: trading the rule "
                "without a proven edge (%s)", pair, verdict.reason,
            )  # fmt: skip

    def _would(self, verdict: Verdict) -> str:
        if verdict.passed:
            return "; dry-run and live would enter"
        if not self.settings.require_edge:
            return "; dry-run and live trade anyway (hyperphysics.require_edge false)"
        return "; dry-run and live would stay flat"
