"""The strategy's own config section, ``"hyperphysics": {...}``, validated with pydantic.

Unknown keys are rejected, so a typo fails at start-up with the key named instead of
being silently ignored. Each field's ``description`` is its documentation: the section that
``hyperphysics init`` writes and docs/config.md are generated from this model
(``stubs/settings_doc.py``), so a new key needs a description and nothing else.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    ValidationError,
    model_validator,
)

#: A count of at least one.
Count = Annotated[int, Field(ge=1)]
#: A stop distance as a fraction of the entry price.
PriceFraction = Annotated[float, Field(gt=0, lt=1)]


class ClusterSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    address: str | None = Field(
        None,
        min_length=1,
        description="Ray cluster (host:port of its head) that the ray training backend "
        "(freqai.model_training_parameters.backend) joins; null: RAY_ADDRESS, else a Ray "
        "started on this machine. See docs/ray.md.",
    )


class RiskSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    var_budget: PositiveFloat = Field(
        0.02,
        le=1,
        description="Fraction of the wallet that one position's one-day 99% VaR may use.",
    )
    risk_window: int = Field(
        288,
        ge=20,
        le=10_000,
        description="Trailing candles for rolling VaR/ES (288 = one day of 5m candles); at most "
        "10,000 (35 days of 5m candles): a longer window leaves the risk columns empty (NaN) "
        "for that many candles of every backtest and live start.",
    )
    es_stop_multiplier: PositiveFloat = Field(
        1.0,
        le=100,
        description="Stop distance = es_stop_multiplier x ES_99 x sqrt(label horizon), "
        "clipped to [stop_floor, stop_cap].",
    )
    stop_floor: PriceFraction = Field(
        0.01, description="Smallest stop distance, as a fraction of the entry price."
    )
    stop_cap: PriceFraction = Field(
        0.12, description="Largest stop distance, as a fraction of the entry price."
    )
    option_days: PositiveFloat = Field(
        7.0,
        le=730,
        description="Days to expiry of the synthetic at-the-money option whose Greeks are "
        "features; at most 730 (two years, beyond the longest listed crypto options).",
    )
    orderbook_levels: Count = Field(
        20,
        le=1000,
        description="L2 levels per side recorded live and used for the hyperbolic features.",
    )
    max_var_breaches: Count = Field(
        3,
        le=1000,
        description="Pause entries when this many closed trades lost more than their one-day VaR "
        "within breach_lookback_hours.",
    )
    breach_lookback_hours: PositiveFloat = Field(
        24.0,
        le=8760,
        description="Window, in hours, in which VaR breaches are counted; at most 8760 (a year).",
    )
    breach_pause_minutes: Count = Field(
        120,
        le=525_600,
        description="How long entries pause after max_var_breaches breaches, in minutes; at "
        "most 525,600 (a year).",
    )
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)
    exit_agent: Literal["auto", "on", "off"] = Field(
        "auto",
        description="Who exits open trades before their barriers: auto asks the exit agent "
        "saved beside the model only where it beat the barriers out of sample for this "
        "configuration (else the barriers alone, as with off); on asks it whenever one is "
        "saved (an error at start without one). Needs the rl extra. See docs/strategy.md.",
    )
    exit_agent_folder: str | None = Field(
        None,
        min_length=1,
        description="Folder of the saved exit agent; null: user_data/models/<freqai "
        "identifier>/exit_agent.",
    )

    @model_validator(mode="after")
    def _bounds(self) -> RiskSettings:
        if self.stop_floor > self.stop_cap:
            raise ValueError(f"stop_floor {self.stop_floor} exceeds stop_cap {self.stop_cap}")
        return self


def load_settings(config: dict[str, Any]) -> RiskSettings:
    """Read ``config["hyperphysics"]``; raise ``ValueError`` naming each bad key."""
    section = config.get("hyperphysics", {}) or {}
    try:
        return RiskSettings(**section)
    except ValidationError as exc:
        problems = "; ".join(
            f"hyperphysics.{'.'.join(str(p) for p in e['loc'])}: {e['msg']} (got {e['input']!r})"
            if e["loc"]
            else f"hyperphysics.(section): {e['msg']}"
            for e in exc.errors()
        )
        raise ValueError(f"invalid hyperphysics config: {problems}") from None
