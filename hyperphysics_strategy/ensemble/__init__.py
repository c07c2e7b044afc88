"""Expert ensemble: experts behind one interface, trained in parallel, blended.

Nothing here imports freqtrade: the FreqAI adapters in ``freqai/`` wrap it. The expert
registry imports no expert library and not torch; ``ExpertEnsemble``, ``Expert`` and the
labels load on first use, so that the registry's names read fast (``hyperphysics init``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .experts import EXPERT_REGISTRY, make_expert

if TYPE_CHECKING:
    from .ensemble import ExpertEnsemble
    from .experts import Expert
    from .labels import DEFAULT_CLASSES, LabelCodec

__all__ = [
    "DEFAULT_CLASSES",
    "EXPERT_REGISTRY",
    "Expert",
    "ExpertEnsemble",
    "LabelCodec",
    "make_expert",
]


def __getattr__(name: str) -> Any:
    if name == "ExpertEnsemble":
        from .ensemble import ExpertEnsemble

        return ExpertEnsemble
    if name == "Expert":
        from .experts import Expert

        return Expert
    if name in ("DEFAULT_CLASSES", "LabelCodec"):
        from . import labels

        return getattr(labels, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
