"""The freqtrade strategy (IStrategy).

``HyperPhysicsStrategy`` is resolved on first use, so that the freqtrade-free modules of
this package (``features``, ``settings``) import without freqtrade.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .hyperphysics_strategy import HyperPhysicsStrategy

__all__ = ["HyperPhysicsStrategy"]


def __getattr__(name: str) -> Any:
    if name == "HyperPhysicsStrategy":
        from .hyperphysics_strategy import HyperPhysicsStrategy

        return HyperPhysicsStrategy
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
