"""HyperPhysicsNBeatsClassifier: stub written by `hyperphysics init` so that freqtrade can find the FreqAI model.

freqtrade only loads classes defined in files under user_data/freqaimodels; the code lives
in the installed `hyperphysics_strategy` package. Subclass here to customise it.
"""

import logging
import sys

try:
    from hyperphysics_strategy.freqai import HyperPhysicsNBeatsClassifier as _Base
except Exception as exc:  # freqtrade would only log a warning and call the class missing
    try:
        from hyperphysics_strategy.stubs.diagnose import import_problem

        _reason = import_problem(exc, "hyperphysics_strategy.freqai", "HyperPhysicsNBeatsClassifier")
    except ImportError:
        _reason = (
            f"hyperphysics-strategy is not importable by {sys.executable} ({exc}): "
            "pip install . in its clone (or its wheel) with the Python that runs freqtrade"
        )
    logging.getLogger(__name__).error("%s: %s", __file__, _reason)
    raise ImportError(f"HyperPhysicsNBeatsClassifier: {_reason}") from exc


class HyperPhysicsNBeatsClassifier(_Base): pass  # noqa: E701
