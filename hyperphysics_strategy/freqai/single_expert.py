"""The single-expert FreqAI models, generated from the expert registry.

One ``HyperPhysicsEnsemble`` subclass per expert of ``EXPERT_ENTRIES``, in its order, with
the experts list fixed to that one expert, so that a user picks one expert by the model's
name (``--freqaimodel HyperPhysicsXGBoostRFClassifier``). Each class is a name of this
module (``globals()``), so that pickle and ``from hyperphysics_strategy.freqai import
HyperPhysicsLightGBMClassifier`` find it; the stub that ``hyperphysics init`` writes
subclasses it under the same name (:mod:`hyperphysics_strategy.freqai_names`).
"""

from __future__ import annotations

from hyperphysics_strategy.ensemble.experts import EXPERT_ENTRIES
from hyperphysics_strategy.freqai_names import ENSEMBLE_MODEL, single_expert_model_name

from .ensemble_model import HyperPhysicsEnsemble


def single_expert_model(expert: str) -> type[HyperPhysicsEnsemble]:
    """The FreqAI classifier of one registered expert alone, named as its stub file is
    (:func:`~hyperphysics_strategy.freqai_names.single_expert_model_name`)."""
    name = single_expert_model_name(expert)
    return type(
        name,
        (HyperPhysicsEnsemble,),
        {
            "__module__": __name__,
            "__qualname__": name,
            "__doc__": f"FreqAI classifier: {EXPERT_ENTRIES[expert].summary} alone.",
            "EXPERTS": (expert,),
        },
    )


#: Every FreqAI model class this package offers, by the name its stub file carries: the
#: ensemble, then one class per expert of the registry (``EXPERT_ENTRIES``), each also a
#: name of this module, so that pickle and ``from ... import`` find it.
FREQAI_MODELS: dict[str, type[HyperPhysicsEnsemble]] = {
    ENSEMBLE_MODEL: HyperPhysicsEnsemble,
    **{single_expert_model_name(e): single_expert_model(e) for e in EXPERT_ENTRIES},
}
globals().update(FREQAI_MODELS)
