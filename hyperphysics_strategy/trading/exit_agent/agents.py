"""Exit policies as experts of the package, so that they train through its scheduler.

Each policy is an :class:`~hyperphysics_strategy.ensemble.experts.Expert` with two classes,
``0`` hold and ``1`` exit: ``predict_proba(observations)`` gives the probability (for a
value-based agent, the greedy choice as 0/1) of exiting, and ``save`` / ``load`` use the
experts' crash-safe folders (a sha256 manifest checked before any byte is read).

* :class:`PPOExitAgent` (Stable-Baselines3 PPO) and :class:`QRDQNExitAgent` (sb3-contrib
  QR-DQN) learn on :class:`~.env.ExitEnv`. They save only their policy network's weights
  (``policy.pt``, read back with ``torch.load(weights_only=True)``, which unpickles no
  objects) and rebuild the network from ``meta.json``; SB3's zip, which cloudpickles, is
  never written.
* :class:`OptimalStopExpert`, the supervised baseline: the package's LightGBM expert
  classifying "exit now earns at least the best later exit" (:func:`~.episodes.
  optimal_stop_labels`) from the same observations.

All three read one training set, :func:`pack` (observations plus the columns the
environment needs), and :func:`train_exit_policies` hands them to the package's
``train_experts`` as one batch: one lane each.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from hyperphysics_strategy.ensemble.experts import Expert, FitData, make_expert

from .episodes import OBS_COLUMNS, Episodes, optimal_stop_labels
from .extra import require

#: Columns :func:`pack` appends to the observations: what the environment replays.
META_COLUMNS = ("exit_reward", "reward", "forced", "episode")
N_OBS = len(OBS_COLUMNS)
POLICY_FILE = "policy.pt"


def pack(episodes: Episodes, validation_fraction: float = 0.2) -> FitData:
    """The training set of every exit policy: one row per step, ``OBS_COLUMNS`` then
    ``META_COLUMNS``, labelled with the optimal stop; the last ``validation_fraction`` of
    the trades (by entry) is the validation set."""
    if len(episodes) < 2:
        raise ValueError(f"need at least two trades to train an exit policy, got {len(episodes)}")
    X = np.column_stack(
        [episodes.obs, episodes.exit_reward, episodes.reward, episodes.forced, episodes.episode]
    ).astype(np.float64)
    y = optimal_stop_labels(episodes)
    cut = min(len(episodes) - 1, max(1, int(round(len(episodes) * (1 - validation_fraction)))))
    train = episodes.episode < cut
    w = np.ones(y.size, dtype=np.float32)
    return FitData(X[train], y[train], w[train], X[~train], y[~train], w[~train], n_classes=2)


def unpack(X: np.ndarray) -> Episodes:
    """The :class:`Episodes` rows a :func:`pack` matrix holds (entry positions unknown: -1)."""
    if X.ndim != 2 or X.shape[1] != N_OBS + len(META_COLUMNS):
        raise ValueError(
            f"an exit policy trains on {N_OBS} observation columns plus {META_COLUMNS} "
            f"(exit_agent.pack), got shape {X.shape}"
        )
    exit_reward, reward, forced, episode = (X[:, N_OBS + i] for i in range(len(META_COLUMNS)))
    episode = episode.astype(np.int64)
    return Episodes(
        entry_index=np.full(np.unique(episode).size, -1),
        episode=episode,
        step=np.zeros_like(episode),
        obs=X[:, :N_OBS].astype(np.float32),
        exit_reward=exit_reward,
        forced=forced.astype(bool),
        reward=reward,
        reason=np.zeros_like(episode),
    )


class ExitPolicy(Expert):
    """An exit policy: two classes (hold, exit) from :data:`OBS_COLUMNS`."""

    library = "torch"

    @classmethod
    def parameter_names(cls) -> frozenset[str]:
        return frozenset(cls.default_params())

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {}

    def probe_params(self) -> dict[str, Any]:
        return {"total_timesteps": 64}

    def _observations(self, X: np.ndarray) -> np.ndarray:
        return X[:, :N_OBS] if X.shape[1] == N_OBS + len(META_COLUMNS) else X

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        return super().predict_proba(self._observations(X) if X.ndim == 2 else X)


class RLExitAgent(ExitPolicy):
    """A Stable-Baselines3 algorithm trained on :class:`~.env.ExitEnv` for
    ``total_timesteps``; every other parameter goes to the algorithm's constructor."""

    #: (module, class) of the algorithm.
    algorithm: ClassVar[tuple[str, str]]

    def _fit(self, data: FitData) -> None:
        import torch

        from .env import ExitEnv

        module, name = self.algorithm
        algo = getattr(require(module), name)
        params = copy.deepcopy({**self.default_params(), **self.params})  # SB3 edits them
        steps = int(params.pop("total_timesteps"))
        torch.set_num_threads(max(1, self.placement.threads))
        device = str(self.placement.device.torch()) if self.placement.on_gpu else "cpu"
        env = ExitEnv(unpack(data.X))
        model = algo("MlpPolicy", env, seed=self.seed, device=device, verbose=0, **params)
        model.learn(total_timesteps=steps)
        self.policy_ = model.policy.to("cpu").eval()
        self.n_features = N_OBS

    def _rebuild(self):
        gym = require("gymnasium")
        module, name = self.algorithm
        algo = getattr(require(module), name)
        policy_kwargs = dict(self.params.get("policy_kwargs") or {})
        space = gym.spaces.Box(-10.0, 10.0, (N_OBS,), np.float32)
        return algo.policy_aliases["MlpPolicy"](
            space, gym.spaces.Discrete(2), lambda _: 0.0, **policy_kwargs
        )

    def __reduce__(self):
        """Pickled (a worker process's lane returns the fitted agent) with the network as
        its weights only: SB3's policy holds tensors autograd refuses to send."""
        policy = self.__dict__.get("policy_")
        state = {k: v for k, v in self.__dict__.items() if k != "policy_"}
        weights = (
            None if policy is None else {k: v.detach() for k, v in policy.state_dict().items()}
        )
        return _unpickle_agent, (type(self), state, weights)

    def _set_weights(self, weights: dict[str, Any]) -> None:
        policy = self._rebuild()
        policy.load_state_dict(weights)
        self.policy_ = policy.eval()

    def _save_native(self, directory: Path) -> None:
        import torch

        torch.save(self.policy_.state_dict(), directory / POLICY_FILE)

    def _load_native(self, directory: Path) -> None:
        import torch

        self._set_weights(
            torch.load(directory / POLICY_FILE, map_location="cpu", weights_only=True)
        )


def _unpickle_agent(cls: type[RLExitAgent], state: dict[str, Any], weights) -> RLExitAgent:
    agent = cls.__new__(cls)
    agent.__dict__.update(state)
    if weights is not None:
        agent._set_weights(weights)
    return agent


class PPOExitAgent(RLExitAgent):
    name = "exit_ppo"
    algorithm = ("stable_baselines3", "PPO")

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {"total_timesteps": 20_000, "n_steps": 512, "batch_size": 64, "ent_coef": 0.01}

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            dist = self.policy_.get_distribution(torch.as_tensor(X))
            return dist.distribution.probs.numpy().astype(np.float64)


class QRDQNExitAgent(RLExitAgent):
    name = "exit_qrdqn"
    algorithm = ("sb3_contrib", "QRDQN")

    @classmethod
    def default_params(cls) -> dict[str, Any]:
        return {
            "total_timesteps": 20_000,
            "learning_starts": 500,
            "exploration_fraction": 0.3,
            "target_update_interval": 500,
            "policy_kwargs": {"n_quantiles": 25},
        }

    def _rebuild(self):
        self.params.setdefault("policy_kwargs", self.default_params()["policy_kwargs"])
        return super()._rebuild()

    def _fit(self, data: FitData) -> None:
        self.params.setdefault("policy_kwargs", self.default_params()["policy_kwargs"])
        super()._fit(data)

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            q = self.policy_.quantile_net(torch.as_tensor(X)).mean(dim=1).numpy()
        exit_ = (q[:, 1] > q[:, 0]).astype(np.float64)  # greedy; a tie holds
        return np.column_stack([1 - exit_, exit_]) + 1e-12


class OptimalStopExpert(ExitPolicy):
    """The supervised baseline: the package's LightGBM expert on the optimal-stop labels of
    the steps where the policy acts (``params`` are LightGBM's)."""

    name = "exit_optimal_stop"
    library = "lightgbm"
    INNER = "lightgbm"
    INNER_DIR = "inner"

    @classmethod
    def parameter_names(cls) -> frozenset[str]:
        return type(make_expert(cls.INNER)).parameter_names()

    def _fit(self, data: FitData) -> None:
        def acting(X: np.ndarray, y: np.ndarray, w: np.ndarray):
            keep = X[:, N_OBS + META_COLUMNS.index("forced")] == 0
            return X[keep, :N_OBS], y[keep], w[keep]

        inner = FitData(
            *acting(data.X, data.y, data.weight),
            *acting(data.X_val, data.y_val, data.weight_val),
            n_classes=2,
        )
        self.inner_ = make_expert(self.INNER, self.params, self.seed).fit(inner, self.placement)
        self.n_features = N_OBS

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.inner_.predict_proba(X)

    def _save_native(self, directory: Path) -> None:
        self.inner_.save(directory / self.INNER_DIR)

    def _load_native(self, directory: Path) -> None:
        self.inner_ = type(make_expert(self.INNER)).load(directory / self.INNER_DIR)


#: Every exit policy by name.
POLICIES: dict[str, type[ExitPolicy]] = {
    cls.name: cls for cls in (PPOExitAgent, QRDQNExitAgent, OptimalStopExpert)
}


def make_policy(name: str, params: dict[str, Any] | None = None, seed: int = 0) -> ExitPolicy:
    if name not in POLICIES:
        raise ValueError(f"unknown exit policy {name!r} (known: {sorted(POLICIES)})")
    return POLICIES[name](params, seed)


def train_exit_policies(
    episodes: Episodes,
    policies: Sequence[ExitPolicy],
    max_workers: int | None = None,
    use_processes: bool | None = None,
    backend: str = "local",
) -> list[ExitPolicy]:
    """Fit ``policies`` on ``episodes`` as one batch of the package's ``train_experts``:
    ``backend`` ``local`` (the round scheduler's lanes, one each, devices from the hardware
    plan) or ``ray`` (one Ray task each, e.g. many seeds on a cluster); raise
    ``RuntimeError`` naming the policies that failed."""
    from hyperphysics_strategy.ensemble.ensemble import planned_placements
    from hyperphysics_strategy.ensemble.scheduling import train_experts

    data = pack(episodes)
    placements, workers = planned_placements(list(policies))
    outcomes = train_experts(
        list(policies),
        data,
        placements,
        max_workers or workers,
        use_processes=use_processes,
        backend=backend,
    )
    failed = [f"{o.expert.name}: {o.error}" for o in outcomes if not o.ok]
    if failed:
        raise RuntimeError(f"exit policies failed to train: {'; '.join(failed)}")
    return [o.expert for o in outcomes]
