"""A test expert that records where it trained (importable by Ray's worker processes)."""

from __future__ import annotations

import os
import time

import numpy as np

from hyperphysics_strategy.ensemble.experts import Expert


class ProbeExpert(Expert):
    """Predicts the training class frequencies; remembers its environment and placement.

    ``params["sleep"]``: seconds the fit takes (so a test can act mid-round)."""

    name = "probe"
    library = "lightgbm"

    def _fit(self, data):
        import ray

        self.seen = {
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "device": str(self.placement.device),
            "params": self.placement.params(),
            "node_id": ray.get_runtime_context().get_node_id(),
            "pid": os.getpid(),
        }
        time.sleep(float(self.params.get("sleep", 0.0)))
        counts = np.bincount(data.y, minlength=data.n_classes).astype(float) + 1.0
        self.prior = counts / counts.sum()

    def _predict_proba(self, X):
        return np.tile(self.prior, (X.shape[0], 1))

    def _save_native(self, directory):  # pragma: no cover - not saved in these tests
        raise NotImplementedError

    def _load_native(self, directory):  # pragma: no cover
        raise NotImplementedError
