"""Experts by name. Later experts (CatBoost, the torch networks) register here."""

from __future__ import annotations

from typing import Any

from .base import Expert, FitData, Placement
from .lightgbm_expert import LightGBMExpert
from .xgboost_expert import XGBoostExpert

EXPERT_REGISTRY: dict[str, type[Expert]] = {
    cls.name: cls for cls in (LightGBMExpert, XGBoostExpert)
}


def make_expert(name: str, params: dict[str, Any] | None = None, seed: int = 0) -> Expert:
    """Instantiate the expert registered as ``name``; unknown names raise ``ValueError``."""
    try:
        cls = EXPERT_REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(EXPERT_REGISTRY))
        raise ValueError(f"unknown expert {name!r}; known experts: {known}") from None
    return cls(params=params, seed=seed)


__all__ = ["EXPERT_REGISTRY", "Expert", "FitData", "Placement", "make_expert"]
