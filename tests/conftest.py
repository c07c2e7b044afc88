from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.data_paths import SHARED_CANDLES

#: test files that share a session fixture run in one worker under ``pytest -n`` (the
#: Makefile's default), so the fixture is built once: the demo backtest and the Ray cluster
SHARED_SESSION_FIXTURES = {"demo_backtest": "demo-backtest", "ray_cluster": "ray-cluster"}


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (``--dist loadgroup``, the Makefile's) each test file is one group,
    so a file's module fixtures are built once, in one worker; files using a shared session
    fixture join that fixture's group, and the groups holding end-to-end runs are handed out
    first (the longest, so no worker idles at the end). Without xdist nothing changes."""
    if config.getoption("dist", "no") == "no":
        return
    by_file: dict[str, str] = {}
    for item in items:
        for fixture, group in SHARED_SESSION_FIXTURES.items():
            if fixture in getattr(item, "fixturenames", ()):
                by_file[item.nodeid.split("::")[0]] = group
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            path = item.nodeid.split("::")[0]
            item.add_marker(pytest.mark.xdist_group(by_file.get(path, path)))
    long_groups = {
        item.get_closest_marker("xdist_group").args[0]
        for item in items
        if item.get_closest_marker("e2e") is not None
    }
    items.sort(key=lambda item: item.get_closest_marker("xdist_group").args[0] not in long_groups)


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
def in_memory_custom_data(monkeypatch):
    """freqtrade's trade custom data in memory, as it keeps it in backtesting (no database)."""
    from freqtrade.persistence.custom_data import CustomDataWrapper

    monkeypatch.setattr(CustomDataWrapper, "use_db", False)
    CustomDataWrapper.reset_custom_data()
    yield
    CustomDataWrapper.reset_custom_data()


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


@pytest.fixture(scope="session")
def ray_cluster():
    """One Ray cluster on 127.0.0.1 for the whole session: a head and a worker node, each
    with 4 logical GPUs and 2 CPUs; this process is connected to it as the driver.

    Skipped when Ray is not installed (``pip install ".[ray]"`` in a clone)."""
    import importlib.util
    import os

    if importlib.util.find_spec("ray") is None:
        pytest.skip('ray is not installed (pip install ".[ray]" in the clone)')
    # a short folder: Ray's socket paths below it must fit AF_UNIX's 107 bytes, which
    # pytest's basetemp (longer under xdist: .../pytest-N/popen-gwK) may not leave
    base = Path(tempfile.mkdtemp(prefix="hp-ray-"))
    (base / "ray").mkdir()
    # Ray writes the cluster's address under $RAY_TMPDIR/ray; and resolves "this node" to
    # 127.0.0.1 instead of the machine's network address (read when ray is imported)
    os.environ["RAY_TMPDIR"] = str(base)
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    import ray
    from ray.cluster_utils import Cluster

    node = {"num_cpus": 2, "num_gpus": 4, "node_ip_address": "127.0.0.1"}
    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            **node,
            "include_dashboard": False,
            "temp_dir": str(base / "ray"),
            "_system_config": {
                # a killed node is declared dead within a few seconds
                "health_check_period_ms": 500,
                "health_check_failure_threshold": 4,
                # idle workers stay for the session: each new one imports the package
                # (torch) again, seconds per worker on two cores
                "idle_worker_killing_time_threshold_ms": 3_600_000,
            },
        },
    )
    cluster.add_node(**node)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, _node_ip_address="127.0.0.1", log_to_driver=False)
    try:
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()
        shutil.rmtree(base, ignore_errors=True)
