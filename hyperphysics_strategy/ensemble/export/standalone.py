"""Predict with an exported ensemble using only onnxruntime and numpy.

This file is copied into every export folder as ``predict.py``: it imports nothing but the
standard library, numpy and onnxruntime (no torch, no boosting library, no freqtrade, not
this package), so the folder runs wherever those two install::

    from predict import ExportedEnsemble          # with the folder on sys.path
    model = ExportedEnsemble("OUT_DIR")           # checks every file's sha256 first
    proba = model.predict_proba(X)                # (n, K) float64, columns model.classes

    python OUT_DIR/predict.py features.npy        # or .csv (a header row of feature names)

``X`` is float32-convertible ``(n, F)`` in the manifest's feature order, or anything with
``.columns`` (a pandas DataFrame), matched by name. A row holding NaN or inf gets NaN
probabilities, as in the package.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

MANIFEST = "model.json"
FORMAT = 1


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_session(path: Path, threads: int = 1) -> ort.InferenceSession:
    """A CPU session of the ONNX file ``path`` with ``threads`` intra-op threads."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, int(threads))
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # no busy-waiting
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class ExportedEnsemble:
    """The experts' ONNX files and the blend of an export folder, behind ``predict_proba``."""

    def __init__(self, directory: str | Path, threads: int = 1, verify: bool = True) -> None:
        self.directory = Path(directory)
        self.manifest = json.loads((self.directory / MANIFEST).read_text())
        if self.manifest.get("format") != FORMAT:
            raise ValueError(f"{self.directory / MANIFEST}: unknown format")
        if not self.manifest.get("complete") or self.manifest.get("blend") is None:
            missing = [e["name"] for e in self.manifest.get("not_exported", [])]
            raise ValueError(f"{self.directory}: an incomplete export (not exported: {missing})")
        files = [*self.manifest["experts"], self.manifest["blend"]]
        if verify:
            for entry in files:
                if _sha256(self.directory / entry["file"]) != entry["sha256"]:
                    raise ValueError(f"{self.directory / entry['file']}: checksum mismatch")
        self.classes = list(self.manifest["classes"])
        self.feature_names = self.manifest["features"]["names"]
        self.n_features = int(self.manifest["features"]["count"])
        self.expert_names = [e["name"] for e in self.manifest["experts"]]
        self.sessions = [
            load_session(self.directory / e["file"], threads) for e in self.manifest["experts"]
        ]
        self.blend = load_session(self.directory / self.manifest["blend"]["file"], threads)

    def features(self, X: object) -> np.ndarray:
        """``X`` as the float32 ``(n, F)`` matrix of the manifest's features, in order."""
        if hasattr(X, "columns") and self.feature_names is not None:
            missing = [n for n in self.feature_names if n not in list(X.columns)]
            if missing:
                raise ValueError(f"missing feature columns: {missing}")
            X = X[self.feature_names].to_numpy()
        arr = np.ascontiguousarray(X, dtype=np.float32)
        if arr.ndim != 2 or arr.shape[1] != self.n_features:
            raise ValueError(f"expected (n, {self.n_features}) features, got {arr.shape}")
        return arr

    def expert_proba(self, index: int, X: np.ndarray) -> np.ndarray:
        """Expert ``index``'s probabilities (float32) on float32 features ``X``."""
        return self.sessions[index].run(None, {"features": X})[0]

    def _blend(self, X: np.ndarray) -> np.ndarray:
        feeds = {f"p{i}": self.expert_proba(i, X) for i in range(len(self.sessions))}
        return self.blend.run(None, feeds)[0]

    def predict_proba(self, X: object) -> np.ndarray:
        X = self.features(X)
        ok = np.isfinite(X).all(axis=1)
        if ok.all():
            return self._blend(X)
        out = np.full((X.shape[0], len(self.classes)), np.nan)
        if ok.any():
            out[ok] = self._blend(np.ascontiguousarray(X[ok]))
        return out

    def predict(self, X: object) -> np.ndarray:
        """The most probable class of each row (``None`` for a row without probabilities)."""
        proba = self.predict_proba(X)
        ok = np.isfinite(proba).all(axis=1)
        out = np.full(proba.shape[0], None, dtype=object)
        out[ok] = np.asarray(self.classes, dtype=object)[proba[ok].argmax(axis=1)]
        return out


def _read(path: Path) -> np.ndarray:
    if path.suffix == ".npy":
        return np.load(path)
    return np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float32, ndmin=2)


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python predict.py FEATURES.npy|FEATURES.csv", file=sys.stderr)
        return 2
    model = ExportedEnsemble(Path(__file__).resolve().parent)
    proba = model.predict_proba(_read(Path(argv[0])))
    print(",".join(model.classes))
    for row in proba:
        print(",".join(f"{v:.8g}" for v in row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
