"""The names of the FreqAI model classes: ``HyperPhysicsEnsemble`` and one single-expert
classifier per expert of the registry (``EXPERT_ENTRIES``), in its order.

``freqai/`` generates the classes under these names and ``stubs/`` writes one stub file
per name, so neither lists the experts. Importing this module imports the expert
registry only: neither torch nor freqtrade (``hyperphysics init`` stays fast).
"""

from __future__ import annotations

from hyperphysics_strategy.ensemble.experts import EXPERT_ENTRIES

#: The FreqAI model that trains the experts its config lists.
ENSEMBLE_MODEL = "HyperPhysicsEnsemble"


def single_expert_model_name(expert: str) -> str:
    """The FreqAI model class (and stub file) of one registered expert alone:
    ``xgboost_rf`` -> ``HyperPhysicsXGBoostRFClassifier``."""
    return f"HyperPhysics{EXPERT_ENTRIES[expert].title}Classifier"


def freqai_model_names() -> tuple[str, ...]:
    """Every FreqAI model class ``hyperphysics_strategy.freqai`` exports (its
    ``FREQAI_MODELS``): the ensemble, then one per expert of the registry, in its order."""
    return (ENSEMBLE_MODEL, *map(single_expert_model_name, EXPERT_ENTRIES))
