"""Mirrors ``IResolver._get_valid_object`` (freqtrade 2026.9): how freqtrade finds a class.

freqtrade's resolvers run each ``.py`` file of ``user_data/strategies`` and
``user_data/freqaimodels`` as a top-level module named after the file and keep the
classes of the wanted type whose ``__module__`` is that module (a re-exported class is
not found). ``hyperphysics doctor --userdir`` loads the stubs the same way, but raises the
import error freqtrade would only log as a warning.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

from .fingerprint import Upstream

UPSTREAM = Upstream(
    "freqtrade.resolvers.iresolver",
    "IResolver._get_valid_object",
    "2026.9",
    "c79ba505af986e74ab461f83673b69b91ef15ba779690d44508eb3265885f92b",
)


def load_as_freqtrade_does(path: Path) -> Any:
    """Run ``path`` as a top-level module named after the file; return the module."""
    name = f"_hyperphysics_doctor_{path.parent.name}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot read {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


def defined_classes(module: Any, base: type) -> dict[str, type]:
    """The subclasses of ``base`` that freqtrade would find in ``module``."""
    return {
        n: obj
        for n, obj in vars(module).items()
        if inspect.isclass(obj) and obj.__module__ == module.__name__ and issubclass(obj, base)
    }
