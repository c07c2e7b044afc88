"""The one seam with freqtrade's internals: everything that mirrors or patches FreqAI.

FreqAI's public contract for a model (``train``, ``fit``, ``predict``) does not cover what
this package adds: live training in rounds, backtest windows trained ahead of the loop,
crash-safe model folders, the live date-bug fix. Those repeat or wrap FreqAI functions,
and each such function has one module here, named after it, which states the freqtrade
version it matches and records the function's fingerprint (:mod:`.fingerprint`):

=================================  ========================================================
module                             upstream function
=================================  ========================================================
``start_scanning``                 ``IFreqaiModel._start_scanning``
``extract_data_and_train_model``   ``IFreqaiModel.extract_data_and_train_model``
``start_backtesting``              ``IFreqaiModel.start_backtesting``
``update_historic_data``           ``FreqaiDataDrawer.update_historic_data``
``save_data``                      ``FreqaiDataDrawer.save_data``
``save_metadata``                  ``FreqaiDataDrawer.save_metadata``
``load_data``                      ``FreqaiDataDrawer.load_data``
``save_drawer_to_disk``            ``FreqaiDataDrawer.save_drawer_to_disk``
``purge_old_models``               ``FreqaiDataDrawer.purge_old_models``
``get_valid_object``               ``IResolver._get_valid_object`` (``doctor --userdir``)
=================================  ========================================================

:func:`check_freqtrade` runs when a HyperPhysics FreqAI model is created (freqtrade loads
it at start-up, before anything trains) and in ``hyperphysics doctor --userdir``: if the
installed freqtrade changed any of these functions, it refuses to start, naming them and
the installed version. After a freqtrade upgrade, re-read each changed function, update its
module here and its recorded fingerprint (``python -m
hyperphysics_strategy.freqai.compat`` prints the installed ones).
"""

from __future__ import annotations

from . import (
    extract_data_and_train_model,
    get_valid_object,
    load_data,
    purge_old_models,
    save_data,
    save_drawer_to_disk,
    save_metadata,
    start_backtesting,
    start_scanning,
    update_historic_data,
)
from .fingerprint import (
    OVERRIDE_ENV,
    SUPPORTED_FREQTRADE,
    UnsupportedFreqtrade,
    Upstream,
    check_upstream,
    fingerprint_mismatches,
)

#: Every upstream function the compat modules mirror or patch.
MIRRORED: tuple[Upstream, ...] = tuple(
    module.UPSTREAM
    for module in (
        start_scanning,
        extract_data_and_train_model,
        start_backtesting,
        update_historic_data,
        save_data,
        save_metadata,
        load_data,
        save_drawer_to_disk,
        purge_old_models,
        get_valid_object,
    )
)

__all__ = [
    "MIRRORED",
    "OVERRIDE_ENV",
    "SUPPORTED_FREQTRADE",
    "UnsupportedFreqtrade",
    "check_freqtrade",
    "freqtrade_mismatches",
]


def freqtrade_mismatches() -> list[str]:
    """One line per mirrored function the installed freqtrade changed (empty: supported)."""
    return fingerprint_mismatches(MIRRORED)


def check_freqtrade(what: str = "HyperPhysics") -> None:
    """Raise :class:`UnsupportedFreqtrade` naming every changed function, the installed
    freqtrade version and what to do, unless ``OVERRIDE_ENV`` is ``1``."""
    check_upstream(MIRRORED, what)
