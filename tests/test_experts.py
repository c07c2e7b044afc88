"""Each expert alone: learns a synthetic signal, round-trips native save/load and pickle,
stores CPU tensors that load with ``weights_only=True``; device OOM falls back to CPU."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from hyperphysics_strategy.engine.hardware import Device, Placement
from hyperphysics_strategy.ensemble import make_expert
from hyperphysics_strategy.ensemble.experts import (
    DEFAULT_EXPERTS,
    EXPERT_REGISTRY,
    FitData,
    TorchExpert,
    expert_libraries,
)
from hyperphysics_strategy.ensemble.experts.neural import FTTransformerNet, sparsemax
from hyperphysics_strategy.ensemble.labels import LabelCodec
from hyperphysics_strategy.ensemble.scheduling import fit_with_fallback

from .synthetic import three_class_signal

# Small budgets so that the twelve experts train in seconds on two cores.
FAST = {
    "lightgbm": {"n_estimators": 120},
    "xgboost": {"n_estimators": 120},
    "catboost": {"n_estimators": 150},
    "catboost_alt": {"n_estimators": 150},
    "xgboost_rf": {"n_estimators": 40},
    "xgboost_dart": {"n_estimators": 60},
    "mlp": {"max_epochs": 25},
    "nbeats": {"max_epochs": 25},
    "tide": {"max_epochs": 20},
    "tabnet": {"max_epochs": 20},
    "kan": {"max_epochs": 25},
    "transformer": {"max_epochs": 15, "d_token": 16, "layers": 1, "ff": 32},
}


@pytest.fixture(scope="module")
def fit_data():
    X, y = three_class_signal()
    codes = LabelCodec().encode(y)
    # scale and shift the inputs: experts must standardise them themselves
    X = X * 50.0 + 7.0
    return (
        X,
        codes,
        FitData(X[:2400], codes[:2400], np.ones(2400), X[2400:], codes[2400:], np.ones(600), 3),
    )


def test_registry_names_and_libraries_match_the_classes():
    assert len(EXPERT_REGISTRY) == 12 and set(DEFAULT_EXPERTS) <= set(EXPERT_REGISTRY)
    libraries = expert_libraries(list(EXPERT_REGISTRY))
    for (name, cls), library in zip(EXPERT_REGISTRY.items(), libraries, strict=True):
        assert cls.name == name
        assert cls.library == library  # read without importing the library
    with pytest.raises(ValueError, match="'lgbm'"):
        expert_libraries(["lgbm"])


def test_a_placement_for_another_library_is_refused(fit_data):
    _, _, data = fit_data
    with pytest.raises(ValueError, match="trains with lightgbm, got a placement for torch"):
        make_expert("lightgbm").fit(data, Placement("torch"))


@pytest.mark.parametrize("name", list(EXPERT_REGISTRY))
def test_each_expert_learns_and_round_trips(name, fit_data, tmp_path):
    X, codes, data = fit_data
    expert = make_expert(name, FAST[name], seed=3).fit(data)
    proba = expert.predict_proba(X[2400:])
    assert proba.shape == (600, 3)
    assert np.allclose(proba.sum(axis=1), 1.0)
    assert np.mean(proba.argmax(axis=1) == codes[2400:]) > 0.8  # chance is about 0.45

    expert.save(tmp_path / name)
    assert not list(tmp_path.glob(f"{name}/*.tmp*"))  # atomic writes leave no temp files
    loaded = type(expert).load(tmp_path / name)
    np.testing.assert_allclose(loaded.predict_proba(X[2400:]), proba, rtol=1e-6, atol=1e-9)

    clone = pickle.loads(pickle.dumps(expert))
    np.testing.assert_allclose(clone.predict_proba(X[2400:]), proba, rtol=1e-6, atol=1e-9)


def test_a_misspelled_torch_parameter_is_an_error_naming_it():
    with pytest.raises(
        ValueError,
        match=r"expert 'mlp': unknown parameter 'max_epoch' "
        r"\(did you mean 'max_epochs'\?\)",
    ):
        make_expert("mlp", {"max_epoch": 3})
    with pytest.raises(ValueError, match="unknown parameter 'n_estimators'"):
        make_expert("transformer", {"n_estimators": 3})
    assert make_expert("kan", {"max_epochs": 3, "grid": 4}).hparams()["grid"] == 4


def test_torch_experts_are_deterministic(fit_data):
    X, _, data = fit_data
    a = make_expert("mlp", {"max_epochs": 3}, seed=5).fit(data)
    b = make_expert("mlp", {"max_epochs": 3}, seed=5).fit(data)
    np.testing.assert_array_equal(a.predict_proba(X[:50]), b.predict_proba(X[:50]))


@pytest.mark.parametrize(
    "device",
    ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                          reason="needs a CUDA GPU"))],
)  # fmt: skip
def test_torch_state_is_cpu_and_loads_with_weights_only(fit_data, tmp_path, device):
    """Whatever device trained it, the pickled state and model.pt hold CPU tensors only,
    plain tensors load safely, and the model predicts on a CPU-only machine."""
    X, _, data = fit_data
    placement = Placement("torch", Device(device, 0 if device == "cuda" else None))
    expert = make_expert("kan", {"max_epochs": 2}).fit(data, placement)
    state = expert.__getstate__()
    assert state["module"] is None
    assert all(t.device.type == "cpu" for t in state["_tensors"].values())
    expert.save(tmp_path)
    tensors = torch.load(tmp_path / "model.pt", weights_only=True)
    assert all(isinstance(t, torch.Tensor) and t.device.type == "cpu" for t in tensors.values())
    reloaded = pickle.loads(pickle.dumps(expert))
    np.testing.assert_allclose(reloaded.predict_proba(X[:20]), expert.predict_proba(X[:20]))
    assert len(pickle.dumps(expert)) < 200_000


def test_gpu_out_of_memory_retries_once_on_cpu(fit_data, cuda_out_of_memory):
    _, _, data = fit_data
    seen = cuda_out_of_memory
    expert = make_expert("mlp", {"max_epochs": 2})
    placement = Placement("torch", Device("cuda", 1))
    seconds, error, device, retried = fit_with_fallback(expert, data, placement)
    assert error is None and retried and device == "cpu"
    assert seen == ["cuda:1", "cpu"]
    assert str(expert.placement.device) == "cpu"


def test_other_errors_on_gpu_are_not_retried(fit_data, monkeypatch):
    _, _, data = fit_data

    def train_on(self, device, data):
        raise ValueError("bad shapes")

    monkeypatch.setattr(TorchExpert, "_train_on", train_on)
    placement = Placement("torch", Device("cuda", 0))
    _, error, _, retried = fit_with_fallback(make_expert("mlp"), data, placement)
    assert error == "ValueError: bad shapes" and not retried


def test_sparsemax_is_a_sparse_distribution():
    z = torch.tensor([[3.0, 1.0, 0.2, -1.0], [0.0, 0.0, 0.0, 0.0]])
    p = sparsemax(z)
    torch.testing.assert_close(p.sum(dim=1), torch.ones(2))
    assert (p >= 0).all() and p[0, 3] == 0 and p[0, 0] > p[0, 1]
    torch.testing.assert_close(p[1], torch.full((4,), 0.25))


def test_inference_shortcuts_give_the_training_path_values():
    """Without autograd TabNet's sparsemax sorts through numpy and KAN builds its basis in
    place: the same values as the autograd path (sorting is exact; the basis steps are
    the same operations)."""
    from hyperphysics_strategy.ensemble.experts.neural import KANLayer, sorted_descending

    torch.manual_seed(0)
    z = torch.randn(300, 40)
    z[:, 5] = z[:, 6]  # ties
    with torch.inference_mode():
        fast = sorted_descending(z)
        fast_sparse = sparsemax(z)
    assert torch.equal(fast, torch.sort(z, dim=-1, descending=True).values)
    assert torch.equal(fast_sparse, sparsemax(z))  # grad enabled: torch.sort
    layer = KANLayer(40, 7, grid=8, span=2.0)
    with torch.inference_mode():
        fast = layer(z)
    assert torch.equal(fast, layer(z).detach())


def test_expert_missing_class_gets_a_column(fit_data):
    X, codes, _ = fit_data
    y = np.where(codes == 0, 1, codes)  # no class 0 at all
    data = FitData(X[:2400], y[:2400], np.ones(2400), X[2400:], y[2400:], np.ones(600), 3)
    for name in ("catboost", "mlp"):
        proba = make_expert(name, FAST[name]).fit(data).predict_proba(X[:100])
        assert proba.shape == (100, 3) and proba[:, 0].max() < 0.1


# -- the transformer's token budget ----------------------------------------------------------


def test_transformer_token_budget_on_wide_inputs(tmp_path):
    """120 features > max_tokens (32): a learned projection to 32 tokens; it still learns
    the signal and round-trips save/load and pickle with identical predictions."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(3000, 120)).astype(np.float32)
    score = X[:, 0] + 0.5 * X[:, 77] + 0.1 * rng.normal(size=3000)
    codes = LabelCodec().encode(
        np.where(score > 0.6, "buy", np.where(score < -0.6, "sell", "neutral"))
    )
    X = X * 50.0 + 7.0
    data = FitData(X[:2400], codes[:2400], np.ones(2400), X[2400:], codes[2400:], np.ones(600), 3)
    # the default 40 epochs (FAST's 15 leave the projection under-trained: about 0.81)
    params = {**FAST["transformer"], "max_epochs": 40}
    expert = make_expert("transformer", params, seed=3).fit(data)
    module = expert.module
    assert module.projection is not None and module.projection.weight.shape == (32, 120)
    assert "projection_gain" in module.state_dict()
    assert module.weight.shape == (32, 16) and module.tokens_per_sample == 33
    proba = expert.predict_proba(X[2400:])
    assert np.mean(proba.argmax(axis=1) == codes[2400:]) > 0.8  # chance is about 0.45

    expert.save(tmp_path / "wide")
    loaded = type(expert).load(tmp_path / "wide")
    assert loaded.module.projection.weight.shape == (32, 120)
    np.testing.assert_allclose(loaded.predict_proba(X[2400:]), proba, rtol=1e-6, atol=1e-9)
    clone = pickle.loads(pickle.dumps(expert))
    np.testing.assert_allclose(clone.predict_proba(X[2400:]), proba, rtol=1e-6, atol=1e-9)

    # the budget is read from the weights: a later change of the default still loads
    small = make_expert("transformer", {**FAST["transformer"], "max_tokens": 8}, seed=3)
    small.n_features, small.n_classes = 120, 3
    small.mean, small.std = np.zeros(120, np.float32), np.ones(120, np.float32)
    small.module = small._new_module().eval()
    small.params.pop("max_tokens")
    again = pickle.loads(pickle.dumps(small))
    assert again.module.projection.weight.shape == (8, 120)
    np.testing.assert_allclose(again.predict_proba(X[:50]), small.predict_proba(X[:50]))


def test_transformer_within_budget_keeps_one_token_per_feature():
    """n_features <= max_tokens: no projection, the state-dict keys and the seeded
    initial weights of the network without a budget."""
    torch.manual_seed(0)
    budget = FTTransformerNet(12, 3, 16, 4, 1, 32, 0.1, max_tokens=32)
    torch.manual_seed(0)
    plain = FTTransformerNet(12, 3, 16, 4, 1, 32, 0.1)
    assert budget.projection is None
    assert budget.state_dict().keys() == plain.state_dict().keys()
    assert not any(k.startswith("projection") for k in budget.state_dict())
    for k, v in plain.state_dict().items():
        torch.testing.assert_close(budget.state_dict()[k], v)
    assert budget.weight.shape == (12, 16) and budget.tokens_per_sample == 13
    # exactly at the budget: still one token per feature
    assert FTTransformerNet(32, 3, 16, 4, 1, 32, 0.1, max_tokens=32).projection is None


@pytest.mark.parametrize(("n_in", "layers", "max_tokens"), [(40, 2, 8), (6, 1, None), (6, 3, 32)])
def test_transformer_predicts_the_cls_token_of_the_full_encoder(n_in, layers, max_tokens):
    """In eval mode the network computes its last layer for [CLS] alone: the logits of the
    whole encoder, to float rounding, with or without a token budget and at any depth."""
    torch.manual_seed(0)
    net = FTTransformerNet(n_in, 3, 16, 4, layers, 32, 0.1, max_tokens=max_tokens).eval()
    for p in net.parameters():  # away from the initial values: LayerNorm weights, biases
        p.data += 0.1 * torch.randn_like(p)
    x = torch.randn(300, n_in)
    with torch.inference_mode():
        z = net.projection(x) * net.projection_gain if net.projection is not None else x
        tokens = torch.cat(
            [net.cls.expand(len(x), -1, -1), z.unsqueeze(-1) * net.weight + net.bias], 1
        )
        full = net.head(net.encoder(tokens)[:, 0])
        fast = net(x)
    torch.testing.assert_close(fast, full, rtol=0, atol=1e-5)
    assert fast.shape == (300, 3)


def test_transformer_saved_without_a_budget_still_loads(tmp_path):
    """A wide transformer pickled or saved before the budget existed (one token per
    feature, no ``max_tokens`` in its params) loads with its own architecture."""
    X = np.random.default_rng(2).normal(size=(40, 60)).astype(np.float32)
    old = make_expert("transformer", {"d_token": 8, "layers": 1, "ff": 16}, seed=0)
    old.n_features, old.n_classes = 60, 3
    old.mean, old.std = np.zeros(60, np.float32), np.ones(60, np.float32)
    torch.manual_seed(0)
    old.module = FTTransformerNet(60, 3, 8, 4, 1, 16, 0.1).eval()  # the old network
    expected = old.predict_proba(X)
    clone = pickle.loads(pickle.dumps(old))
    assert clone.module.projection is None and clone.module.weight.shape == (60, 8)
    np.testing.assert_allclose(clone.predict_proba(X), expected, rtol=1e-6, atol=1e-9)
    old.save(tmp_path)
    loaded = type(old).load(tmp_path)
    np.testing.assert_allclose(loaded.predict_proba(X), expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("steps", [1, 2, 9, 10, 11, 20, 57])
def test_the_one_cycle_schedule_runs_every_step_count(steps):
    """OneCycleLR divided by zero at exactly 10 steps (a 10% warm-up of one step's length
    zero): TabNet on 300 rows for 2 epochs was dropped with ZeroDivisionError."""
    from hyperphysics_strategy.ensemble.experts.torch_base import one_cycle

    optimiser = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    scheduler = one_cycle(optimiser, 0.1, steps)
    rates = []
    for _ in range(steps - 1):
        optimiser.step()
        scheduler.step()
        rates.append(scheduler.get_last_lr()[0])
    assert all(np.isfinite(rates)) and max(rates, default=0.1) <= 0.1 + 1e-12
