"""Helpers for the end-to-end tests that run the real freqtrade command line."""

from __future__ import annotations

import json
import re
from pathlib import Path

RAISED = re.compile(r"raised exception|Traceback \(most recent call last\)")


def write_json(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data, indent=2))
    return path


def assert_clean_log(log: str) -> None:
    """FreqAI swallows training errors: a clean exit code proves nothing without this."""
    bad = [line for line in log.splitlines() if RAISED.search(line)]
    assert not bad, "errors in the freqtrade log:\n" + "\n".join(bad[:20])


def model_files(userdir: Path, identifier: str) -> dict[str, list[Path]]:
    """Saved FreqAI model files per coin: models/<id>/sub-train-<COIN>_<ts>/*_model.joblib."""
    out: dict[str, list[Path]] = {}
    for path in sorted((userdir / "models" / identifier).glob("sub-train-*/*_model.joblib")):
        coin = re.match(r"sub-train-(.+)_\d{10}$", path.parent.name).group(1)
        out.setdefault(coin, []).append(path)
    return out
