"""FreqAI adapters: the ensemble and each expert as FreqAI classifier models.

Every class in :data:`FREQAI_MODELS` is exported here: ``HyperPhysicsEnsemble`` and one
``HyperPhysics<Expert>Classifier`` per expert of the registry (``EXPERT_ENTRIES``:
``HyperPhysicsLightGBMClassifier``, ``HyperPhysicsXGBoostRFClassifier``, ...), generated
from it. The stubs that ``hyperphysics init`` writes import them by name from this module.
"""

from .ensemble_model import HyperPhysicsEnsemble  # noqa: F401 - named for readers
from .single_expert import FREQAI_MODELS

globals().update(FREQAI_MODELS)

__all__ = ["FREQAI_MODELS", *FREQAI_MODELS]
