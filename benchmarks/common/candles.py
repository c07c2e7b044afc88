"""Real candles for the label benchmarks (bench_labels.py, compare_commits.py): no package
import, so that compare_commits.py can time the labels of a commit of either layout."""

from __future__ import annotations

import numpy as np
import pandas as pd

from common import CANDLES


def chained_candles(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """High, low, close of ``n`` 5m candles: every pair's shared candles chained one after
    the other (each rescaled to continue from the previous close), repeated as needed."""
    parts, level = [], 1.0
    files = sorted(CANDLES.glob("*_USDT-5m.feather"))
    if not files:
        raise SystemExit(f"no 5m candles in {CANDLES}")
    while sum(len(p) for p in parts) < n:
        for file in files:
            df = pd.read_feather(file, columns=["high", "low", "close"])
            scale = level / float(df["close"].iloc[0])
            parts.append(df.to_numpy(dtype=np.float64) * scale)
            level = float(parts[-1][-1, 2])
    hlc = np.concatenate(parts)[:n]
    return hlc[:, 0], hlc[:, 1], hlc[:, 2]
