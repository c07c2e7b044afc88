"""The bet, in one place: what a trade is and when it is made.

A :class:`BetSpec` fixes the triple-barrier bet (:mod:`.barriers`) and its entry rule
(:mod:`.decision`): the time barrier ``horizon`` in candles, the trailing volatility window
``vol_window`` of sigma, the barrier widths ``k_up`` / ``k_down`` (take-profit and stop, in
units of sigma x sqrt(h)), the ``fee`` per side, and the entry ``margin`` (a side enters when
its expected value after fees exceeds ``margin`` x sigma x sqrt(h)).

Its defaults are the package's defaults: the strategy's class attributes, the facade's
keyword arguments and the walk-forward evaluator read them from :data:`DEFAULT_BET`.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from .barriers import barrier_distances, horizon_sigma
from .decision import entry_signal, long_expected_value, short_expected_value


class BetSpec(BaseModel):
    """The triple-barrier bet and its EV entry rule (immutable; unknown keys are refused)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    horizon: int = Field(12, ge=1, description="Time barrier, in candles (label_period_candles).")
    vol_window: int = Field(288, ge=2, description="Candles of the trailing volatility sigma.")
    k_up: float = Field(1.0, gt=0, description="Take-profit barrier, in sigma x sqrt(h).")
    k_down: float = Field(1.0, gt=0, description="Stop barrier, in sigma x sqrt(h).")
    fee: float = Field(0.001, ge=0, lt=1, description="Fee per side, as a fraction.")
    margin: float = Field(
        0.0,
        description=(
            "Entry margin in sigma x sqrt(h): enter when EV after fees exceeds it. Chosen by "
            "benchmarks/decision_walkforward.py on Dec 2020 - Mar 2021 (docs/results.md), the "
            "best of 12 configurations; Apr - Jul 2021 did not confirm an edge."
        ),
    )

    @field_validator("k_up", "k_down", "margin")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError(f"must be a finite number, got {value}")
        return value

    def distances(self, sigma) -> tuple[np.ndarray, np.ndarray]:
        """Log distances ``(k_up, k_down) x sigma x sqrt(h)`` of a long's take-profit and stop."""
        return barrier_distances(sigma, self.horizon, self.k_up, self.k_down)

    def sigma_horizon(self, sigma) -> np.ndarray:
        """The trade's volatility over the horizon, ``sigma x sqrt(h)`` (the margin's unit)."""
        return horizon_sigma(sigma, self.horizon)

    def prices(
        self, price: float, sigma: float, is_short: bool = False, take_scale=1.0, stop_scale=1.0
    ) -> tuple[float, float]:
        """``(take-profit, stop)`` prices of a trade entered at ``price`` with one-candle
        ``sigma``; a short's barriers mirror. ``take_scale`` / ``stop_scale`` widen the
        trade's barriers against the label's (the strategy's hyperopt exit parameters)."""
        d_up, d_down = (float(d) for d in self.distances(sigma))
        d_up, d_down = d_up * take_scale, d_down * stop_scale
        if is_short:
            return price * math.exp(-d_up), price * math.exp(d_down)
        return price * math.exp(d_up), price * math.exp(-d_down)

    def expected_values(self, p_up, p_down, p_time, sigma, m_time) -> tuple[np.ndarray, np.ndarray]:
        """``(EV_long, EV_short)`` of the bet after fees (:mod:`.decision`)."""
        d_up, d_down = self.distances(sigma)
        args = (p_up, p_down, p_time, d_up, d_down, m_time, self.fee)
        return long_expected_value(*args), short_expected_value(*args)

    def signal(self, ev_long, ev_short, sigma) -> np.ndarray:
        """+1 (long), -1 (short) or 0 per row by the entry rule (:func:`.decision.entry_signal`);
        ``ev_short`` None: longs only."""
        return entry_signal(ev_long, ev_short, self.sigma_horizon(sigma), self.margin)


#: The package's bet: every default of the strategy, the facade and the evaluator.
DEFAULT_BET = BetSpec()
