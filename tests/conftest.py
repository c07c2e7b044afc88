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


@pytest.fixture
def cuda_out_of_memory(monkeypatch) -> list[str]:
    """Torch experts raise ``torch.cuda.OutOfMemoryError`` when asked to train on a GPU and
    train normally on the CPU; returns the devices asked for, in order. No GPU is needed."""
    import torch

    from hyperphysics_strategy.ensemble.experts.torch_base import TorchExpert

    devices: list[str] = []
    original = TorchExpert._train_on

    def train_on(self, device, data):
        devices.append(str(device))
        if device.type == "cuda":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return original(self, device, data)

    monkeypatch.setattr(TorchExpert, "_train_on", train_on)
    return devices
