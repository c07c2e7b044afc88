"""A test expert that records where it trained (importable by Ray's worker processes)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from hyperphysics_strategy.ensemble.experts import Expert


class ProbeExpert(Expert):
    """Predicts the training class frequencies; remembers its environment and placement.

    ``params["sleep"]``: seconds the fit takes (so a test can act mid-round);
    ``params["started_dir"]``: a folder where the fit, once started, leaves a file named
    ``<node id>.<seed>`` (so a test can wait until a job runs on a given node)."""

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
        if "started_dir" in self.params:
            node = self.seen["node_id"]
            (Path(self.params["started_dir"]) / f"{node}.{self.seed}").touch()
        time.sleep(float(self.params.get("sleep", 0.0)))
        counts = np.bincount(data.y, minlength=data.n_classes).astype(float) + 1.0
        self.prior = counts / counts.sum()

    def _predict_proba(self, X):
        return np.tile(self.prior, (X.shape[0], 1))

    def _save_native(self, directory):  # pragma: no cover - not saved in these tests
        raise NotImplementedError

    def _load_native(self, directory):  # pragma: no cover
        raise NotImplementedError
