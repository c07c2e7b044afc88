"""FreqAI adapters: the ensemble and each expert as FreqAI classifier models.

Every class in :data:`FREQAI_MODELS` is exported here: the stubs that ``hyperphysics
init`` writes import them by name from this module.
"""

from .ensemble_model import (
    FREQAI_MODELS,
    HyperPhysicsCatBoostAltClassifier,
    HyperPhysicsCatBoostClassifier,
    HyperPhysicsEnsemble,
    HyperPhysicsKANClassifier,
    HyperPhysicsLightGBMClassifier,
    HyperPhysicsMLPClassifier,
    HyperPhysicsNBeatsClassifier,
    HyperPhysicsTabNetClassifier,
    HyperPhysicsTiDEClassifier,
    HyperPhysicsTransformerClassifier,
    HyperPhysicsXGBoostClassifier,
    HyperPhysicsXGBoostDARTClassifier,
    HyperPhysicsXGBoostRFClassifier,
)

__all__ = [
    "FREQAI_MODELS",
    "HyperPhysicsCatBoostAltClassifier",
    "HyperPhysicsCatBoostClassifier",
    "HyperPhysicsEnsemble",
    "HyperPhysicsKANClassifier",
    "HyperPhysicsLightGBMClassifier",
    "HyperPhysicsMLPClassifier",
    "HyperPhysicsNBeatsClassifier",
    "HyperPhysicsTabNetClassifier",
    "HyperPhysicsTiDEClassifier",
    "HyperPhysicsTransformerClassifier",
    "HyperPhysicsXGBoostClassifier",
    "HyperPhysicsXGBoostDARTClassifier",
    "HyperPhysicsXGBoostRFClassifier",
]
