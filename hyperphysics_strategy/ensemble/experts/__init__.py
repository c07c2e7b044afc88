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
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
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


class ExpertEntry(NamedTuple):
    """Where a registered expert lives and what it is, read without importing it."""

    module: str  #: its module in this package
    cls: str  #: its class there
    summary: str  #: what it is, in a few words (docs, the single-expert FreqAI models)

    @property
    def library(self) -> str:
        """The library it trains with (``Expert.library``)."""
        return _LIBRARY[self.module]

    @property
    def title(self) -> str:
        """Its name in class names: ``XGBoostRFExpert`` -> ``XGBoostRF``."""
        return self.cls.removesuffix("Expert")


#: The one list of the experts: name -> entry, in the registry's order (the tree
#: ensembles, then the PyTorch networks, which all live in ``neural.py``). Everything else
#: that lists experts (``EXPERT_REGISTRY``, the single-expert FreqAI models and their stubs,
#: the tables in docs/ensemble.md) is read from it or checked against it by a test.
EXPERT_ENTRIES: Mapping[str, ExpertEntry] = MappingProxyType(
    {
        "lightgbm": ExpertEntry("lightgbm_expert", "LightGBMExpert", "LightGBM"),
        "xgboost": ExpertEntry("xgboost_expert", "XGBoostExpert", "XGBoost"),
        "catboost": ExpertEntry("catboost_expert", "CatBoostExpert", "CatBoost"),
        "xgboost_rf": ExpertEntry("xgboost_expert", "XGBoostRFExpert", "XGBoost random forest"),
        "xgboost_dart": ExpertEntry("xgboost_expert", "XGBoostDARTExpert", "XGBoost DART"),
        "catboost_alt": ExpertEntry(
            "catboost_expert", "CatBoostAltExpert", "the differently regularised CatBoost"
        ),
        "mlp": ExpertEntry("neural", "MLPExpert", "PyTorch MLP"),
        "nbeats": ExpertEntry("neural", "NBeatsExpert", "N-BEATS-style network"),
        "tide": ExpertEntry("neural", "TiDEExpert", "TiDE-style network"),
        "tabnet": ExpertEntry("neural", "TabNetExpert", "TabNet-style network"),
        "kan": ExpertEntry("neural", "KANExpert", "Kolmogorov-Arnold network"),
        "transformer": ExpertEntry("neural", "TransformerExpert", "FT-Transformer-style network"),
    }
)


class _Registry(Mapping[str, "type[Expert]"]):
    """Read-only ``name -> Expert class`` mapping that imports each module when asked."""

    def __getitem__(self, name: str) -> type[Expert]:
        module, cls, _ = EXPERT_ENTRIES[name]
        try:
            return getattr(importlib.import_module(f"{__name__}.{module}"), cls)
        except ImportError as exc:
            raise ImportError(
                f"expert {name!r} cannot be loaded: {exc}. Install the library it needs "
                f"(pip install {exc.name or 'the missing package'}) or leave it out."
            ) from exc

    def __iter__(self) -> Iterator[str]:
        return iter(EXPERT_ENTRIES)

    def __len__(self) -> int:
        return len(EXPERT_ENTRIES)

    def __repr__(self) -> str:
        return f"EXPERT_REGISTRY({list(EXPERT_ENTRIES)})"


EXPERT_REGISTRY: Mapping[str, type[Expert]] = _Registry()


def expert_libraries(names: Sequence[str]) -> list[str]:
    """The library each named expert trains with, without importing it."""
    unknown = [n for n in names if n not in EXPERT_ENTRIES]
    if unknown:
        raise ValueError(f"unknown expert(s) {unknown}; known experts: {', '.join(EXPERT_ENTRIES)}")
    return [EXPERT_ENTRIES[n].library for n in names]


def make_expert(name: str, params: dict[str, Any] | None = None, seed: int = 0) -> Expert:
    """Instantiate the expert registered as ``name``; unknown names raise ``ValueError``."""
    if name not in EXPERT_ENTRIES:
        known = ", ".join(sorted(EXPERT_ENTRIES))
        raise ValueError(f"unknown expert {name!r}; known experts: {known}")
    return EXPERT_REGISTRY[name](params=params, seed=seed)


def __getattr__(name: str) -> Any:
    """The experts' base classes and ``Placement`` load on first use (they import torch):
    the registry's names and entries read without it (``hyperphysics init``)."""
    if name in ("Expert", "FitData"):
        from . import base

        return getattr(base, name)
    if name == "Placement":
        from hyperphysics_strategy.engine.hardware.placement import Placement

        return Placement
    if name == "TorchExpert":
        from .torch_base import TorchExpert

        return TorchExpert
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_EXPERTS",
    "EXPERT_ENTRIES",
    "EXPERT_REGISTRY",
    "Expert",
    "ExpertEntry",
    "FitData",
    "Placement",
    "TorchExpert",
    "expert_libraries",
    "make_expert",
]
