"""FreqAI adapters: the ensemble and each expert as FreqAI classifier models."""

from .ensemble_model import (
    FREQAI_MODELS,
    HyperPhysicsEnsemble,
    HyperPhysicsLightGBMClassifier,
    HyperPhysicsXGBoostClassifier,
)

__all__ = [
    "FREQAI_MODELS",
    "HyperPhysicsEnsemble",
    "HyperPhysicsLightGBMClassifier",
    "HyperPhysicsXGBoostClassifier",
]
