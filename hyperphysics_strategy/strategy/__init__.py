"""The freqtrade strategy (IStrategy)."""

from .hyperphysics_strategy import HyperPhysicsStrategy

__all__ = ["HyperPhysicsStrategy"]
