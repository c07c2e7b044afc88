"""The ``ray`` training backend on a two-node Ray cluster on 127.0.0.1 (4 logical GPUs per
node, shared by the session: ``ray_cluster`` in conftest)."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest

from hyperphysics_strategy.engine.hardware import Device
from hyperphysics_strategy.ensemble import ExpertEnsemble
from hyperphysics_strategy.ensemble.experts import FitData, Placement
from hyperphysics_strategy.ensemble.scheduling import train_experts
from hyperphysics_strategy.ensemble.scheduling.ray_cluster import (
    import_ray,
    last_round,
    resolve_address,
)
from hyperphysics_strategy.freqai.parameters import cluster_address, load_training_parameters
from tests.ray_probe import ProbeExpert


def fit_data(n: int = 400, seed: int = 0) -> FitData:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5)).astype(np.float32)
    y = (X[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(np.int64) + (X[:, 1] > 1)
    w = np.ones(n)
    cut = int(n * 0.8)
    return FitData(X[:cut], y[:cut], w[:cut], X[cut:], y[cut:], w[cut:], 3)


def labels(codes: np.ndarray) -> np.ndarray:
    return np.array(["sell", "neutral", "buy"])[codes]


def gpu_plan(n: int, gpus: int = 4) -> list[Placement]:
    """What the hardware plan writes for ``n`` LightGBM jobs on a ``gpus``-GPU machine."""
    return [Placement("lightgbm", Device("cuda", k % gpus), device_type="gpu") for k in range(n)]


def test_each_gpu_job_sees_exactly_its_bundles_gpu_round_robin(ray_cluster):
    experts = [ProbeExpert({"sleep": 0.2}, seed=k) for k in range(16)]
    experts += [ProbeExpert(seed=99)]
    placements = [*gpu_plan(16), Placement("lightgbm")]
    outcomes = train_experts(experts, fit_data(), placements, 2, backend="ray")
    assert [o.ok for o in outcomes] == [True] * 17, [o.error for o in outcomes]
    record = last_round()
    jobs = {j["job"]: j for j in record["jobs"]}
    seen = [o.expert.seen for o in outcomes]
    for k in range(16):
        # the task saw the one GPU of its bundle, as device 0 of its library
        assert seen[k]["cuda_visible_devices"] == jobs[k]["cuda_visible_devices"]
        assert seen[k]["cuda_visible_devices"] in {"0", "1", "2", "3"}
        assert seen[k]["node_id"] == jobs[k]["node_id"]
        assert seen[k]["device"] == "cuda:0" and seen[k]["params"]["gpu_device_id"] == 0
        assert jobs[k]["bundle"] == k % 8  # job k -> bundle k mod G (G = 8 GPUs)
        where = (seen[k]["node_id"], seen[k]["cuda_visible_devices"])
        assert where == (seen[k % 8]["node_id"], seen[k % 8]["cuda_visible_devices"])
    gpus_used = {(s["node_id"], s["cuda_visible_devices"]) for s in seen[:16]}
    assert len(gpus_used) == 8 and len({node for node, _ in gpus_used}) == 2
    # the CPU job sees no GPU at all
    assert seen[16]["cuda_visible_devices"] == "" and seen[16]["device"] == "cpu"
    assert jobs[16]["bundle"] is None and all(o.worker == "ray" for o in outcomes)


def test_ensemble_on_ray_predicts_exactly_like_the_local_backend(ray_cluster):
    data = fit_data(900, seed=3)
    X = np.vstack([data.X, data.X_val])
    y = labels(np.concatenate([data.y, data.y_val]))
    cpu = [
        Placement("lightgbm"),
        Placement("xgboost"),
    ]

    def fitted(backend):
        ensemble = ExpertEnsemble(
            ("lightgbm", "xgboost"),
            {"lightgbm": {"n_estimators": 15}, "xgboost": {"n_estimators": 15}},
            seed=7,
            stacking_folds=2,
            placement_provider=lambda experts: (cpu, 2),
            backend=backend,
        )
        return ensemble.fit(X, y)

    local, on_ray = fitted("local"), fitted("ray")
    assert [e.worker for e in on_ray.report_.experts] == ["ray", "ray"]
    assert [e.worker for e in local.report_.experts] == ["thread", "thread"]
    np.testing.assert_array_equal(on_ray.predict_proba(X), local.predict_proba(X))
    np.testing.assert_array_equal(on_ray.weights_, local.weights_)


def test_a_node_lost_mid_round_and_the_round_still_returns_every_model(ray_cluster, tmp_path):
    extra = ray_cluster.add_node(num_cpus=2, num_gpus=4, node_ip_address="127.0.0.1")
    ray_cluster.wait_for_nodes()
    doomed = extra.node_id
    running = tmp_path / "running"  # each fit leaves <node id>.<seed> here once it runs
    running.mkdir()
    params = {"sleep": 3.0, "started_dir": str(running)}
    experts = [ProbeExpert(params, seed=k) for k in range(12)]
    started: list[str] = []
    returned = threading.Event()

    def kill():
        # the moment a job runs on the extra node: its jobs are mid-fit (or about to start)
        while not any(running.glob(f"{doomed}.*")):
            if returned.wait(0.05):
                return  # the round ended first: the assertions below say so
        ray_cluster.remove_node(extra, allow_graceful=False)

    killer = threading.Thread(target=kill)
    killer.start()
    try:
        outcomes = train_experts(
            experts,
            fit_data(),
            gpu_plan(12),
            2,
            on_start=lambda name, device: started.append(device),
            backend="ray",
        )
    finally:
        returned.set()
        killer.join()
    assert [o.ok for o in outcomes] == [True] * 12, [o.error for o in outcomes]
    jobs = last_round()["jobs"]
    moved = [j for j in jobs if j["attempts"] > 1]
    assert moved, "no job was running on the killed node"
    assert all(j["node_id"] != doomed for j in jobs)  # every model came from a live node
    assert all(o.expert.seen["node_id"] != doomed for o in outcomes)
    assert len(started) > 12  # the lost jobs were submitted again


def test_cluster_status_shows_the_nodes_and_the_last_rounds_placements(ray_cluster):
    import ray

    train_experts([ProbeExpert()], fit_data(), gpu_plan(1), 1, backend="ray")
    out = subprocess.run(
        [sys.executable, "-m", "hyperphysics_strategy.cli", "cluster", "status",
         "--address", ray_cluster.address],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout
    alive = [n for n in ray.nodes() if n["Alive"]]
    assert len(alive) >= 2
    for node in alive:
        assert node["NodeID"][:8] in text
    assert "alive" in text and "127.0.0.1" in text
    assert "probe" in text  # the last round's job, with its node and GPU


def test_status_without_a_cluster_says_how_to_point_at_one(tmp_path):
    from typer.testing import CliRunner

    from hyperphysics_strategy.cli import app

    pytest.importorskip("ray")
    result = CliRunner().invoke(app, ["cluster", "status", "--address", "127.0.0.1:1"])
    assert result.exit_code == 1
    assert "no Ray cluster" in result.output and "RAY_ADDRESS" in result.output


def test_without_ray_the_backend_names_the_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(ImportError, match=r'pip install "ray>=2.40"'):
        import_ray()
    data = fit_data()
    ensemble = ExpertEnsemble(("lightgbm",), {"lightgbm": {"n_estimators": 5}}, backend="ray")
    with pytest.raises(ImportError, match=r"ray>=2.40"):
        ensemble.fit(data.X, labels(data.y))


def test_backend_and_address_configuration():
    with pytest.raises(ValueError, match="backend must be one of"):  # checked by fit
        ExpertEnsemble(backend="spark").fit(np.zeros((20, 2)), ["buy", "sell"] * 10)
    assert load_training_parameters({"backend": "ray"}).backend == "ray"
    assert load_training_parameters({}).backend == "local" == ExpertEnsemble().backend
    with pytest.raises(ValueError, match="backend"):
        load_training_parameters({"backend": "rey"})
    assert resolve_address("10.0.0.5:6379", {"RAY_ADDRESS": "10.0.0.9:6379"}) == "10.0.0.5:6379"
    assert resolve_address(None, {"RAY_ADDRESS": "10.0.0.9:6379"}) == "10.0.0.9:6379"
    assert resolve_address(None, {}) is None
    config = {"hyperphysics": {"cluster": {"address": "10.0.0.5:6379"}}}
    assert cluster_address(config) == "10.0.0.5:6379"
    assert cluster_address({}) is None
    with pytest.raises(ValueError, match="hyperphysics.cluster.address"):
        cluster_address({"hyperphysics": {"cluster": {"address": 6379}}})
