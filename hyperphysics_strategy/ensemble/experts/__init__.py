"""Experts by name: six tree ensembles and six PyTorch networks.

``EXPERT_REGISTRY`` lists all twelve; ``DEFAULT_EXPERTS`` is the ensemble's default list
(the two fast tree experts). Each expert declares the library it trains with
(``Expert.library``), which is what the hardware plan places. ``EXPERT_REGISTRY`` imports
an expert's module on first use, so the torch experts load with only torch, numpy, scipy
and pandas present, and a missing boosting library fails only the experts that need it,
with an error that names it; :func:`expert_libraries` reads the library without importing
it (a plan can place an expert whose library is missing here: on the CPU, saying why).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from hyperphysics_strategy.engine.hardware.placement import Placement

from .base import Expert, FitData

#: The ensemble's default experts (``ExpertEnsemble`` and the FreqAI model): the two tree
#: experts that retrain a pair in seconds on a CPU. All twelve: ``tuple(EXPERT_REGISTRY)``.
DEFAULT_EXPERTS: tuple[str, ...] = ("lightgbm", "xgboost")

#: module of this package -> the library its experts declare (``Expert.library``; a test
#: keeps the two equal)
_LIBRARY = {
    "lightgbm_expert": "lightgbm",
    "xgboost_expert": "xgboost",
    "catboost_expert": "catboost",
    "neural": "torch",
}

#: expert name -> (module in this package, class), in the registry's order: the tree
#: ensembles, then the networks (:data:`_NETWORKS`)
_WHERE: dict[str, tuple[str, str]] = {
    "lightgbm": ("lightgbm_expert", "LightGBMExpert"),
    "xgboost": ("xgboost_expert", "XGBoostExpert"),
    "catboost": ("catboost_expert", "CatBoostExpert"),
    "xgboost_rf": ("xgboost_expert", "XGBoostRFExpert"),
    "xgboost_dart": ("xgboost_expert", "XGBoostDARTExpert"),
    "catboost_alt": ("catboost_expert", "CatBoostAltExpert"),
}
#: the PyTorch networks, all in ``neural.py``: expert name -> class
_NETWORKS = {
    "mlp": "MLPExpert",
    "nbeats": "NBeatsExpert",
    "tide": "TiDEExpert",
    "tabnet": "TabNetExpert",
    "kan": "KANExpert",
    "transformer": "TransformerExpert",
}
_WHERE.update((name, ("neural", cls)) for name, cls in _NETWORKS.items())


class _Registry(Mapping[str, type[Expert]]):
    """Read-only ``name -> Expert class`` mapping that imports each module when asked."""

    def __getitem__(self, name: str) -> type[Expert]:
        module, cls = _WHERE[name]
        try:
            return getattr(importlib.import_module(f"{__name__}.{module}"), cls)
        except ImportError as exc:
            raise ImportError(
                f"expert {name!r} cannot be loaded: {exc}. Install the library it needs "
                f"(pip install {exc.name or 'the missing package'}) or leave it out."
            ) from exc

    def __iter__(self) -> Iterator[str]:
        return iter(_WHERE)

    def __len__(self) -> int:
        return len(_WHERE)

    def __repr__(self) -> str:
        return f"EXPERT_REGISTRY({list(_WHERE)})"


EXPERT_REGISTRY: Mapping[str, type[Expert]] = _Registry()


def expert_libraries(names: Sequence[str]) -> list[str]:
    """The library each named expert trains with, without importing it."""
    unknown = [n for n in names if n not in _WHERE]
    if unknown:
        raise ValueError(f"unknown expert(s) {unknown}; known experts: {', '.join(_WHERE)}")
    return [_LIBRARY[_WHERE[n][0]] for n in names]


def make_expert(name: str, params: dict[str, Any] | None = None, seed: int = 0) -> Expert:
    """Instantiate the expert registered as ``name``; unknown names raise ``ValueError``."""
    if name not in _WHERE:
        known = ", ".join(sorted(_WHERE))
        raise ValueError(f"unknown expert {name!r}; known experts: {known}")
    return EXPERT_REGISTRY[name](params=params, seed=seed)


def __getattr__(name: str) -> Any:  # ``from .experts import TorchExpert`` stays lazy
    if name == "TorchExpert":
        from .torch_base import TorchExpert

        return TorchExpert
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_EXPERTS",
    "EXPERT_REGISTRY",
    "Expert",
    "FitData",
    "Placement",
    "TorchExpert",
    "expert_libraries",
    "make_expert",
]
