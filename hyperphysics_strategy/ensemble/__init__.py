"""Expert ensemble: experts behind one interface, trained in parallel, blended.

Nothing here imports freqtrade: the FreqAI adapters in ``freqai/`` wrap it.
"""

from .ensemble import ExpertEnsemble
from .experts import EXPERT_REGISTRY, Expert, make_expert
from .labels import DEFAULT_CLASSES, LabelCodec

__all__ = [
    "DEFAULT_CLASSES",
    "EXPERT_REGISTRY",
    "Expert",
    "ExpertEnsemble",
    "LabelCodec",
    "make_expert",
]
