"""Tiny experts that sleep instead of training, for the scheduling tests: what they check
is placement, order, budgets and who gets which result, not a model."""

from __future__ import annotations

import time

import numpy as np

from hyperphysics_strategy.ensemble.experts import Expert, FitData


class Sleeper(Expert):
    """Sleeps ``seconds``; raises when told to; remembers the mean of the data it saw."""

    library = "torch"

    def __init__(self, name: str, seconds: float = 0.02, *, fail: str = "", tag: str = "") -> None:
        super().__init__({"seconds": seconds, "fail": fail, "tag": tag})
        self.name = name
        self.seen_mean = float("nan")

    def _fit(self, data: FitData) -> None:
        self.seen_mean = float(data.X.mean())
        fail = self.params["fail"]
        if fail == "oom" and self.placement.device.type == "cuda":
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        if fail == "raise":
            raise ValueError(f"{self.name} is broken")
        time.sleep(self.params["seconds"])

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        return np.full((X.shape[0], 3), 1 / 3)

    def _save_native(self, directory):  # pragma: no cover - not saved here
        raise NotImplementedError

    def _load_native(self, directory):  # pragma: no cover
        raise NotImplementedError
