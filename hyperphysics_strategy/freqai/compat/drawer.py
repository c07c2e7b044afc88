"""The FreqAI data drawer's patches, installed in one call each (see :mod:`..model_store`).

Each patched drawer method has its own module, naming the upstream method and the
freqtrade version it matches; this module installs them on a drawer instance (never on
the class: other FreqAI models in the process are untouched).
"""

from __future__ import annotations

from typing import Any

from ..model_identity import Identity, set_identity
from .load_data import verified_load_data
from .purge_old_models import install_purge_guard
from .save_data import staged_save_data
from .save_drawer_to_disk import atomic_save_drawer_to_disk
from .save_metadata import identity_save_metadata
from .update_historic_data import install_history_date_fix

_MARK = "_hyperphysics_crash_safe"

__all__ = ["install_crash_safe_saves", "install_history_date_fix", "install_purge_guard"]


def install_crash_safe_saves(data_drawer: Any, identity: Identity | None = None) -> None:
    """Wrap ``save_data``, ``load_data`` and ``save_drawer_to_disk`` of a FreqAI data drawer
    (once); with ``identity``, record it beside each saved model and compare it before
    reuse."""
    if getattr(data_drawer, _MARK, False):
        return
    set_identity(data_drawer, identity)
    save_drawer_to_disk = atomic_save_drawer_to_disk(data_drawer)
    data_drawer.save_data = staged_save_data(data_drawer, identity, save_drawer_to_disk)
    if identity is not None:
        data_drawer.save_metadata = identity_save_metadata(data_drawer, identity)
    data_drawer.load_data = verified_load_data(data_drawer, save_drawer_to_disk)
    data_drawer.save_drawer_to_disk = save_drawer_to_disk
    setattr(data_drawer, _MARK, True)
