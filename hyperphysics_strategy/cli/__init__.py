"""Command-line tool ``hyperphysics``. Each command lives in its own module."""

from __future__ import annotations

# Importing a command module registers its commands on ``app``.
from . import (  # noqa: F401  (imported for registration)
    cluster_cmd,
    demo_cmd,
    exchange_cmd,
    export_cmd,
    hardware_cmd,
    init_cmd,
    search_cmd,
    train_cmd,
)
from .app import app

__all__ = ["app"]
