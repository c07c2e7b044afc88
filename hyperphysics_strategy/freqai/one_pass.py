"""One ensemble pass per FreqAI prediction.

FreqAI's ``BaseClassifierModel.predict`` (freqtrade 2026.9) calls ``model.predict(X)`` for
the labels and then ``model.predict_proba(X)`` on the same frame, so every expert and the
blend would run twice per candle and per backtest window. :class:`OnePass` stands in for
the ensemble during that call: ``predict`` computes the probabilities once and derives the
labels from them, and ``predict_proba`` on the same frame returns those probabilities.
Any other frame, or any other attribute, goes to the ensemble itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np


class OnePass:
    def __init__(self, model: Any) -> None:
        self.model = model
        self._last: tuple[Any, np.ndarray] | None = None  # (frame, probabilities)

    def predict(self, X: Any) -> np.ndarray:
        proba = self.model.predict_proba(X)
        self._last = (X, proba)
        return self.model.labels(proba)

    def predict_proba(self, X: Any) -> np.ndarray:
        if self._last is not None and self._last[0] is X:
            return self._last[1]
        return self.model.predict_proba(X)

    def __getattr__(self, name: str) -> Any:  # classes_, feature names, ...
        return getattr(self.model, name)


@contextmanager
def one_pass(owner: Any) -> Iterator[None]:
    """``owner.model`` is a :class:`OnePass` over itself inside the block (given back
    after it, also on an error); a model without ``labels`` is left as it is."""
    model = owner.model
    if model is None or not hasattr(model, "labels"):
        yield
        return
    owner.model = OnePass(model)
    try:
        yield
    finally:
        owner.model = model
