"""Search dimensions an expert declares next to its defaults (``Expert.SEARCH_SPACE``).

Plain data, no search library: ``hyperphysics search`` (``trading/search/``) turns each
dimension into an Optuna suggestion. Keys are the library parameters the expert takes
(``params``), so a sampled configuration is a valid ``expert_params`` section as it is.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Real:
    """A real number in ``[low, high]`` (``log``: sampled on a log scale)."""

    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        if not self.low <= self.high:
            raise ValueError(f"{type(self).__name__}: low {self.low} exceeds high {self.high}")


class Int(Real):
    """A whole number in ``[low, high]`` (``log``: sampled on a log scale)."""


@dataclass(frozen=True)
class Choice:
    """One of ``options`` (JSON values: numbers, strings, booleans)."""

    options: tuple

    def __post_init__(self) -> None:
        if not self.options:
            raise ValueError("Choice needs at least one option")


Dimension = Int | Real | Choice
