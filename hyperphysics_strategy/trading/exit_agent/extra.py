"""The optional ``rl`` extra: stable-baselines3, sb3-contrib and gymnasium."""

from __future__ import annotations

import importlib
from types import ModuleType

EXTRA = "rl"
INSTALL = 'pip install ".[rl]" from a clone of the package'


def require(module: str) -> ModuleType:
    """Import ``module`` or raise ``ImportError`` naming the extra that brings it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"the exit agent needs {module!r}, which the {EXTRA!r} extra installs: {INSTALL} "
            f"(or freqtrade's freqai-rl extra plus sb3-contrib) ({exc})"
        ) from exc
