from __future__ import annotations

from pathlib import Path

import pytest

from tests.data_paths import SHARED_CANDLES


@pytest.fixture(scope="session")
def shared_candles() -> Path:
    if not SHARED_CANDLES.is_dir():
        pytest.skip(f"shared candles not found at {SHARED_CANDLES}")
    return SHARED_CANDLES


@pytest.fixture(scope="session")
def demo_backtest(tmp_path_factory):
    """``hyperphysics demo`` (freqtrade backtesting, then plot-dataframe), run once for the
    backtest and plot tests (tests/freqtrade_e2e.py)."""
    from tests.freqtrade_e2e import run_demo_backtest

    return run_demo_backtest(tmp_path_factory.mktemp("demo-backtest"))


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
