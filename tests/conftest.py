from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
CANDLES = SHARED_DATA / "candles" / "binance"


@pytest.fixture(scope="session")
def shared_candles() -> Path:
    if not CANDLES.is_dir():
        pytest.skip(f"shared candles not found at {CANDLES}")
    return CANDLES


def load_candles(pair: str = "BTC", timeframe: str = "5m") -> pd.DataFrame:
    return pd.read_feather(CANDLES / f"{pair}_USDT-{timeframe}.feather")
