"""Exit policies: trained through the scheduler, saved and loaded with the manifest, the
``auto`` rule, and the error that names the ``rl`` extra."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime

import numpy as np
import pytest

from hyperphysics_strategy.engine.manifest import CorruptSaveError
from hyperphysics_strategy.trading.exit_agent import episodes as E
from hyperphysics_strategy.trading.exit_agent import store
from hyperphysics_strategy.trading.exit_agent.agents import (
    OptimalStopExpert,
    PPOExitAgent,
    QRDQNExitAgent,
    pack,
    train_exit_policies,
    unpack,
)
from hyperphysics_strategy.trading.exit_agent.extra import require
from tests.test_exit_agent_env import BET12, FEE, random_candles

pytest.importorskip("sb3_contrib")

BET = store.BetConfig(timeframe="5m", horizon=12, k_up=1.0, k_down=1.0, fee=FEE)


@pytest.fixture(scope="module")
def episodes():
    return E.build_episodes(random_candles(1500, seed=4), np.arange(30, 1500, 4), BET12)


@pytest.fixture(scope="module")
def trained(episodes):
    policies = [
        PPOExitAgent({"total_timesteps": 256, "n_steps": 128, "batch_size": 32}, seed=1),
        QRDQNExitAgent({"total_timesteps": 256, "learning_starts": 64}, seed=1),
        OptimalStopExpert({"n_estimators": 10}, seed=1),
    ]
    return train_exit_policies(episodes, policies, use_processes=False)


def verdict(policy: str, beats: bool, bet: store.BetConfig = BET) -> store.Verdict:
    return store.Verdict(
        policy=policy, bet=bet, pairs=("BTC/USDT",), confirm_timerange="20210401-20210601",
        trades=120, bp_per_trade=4.0 if beats else -3.0, barrier_trades=110,
        barrier_bp_per_trade=-2.0, beats_barriers=beats, policies_tried=3, dsr=0.4,
        created=datetime(2026, 12, 7, tzinfo=UTC),
    )  # fmt: skip


def test_pack_round_trips_the_episodes(episodes):
    data = pack(episodes)
    back = unpack(np.vstack([data.X, data.X_val]))
    np.testing.assert_array_equal(back.episode, episodes.episode)
    np.testing.assert_allclose(back.obs, episodes.obs)
    np.testing.assert_array_equal(back.forced, episodes.forced)
    assert set(np.unique(data.y)) <= {0, 1} and data.X_val.shape[0] > 0
    with pytest.raises(ValueError, match="observation columns"):
        unpack(data.X[:, :5])


def test_policies_train_through_the_scheduler_and_predict(trained, episodes):
    from hyperphysics_strategy.ensemble.scheduling import default_scheduler

    assert [p.name for p in trained] == ["exit_ppo", "exit_qrdqn", "exit_optimal_stop"]
    names = {r.expert for r in default_scheduler().history}
    assert {"exit_ppo", "exit_qrdqn", "exit_optimal_stop"} <= names
    for policy in trained:
        proba = policy.predict_proba(episodes.obs[:40])
        assert proba.shape == (40, 2)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_save_load_round_trip_and_a_flipped_byte_is_refused(trained, episodes, tmp_path):
    for policy in trained:
        folder = tmp_path / policy.name
        store.save_exit_agent(folder, policy, verdict(policy.name, True))
        loaded, saved = store.load_exit_agent(folder)
        assert type(loaded) is type(policy) and saved == verdict(policy.name, True)
        np.testing.assert_allclose(
            loaded.predict_proba(episodes.obs), policy.predict_proba(episodes.obs), atol=1e-6
        )
    weights = tmp_path / "exit_ppo" / store.POLICY_DIR / "policy.pt"
    raw = bytearray(weights.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    weights.write_bytes(bytes(raw))
    with pytest.raises(CorruptSaveError, match="policy.pt"):
        store.load_exit_agent(tmp_path / "exit_ppo")
    with pytest.raises(FileNotFoundError, match="no exit agent"):
        store.load_exit_agent(tmp_path / "nothing")
    with pytest.raises(ValueError, match="verdict is for"):
        store.save_exit_agent(tmp_path / "x", trained[0], verdict("exit_qrdqn", True))


def test_auto_uses_only_a_policy_proven_for_this_configuration():
    proven, unproven = verdict("exit_ppo", True), verdict("exit_ppo", False)
    other = BET.model_copy(update={"horizon": 48})
    assert store.agent_active("auto", proven, BET)[0]
    assert not store.agent_active("auto", unproven, BET)[0]
    assert not store.agent_active("auto", None, BET)[0]
    on_other, why = store.agent_active("auto", proven, other)
    assert not on_other and "judged for" in why
    assert store.agent_active("on", unproven, other)[0]
    assert not store.agent_active("on", None, BET)[0]
    assert not store.agent_active("off", proven, BET)[0]


def test_a_missing_library_names_the_extra(monkeypatch):
    real = importlib.import_module

    def fake(name, *args):
        if name == "sb3_contrib":
            raise ImportError("No module named 'sb3_contrib'")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", fake)
    with pytest.raises(ImportError, match=r"pip install \"\.\[rl\]\""):
        require("sb3_contrib")


def test_a_fitted_agent_pickles_as_its_weights(trained, episodes):
    """What a worker process's lane sends back: SB3's policy itself would not cross."""
    import pickle

    for policy in trained[:2]:
        back = pickle.loads(pickle.dumps(policy))
        np.testing.assert_allclose(
            back.predict_proba(episodes.obs[:50]), policy.predict_proba(episodes.obs[:50])
        )
