"""HyperPhysicsMLPClassifier: stub written by `hyperphysics init` so that freqtrade can find the FreqAI model.

freqtrade only loads classes defined in files under user_data/freqaimodels; the code lives
in the installed `hyperphysics_strategy` package. Subclass here to customise it.
"""

import logging

try:
    from hyperphysics_strategy.freqai import HyperPhysicsMLPClassifier as _Base
except ImportError as exc:  # freqtrade would only log a warning and call the class missing
    logging.getLogger(__name__).error(
        "%s: cannot import %s (%s). Install hyperphysics-strategy into the environment "
        "that runs freqtrade: pip install hyperphysics-strategy",
        __file__, "hyperphysics_strategy.freqai", exc,
    )
    raise


class HyperPhysicsMLPClassifier(_Base): pass  # noqa: E701
