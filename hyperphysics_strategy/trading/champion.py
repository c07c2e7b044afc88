"""A searched configuration that survived its confirmation period: ``hyperphysics.champion``.

``hyperphysics search`` writes it into ``champion.json``, a config fragment freqtrade reads with
a second ``-c``; the strategy's edge gate reads it back (through ``strategy/settings.py``) and
lets dry-run and live trading enter only on a champion that passes (deflated Sharpe ratio at
least ``hyperphysics.edge_min_dsr``, the same timeframe, the pair searched, a confirmation
period no older than ``hyperphysics.edge_max_age_days``).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from .bet import DEFAULT_BET


class Champion(BaseModel):
    """What the gate needs to know about the configuration a search chose."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    study: str = Field(min_length=1, description="Name of the Optuna study that chose it.")
    trials: int = Field(
        ge=1, description="Trials the study ever ran (failed and pruned ones included)."
    )
    dsr: float = Field(
        ge=0,
        le=1,
        description="Deflated Sharpe ratio on the confirmation period, counting every trial.",
    )
    timeframe: str = Field(min_length=1, description="Candle timeframe the bet is made on.")
    pairs: tuple[str, ...] = Field(min_length=1, description="Pairs the search ran on.")
    search_timerange: str = Field(description="freqtrade timerange the search saw.")
    confirm_timerange: str = Field(description="Untouched timerange the champion ran on once.")
    trades: int = Field(ge=0, description="Trades on the confirmation period.")
    net_bp_per_trade: float = Field(
        description="Mean net return per trade after fees on the confirmation period, in bp."
    )
    created: datetime = Field(description="When the search wrote it (UTC, ISO 8601).")
    horizon: int = Field(
        DEFAULT_BET.horizon, ge=1, description="Label horizon h in candles of the bet it chose."
    )
    k_up: float = Field(
        DEFAULT_BET.k_up, gt=0, description="Take-profit barrier k_up x sigma x sqrt(h)."
    )
    k_down: float = Field(
        DEFAULT_BET.k_down, gt=0, description="Stop barrier k_down x sigma x sqrt(h)."
    )
    entry_ev_margin: float = Field(
        DEFAULT_BET.margin,
        ge=0,
        description="Entry margin: EV > margin x sigma x sqrt(h) (the strategy's "
        "entry_ev_margin parameter; OUT/HyperPhysicsStrategy.json sets it).",
    )
