"""The strategy's features of one pair's candles, per feature group, for ``hyperphysics search``.

A search trial builds the features FreqAI would build for the strategy, outside freqtrade:

* ``indicators`` (always): :func:`.features.build_features` on the trial's timeframe, one
  indicator set per period;
* ``multi_timeframe``: the same indicators on 1h candles, merged with freqtrade's
  ``merge_informative_pair`` (a 1h candle's values appear once it has closed), as
  ``include_timeframes: [tf, "1h"]`` does;
* ``risk``: the rolling VaR/ES and option Greeks columns (:mod:`.risk_features`) over one day;
* ``regime``: the causal regime probabilities with the strategy's default regime settings
  (``features.add_regime_features``, ``settings.RegimeSettings``).

:func:`trial_features` is what the CLI hands to ``trading.search`` (which may not import
this layer).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from freqtrade.exchange import timeframe_to_seconds
from freqtrade.strategy import merge_informative_pair

from hyperphysics_strategy.engine.risk import GPURiskEngine

from . import features as F
from .risk_features import add_risk_columns
from .settings import RegimeSettings

INFORMATIVE = "1h"


def trial_features(
    candles: Mapping[str, pd.DataFrame],
    timeframe: str,
    groups: Sequence[str],
    periods: Sequence[int],
) -> pd.DataFrame:
    """Feature columns (``%``-prefixed) on the rows of ``F.ordered_candles(candles[timeframe])``.

    ``candles`` maps timeframes to one pair's candles; ``multi_timeframe`` needs ``"1h"``.
    """
    base = F.ordered_candles(candles[timeframe])
    out = F.build_features(base, periods)
    if "multi_timeframe" in groups and timeframe != INFORMATIVE:
        if INFORMATIVE not in candles:
            raise ValueError(f"feature group multi_timeframe needs {INFORMATIVE} candles")
        inf = F.ordered_candles(candles[INFORMATIVE])
        inf_feat = F.build_features(inf, periods)
        inf_feat = inf_feat[[c for c in inf_feat if "hour_" not in c and "dow_" not in c]]
        inf_feat.columns = [c.removeprefix("%-") for c in inf_feat.columns]
        inf_feat["date"] = inf["date"]
        merged = merge_informative_pair(
            base[["date"]].copy(), inf_feat, timeframe, INFORMATIVE, ffill=True
        )
        for col in merged.columns:
            if col.endswith(f"_{INFORMATIVE}") and not col.startswith("date"):
                out[f"%-{col}"] = merged[col].to_numpy()
    if "risk" in groups:
        seconds = timeframe_to_seconds(timeframe)
        window = max(20, int(86_400 // seconds))
        risk = add_risk_columns(base.copy(), GPURiskEngine(seed=0), seconds, window)
        for col in risk.columns:
            if col.startswith("%"):
                out[col] = risk[col].to_numpy()
    if "regime" in groups:
        regime = F.add_regime_features(
            base.copy(), timeframe_to_seconds(timeframe), RegimeSettings(enabled=True)
        )
        for col in regime.columns:
            if col.startswith("%") and col not in out:
                out[col] = regime[col].to_numpy()
    return out.replace([np.inf, -np.inf], np.nan)
