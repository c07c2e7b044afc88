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

from hyperphysics_strategy.trading.champion import Champion

#: A count of at least one.
Count = Annotated[int, Field(ge=1)]
#: Keys that ``hyperphysics init`` leaves out of the section it writes (another file sets them).
NOT_IN_INIT = {"written_by": "hyperphysics search"}
#: A span in hours, at most a year.
Hours = Annotated[float, Field(gt=0, le=8760)]
#: What ``regime.enabled`` switches on (its documentation).
REGIME = (
    "Add the 'regime' feature group: causal regime probabilities of a "
    "Markov-switching model of returns (%-regime_p1 ... : each regime but the calmest), "
    "fitted on the fit_hours before each block of refit_hours and filtered forward "
    "(trading/regime.py). Each block is one maximum-likelihood fit per pair, once per process."
)
#: What ``meta_label.enabled`` switches on (its documentation).
META_LABEL = (
    "Meta-labelling: a second classifier (trading/meta_label.py), refitted "
    "every refit_hours on the strategy's earlier bets whose outcome was known by then "
    "(FreqAI's predictions are out of sample), predicts whether each new entry pays; "
    "entries at or below threshold are dropped, the others' stake is scaled by "
    "2*Phi(z)-1 of that probability. No entry until min_bets bets have resolved."
)
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


class RegimeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(False, description=REGIME)
    k_regimes: int = Field(2, ge=2, le=4, description="Regimes of the model (2: calm, volatile).")
    fit_hours: Hours = Field(
        168.0,
        description="Hours of candles each block's model is fitted on (the hours before the "
        "block); at least 20 candles per regime.",
    )
    refit_hours: Hours = Field(
        24.0,
        description="Block length in hours: a new model every refit_hours, blocks anchored to "
        "the Unix epoch (so a value never depends on where the data starts).",
    )
    warmup_hours: float = Field(
        24.0,
        ge=0,
        le=8760,
        description="Hours before each block from which its filter starts (from the "
        "model's stationary distribution).",
    )

    def candles(self, timeframe_seconds: int) -> dict[str, int]:
        """``fit``, ``refit`` and ``warmup`` in candles of ``timeframe_seconds``."""
        per_hour = 3600 / timeframe_seconds
        return {
            "fit": max(1, round(self.fit_hours * per_hour)),
            "refit": max(1, round(self.refit_hours * per_hour)),
            "warmup": round(self.warmup_hours * per_hour),
        }


class MetaLabelSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(False, description=META_LABEL)
    min_bets: int = Field(
        30, ge=10, le=100_000, description="Fewest resolved bets the meta-model is fitted on."
    )
    refit_hours: Hours = Field(
        24.0, description="Hours between two fits of the meta-model (epoch-anchored)."
    )
    threshold: float = Field(
        0.5,
        ge=0.5,
        lt=1,
        description="Probability of paying at or below which the meta-model drops an entry.",
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
    regime: RegimeSettings = Field(default_factory=RegimeSettings)
    meta_label: MetaLabelSettings = Field(default_factory=MetaLabelSettings)
    require_edge: bool = Field(
        True,
        description="Dry-run and live trading enter only on a champion (hyperphysics.champion) "
        "that passes the edge gate: confirmation-period deflated Sharpe ratio at least "
        "edge_min_dsr, the strategy's timeframe, the pair among its pairs, a confirmation "
        "period ending at most edge_max_age_days before the candle. Otherwise the strategy "
        "stays flat and logs 'no proven edge' once per pair, then hourly. false: trade the "
        "configured rule without one. Backtests always trade the rule and log the verdict.",
    )
    edge_min_dsr: float = Field(
        0.95,
        ge=0,
        le=1,
        description="Smallest deflated Sharpe ratio (confirmation period, every trial of the "
        "search counted) that lets the edge gate open.",
    )
    edge_max_age_days: PositiveFloat = Field(
        90.0,
        le=3650,
        description="Oldest confirmation period the edge gate accepts: days from its end to "
        "the candle traded; an edge decays, search again when it is older.",
    )
    champion: Champion | None = Field(
        None,
        description="The configuration a search chose and confirmed, written by hyperphysics "
        "search into champion.json: load it with a second -c (init leaves it out). null: "
        "none, and the edge gate stays shut.",
        json_schema_extra=NOT_IN_INIT,
    )
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
