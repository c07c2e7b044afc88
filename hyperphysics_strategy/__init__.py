"""hyperphysics-strategy: a GPU-accelerated ML strategy and FreqAI expert ensemble for freqtrade.

The front door (see ``docs/api.md``)::

    from hyperphysics_strategy import (
        HyperPhysicsFinancialEngine,  # order book + risk + ensemble signals, one object
        HyperbolicOrderBook,          # hyperbolic order-book features of L2 snapshots
        GPURiskEngine,                # VaR / ES / Greeks on CPU or GPU
        ExpertEnsemble,               # the expert ensemble (scikit-learn style)
        build_features,               # the strategy's features of plain candles
    )

Each name is imported on first use: ``import hyperphysics_strategy`` itself loads neither
torch nor freqtrade.

Layers (imports point down only)::

    strategy/  -> freqai/  -> trading/  -> ensemble/  -> engine/

``trading`` is the bet (labels, barrier prices, the EV entry rule, the walk-forward that
judges it); ``trading``, ``ensemble`` and ``engine`` never import freqtrade. The exchange simulator
(``exchange/``) and the command-line tool (``cli/``) sit beside the layers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: module that defines them -> public names (each imported on first access)
_MODULES: dict[str, tuple[str, ...]] = {
    # engine (torch, numpy): usable from any strategy or notebook
    ".financial_engine": ("HyperPhysicsFinancialEngine",),
    ".engine.orderbook": ("HyperbolicOrderBook",),
    ".engine.risk": ("GPURiskEngine",),
    ".engine.greeks": ("bsm_greeks", "bsm_implied_vol"),
    ".engine.devices": ("resolve_device",),
    ".engine.hardware": ("get_hardware_info",),
    ".ensemble": ("ExpertEnsemble", "EXPERT_REGISTRY"),
    # the strategy's features and labels of plain candles (pandas, TA-Lib)
    ".strategy.features": ("build_features", "build_training_set"),
    # freqtrade classes (import freqtrade)
    ".strategy": ("HyperPhysicsStrategy",),
    ".freqai": ("HyperPhysicsEnsemble",),
}
#: public name -> its module
_EXPORTS: dict[str, str] = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [  # a literal list for linters and IDEs; a test keeps it equal to _EXPORTS
    "EXPERT_REGISTRY",
    "ExpertEnsemble",
    "GPURiskEngine",
    "HyperPhysicsEnsemble",
    "HyperPhysicsFinancialEngine",
    "HyperPhysicsStrategy",
    "HyperbolicOrderBook",
    "__version__",
    "bsm_greeks",
    "bsm_implied_vol",
    "build_features",
    "build_training_set",
    "get_hardware_info",
    "resolve_device",
]

if TYPE_CHECKING:
    from .engine.devices import resolve_device
    from .engine.greeks import bsm_greeks, bsm_implied_vol
    from .engine.hardware import get_hardware_info
    from .engine.orderbook import HyperbolicOrderBook
    from .engine.risk import GPURiskEngine
    from .ensemble import EXPERT_REGISTRY, ExpertEnsemble
    from .financial_engine import HyperPhysicsFinancialEngine
    from .freqai import HyperPhysicsEnsemble
    from .strategy import HyperPhysicsStrategy
    from .strategy.features import build_features, build_training_set


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
