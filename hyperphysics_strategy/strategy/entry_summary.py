"""Why a pair entered as often as it did: one line per pair from the analysed candles.

A strategy that stays flat must say why (issue #21: three weeks, three pairs, 0 trades and
no line about it). :func:`entry_summary` reads what ``populate_entry_trend`` computed: the
candles with a prediction, the share of them FreqAI trusted (``do_predict`` 1), the
entries, and the highest EV each side reached in units of the trade's volatility over the
horizon (``sigma * sqrt(h)``), which is what the entry margin is compared with.

:class:`EntrySummaries` decides when to log it: in backtesting ``populate_entry_trend``
runs once per pair over the whole range, so every call is logged; live and dry-run call it
on every new candle, so a pair's line is logged at most once per ``interval``; hyperopt
(one call per pair and epoch) logs nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from . import features
from .cadence import Cadence

#: Candles whose class probabilities add up to less than this carry no prediction: FreqAI
#: fills the rows before the backtest range with zeros.
_PREDICTED = 0.5


def _best(ev: pd.Series, scale: pd.Series, dates: pd.Series) -> tuple[float, float, str]:
    """(highest EV / scale, that candle's EV, its date); NaN when no candle has both."""
    ratio = (ev / scale).replace([np.inf, -np.inf], np.nan)
    if ratio.notna().sum() == 0:
        return float("nan"), float("nan"), "-"
    i = ratio.idxmax()
    return float(ratio[i]), float(ev[i]), f"{dates[i]:%Y-%m-%d %H:%M}"


def entry_summary(df: pd.DataFrame, pair: str, margin: float, scale: pd.Series) -> str:
    """One line: entries, candles with a prediction, ``do_predict`` share, per side the
    highest EV against ``margin`` (both in units of ``scale`` = sigma * sqrt(h)), how many
    of the EV rule's bets the meta-label filter or the edge gate dropped, and for a pair
    with no entry, why."""
    probs = df[[c for c in features.CLASSES if c in df.columns]]
    predicted = probs.sum(axis=1, min_count=1).fillna(0.0) >= _PREDICTED
    n = int(predicted.sum())
    if n == 0:
        return f"HyperPhysics {pair}: no candle has a prediction yet: no entries possible"
    rows = df[predicted]
    trusted = float((rows["do_predict"] == 1).mean()) if "do_predict" in rows else 0.0
    sides = [("long", "enter_long", "hp_ev_long"), ("short", "enter_short", "hp_ev_short")]
    parts, entries, proposed = [], 0, 0
    for side, signal, ev in sides:
        if ev not in rows:
            continue
        entries += int((rows.get(signal, 0) == 1).sum())
        ok = rows["do_predict"] == 1
        side_scale = scale[predicted].where(ok)
        proposed += int((rows[ev].where(ok) / side_scale > margin).sum())
        ratio, value, date = _best(rows[ev].where(ok), side_scale, rows["date"])
        if np.isnan(ratio):
            parts.append(f"best {side} EV: none (no candle with do_predict 1 and a sigma)")
        else:
            verdict = "clears" if ratio > margin else "below"
            parts.append(
                f"best {side} EV {ratio:+.3f} x sigma*sqrt(h) ({value:+.3%}) at {date}, "
                f"{verdict} the margin {margin:+.2f}"
            )
    if proposed > entries:
        parts.append(
            f"the EV rule proposed {proposed}, {proposed - entries} dropped by the "
            "meta-label filter or the edge gate"
        )
    first, last = rows["date"].iloc[0], rows["date"].iloc[-1]
    return (
        f"HyperPhysics {pair}: {entries} entry signal(s) over {n} predicted candles "
        f"({first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M}); do_predict 1 on {trusted:.1%}; "
        + "; ".join(parts)
        + _why_none(entries, proposed, trusted)
    )


def _why_none(entries: int, proposed: int, trusted: float) -> str:
    """Why a pair made no entry, in one clause ('' when it made some)."""
    if entries:
        return ""
    if trusted == 0:
        return "; no entry: FreqAI trusted no candle (its outlier checks set them all aside)"
    if proposed == 0:
        return "; no entry: the model never priced a bet above the margin after fees"
    return "; no entry: every bet the EV rule proposed was dropped (meta-label or edge gate)"


class EntrySummaries:
    """When to log :func:`entry_summary`: every call in backtesting, at most once per pair
    per ``interval`` seconds live and in dry-run, never in hyperopt and other modes."""

    def __init__(self, interval: float = 3600.0, clock: Callable[[], float] = time.monotonic):
        self.cadence = Cadence(interval, clock)

    def due(self, pair: str, runmode: str) -> bool:
        if runmode == "backtest":
            return True
        return runmode in ("live", "dry_run") and self.cadence.due(pair)

    def log(
        self,
        logger: logging.Logger,
        runmode: str,
        df: pd.DataFrame,
        pair: str,
        margin: float,
        scale: pd.Series,
    ) -> None:
        if self.due(pair, runmode):
            logger.info("%s", entry_summary(df, pair, margin, scale))
