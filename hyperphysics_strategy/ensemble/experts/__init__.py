"""Experts by name: six tree ensembles and six PyTorch networks.

The names are those of the hardware module's ``DEFAULT_EXPERTS`` (the device plan places
them by library).
"""

from __future__ import annotations

from typing import Any

from .base import Expert, FitData, Placement
from .catboost_expert import CatBoostAltExpert, CatBoostExpert
from .lightgbm_expert import LightGBMExpert
from .neural import NEURAL_EXPERTS
from .torch_base import TorchExpert
from .xgboost_expert import XGBoostDARTExpert, XGBoostExpert, XGBoostRFExpert

EXPERT_REGISTRY: dict[str, type[Expert]] = {
    cls.name: cls
    for cls in (
        LightGBMExpert,
        XGBoostExpert,
        CatBoostExpert,
        XGBoostRFExpert,
        XGBoostDARTExpert,
        CatBoostAltExpert,
        *NEURAL_EXPERTS,
    )
}


def make_expert(name: str, params: dict[str, Any] | None = None, seed: int = 0) -> Expert:
    """Instantiate the expert registered as ``name``; unknown names raise ``ValueError``."""
    try:
        cls = EXPERT_REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(EXPERT_REGISTRY))
        raise ValueError(f"unknown expert {name!r}; known experts: {known}") from None
    return cls(params=params, seed=seed)


__all__ = [
    "EXPERT_REGISTRY",
    "Expert",
    "FitData",
    "Placement",
    "TorchExpert",
    "make_expert",
]
