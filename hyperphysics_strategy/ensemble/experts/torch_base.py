"""The shared trainer of the PyTorch experts.

Every torch expert is a ``torch.nn.Module`` mapping standardised features ``(B, F)`` to
class logits ``(B, K)``; this module trains it the same way for all of them:

* inputs standardised inside the expert (training mean and standard deviation, clipped
  to +-8 sigma), so an expert works standalone as well as behind FreqAI's scaler;
* AdamW, cross-entropy weighted per sample (the ensemble passes class-balanced weights:
  that is the class-weighted cross-entropy), gradient clipping;
* early stopping on the weighted validation loss, restoring the best epoch's weights;
* mixed precision only on CUDA: bf16 autocast where supported, else fp16 autocast with a
  ``GradScaler``; CPU trains in float32;
* deterministic seeding (``torch.manual_seed`` and a seeded generator for shuffling);
* batch size from the engine's ``get_optimal_batch_size`` on the placement's
  device, capped so that an epoch has at least ``min_steps_per_epoch`` steps;
* device from the placement's ``device`` parameter, CPU threads via
  ``torch.set_num_threads`` within the placement's budget.

After training the module lives on the CPU in eval mode: the expert pickles small and
portable (``__getstate__`` stores a CPU state dict), and ``Expert.save`` writes
``model.pt``, a ``torch.save`` of plain tensors that loads with ``weights_only=True``.
"""

from __future__ import annotations

import difflib
import logging
import math
import pickle
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from hyperphysics_strategy.engine.manifest import CorruptSaveError

from .base import Expert, FitData
from .param_check import THREAD_KEYS
from .space import Choice, Int, Real

logger = logging.getLogger(__name__)

TRAINER_DEFAULTS: dict[str, Any] = {
    "max_epochs": 60,
    "patience": 8,
    "learning_rate": 2e-3,
    "weight_decay": 1e-4,
    "max_batch_size": 512,
    "min_batch_size": 32,
    "min_steps_per_epoch": 8,
    "grad_clip": 1.0,
    "inference_batch_size": 16384,
}
#: what ``hyperphysics search`` samples for every network (keys of ``params``); the
#: architectures keep their ``ARCH``
SEARCH_SPACE = {
    "max_epochs": Int(5, 60, log=True),
    "learning_rate": Real(1e-4, 1e-2, log=True),
    "weight_decay": Real(1e-6, 1e-2, log=True),
    "max_batch_size": Choice((256, 512, 1024)),
}

# torch's RNG and thread count are process-global: torch experts trained in threads of
# one process take turns (they would serialise on the GIL anyway). Process workers each
# hold their own.
_THREAD_LOCK = threading.Lock()


#: share of the steps spent warming the learning rate up (OneCycleLR's ``pct_start``)
WARMUP_SHARE = 0.1


def one_cycle(
    optimiser: torch.optim.Optimizer, max_lr: float, steps: int
) -> torch.optim.lr_scheduler.OneCycleLR:
    """The one-cycle learning-rate schedule (Smith & Topin 2019) over ``steps`` steps.

    OneCycleLR's warm-up ends at step ``pct_start * steps - 1`` and it divides by that
    phase's length: zero at exactly 10 steps with a 10% warm-up (``ZeroDivisionError``,
    e.g. TabNet on 300 rows for 2 epochs), so there the warm-up takes 1.5 steps instead.
    """
    steps = max(1, steps)
    share = WARMUP_SHARE if WARMUP_SHARE * steps != 1 else 1.5 / steps
    return torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=max_lr, total_steps=steps, pct_start=share
    )


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is a device out-of-memory error (torch or a boosting library)."""
    if isinstance(exc, (MemoryError, torch.cuda.OutOfMemoryError)):
        return True
    return "out of memory" in str(exc).lower()


class TorchExpert(Expert):
    """Base of the neural experts: subclasses set ``name``, ``NET`` and ``ARCH``."""

    library = "torch"
    #: The network: ``NET(n_features, n_classes, **architecture)`` (see :meth:`build`).
    NET: ClassVar[Callable[..., nn.Module] | None] = None
    #: Architecture hyper-parameters and their defaults (overridable through params):
    #: the keyword arguments of ``NET``.
    ARCH: ClassVar[dict[str, Any]] = {}
    #: Trainer overrides for this architecture.
    TRAINER: ClassVar[dict[str, Any]] = {}
    SEARCH_SPACE = SEARCH_SPACE

    def __init__(self, params: dict[str, Any] | None = None, seed: int = 0) -> None:
        super().__init__(params, seed)
        self.hparams()  # an unknown key fails here, naming it
        self.module: nn.Module | None = None
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None
        self.epochs_trained = 0
        self.best_val_loss = float("nan")

    # -- configuration ---------------------------------------------------------------
    def hparams(self) -> dict[str, Any]:
        """The trainer's and the architecture's settings: defaults, then ``params``.

        A key of ``params`` that is neither is a ``ValueError`` naming it (and the closest
        known key): a misspelled ``max_epoch`` must not silently train with the default.
        """
        out = {**TRAINER_DEFAULTS, **self.TRAINER, **self.ARCH}
        params = self.library_params()  # thread counts cap the placement (Expert.fit)
        unknown = [k for k in params if k not in out]
        if unknown:
            hints = []
            for key in unknown:
                match = difflib.get_close_matches(str(key), list(out), n=1, cutoff=0.6)
                hints.append(f"{key!r}" + (f" (did you mean {match[0]!r}?)" if match else ""))
            raise ValueError(
                f"expert {self.name!r}: unknown parameter {', '.join(hints)}; "
                f"known: {', '.join(sorted(out))}"
            )
        out.update(params)
        return out

    @classmethod
    def parameter_names(cls) -> frozenset[str]:
        return frozenset({**TRAINER_DEFAULTS, **cls.TRAINER, **cls.ARCH}) | THREAD_KEYS

    def probe_params(self) -> dict[str, Any]:
        return {"max_epochs": 1}

    def build(self, n_features: int, n_classes: int, hp: dict[str, Any]) -> nn.Module:
        """The network for the settings ``hp``: ``NET`` with the inputs, the classes and
        the architecture's keys of ``hp``."""
        if self.NET is None:
            raise NotImplementedError(f"{type(self).__name__} sets no NET")
        return self.NET(n_features, n_classes, **{key: hp[key] for key in self.ARCH})

    def _new_module(self) -> nn.Module:
        assert self.n_features is not None and self.n_classes is not None
        return self.build(self.n_features, self.n_classes, self.hparams())

    def training_device(self) -> torch.device:
        return self.placement.torch_device

    def training_threads(self) -> int:
        return self.placement.threads

    # -- training --------------------------------------------------------------------
    def _fit(self, data: FitData) -> None:
        device = self.training_device()
        threads = self.training_threads()
        with _THREAD_LOCK:
            previous = torch.get_num_threads()
            torch.set_num_threads(threads)
            try:
                self._train_on(device, data)
            finally:
                torch.set_num_threads(previous)

    def _standardise(self, X: np.ndarray) -> np.ndarray:
        assert self.mean is not None and self.std is not None
        return np.clip((X - self.mean) / self.std, -8.0, 8.0).astype(np.float32, copy=False)

    def _train_on(self, device: torch.device, data: FitData) -> None:
        hp = self.hparams()
        self.mean = data.X.mean(axis=0).astype(np.float32)
        std = data.X.std(axis=0).astype(np.float32)
        self.std = np.where(std > 1e-8, std, 1.0).astype(np.float32)

        torch.manual_seed(self.seed)
        if device.type == "cuda":
            torch.cuda.manual_seed(self.seed)
            torch.backends.cudnn.deterministic = True
            torch.backends.cudnn.benchmark = False
        generator = torch.Generator().manual_seed(self.seed)
        module = self._new_module().to(device)

        def tensors(X, y, w):
            return (
                torch.from_numpy(self._standardise(X)).to(device),
                torch.from_numpy(np.asarray(y, dtype=np.int64)).to(device),
                torch.from_numpy(np.asarray(w, dtype=np.float32)).to(device),
            )

        Xt, yt, wt = tensors(data.X, data.y, data.weight)
        Xv, yv, wv = tensors(data.X_val, data.y_val, data.weight_val)
        n = Xt.shape[0]
        batch = self._batch_size(module, device, n, hp)

        optimiser = torch.optim.AdamW(
            module.parameters(), lr=hp["learning_rate"], weight_decay=hp["weight_decay"]
        )
        steps = math.ceil(n / batch) * hp["max_epochs"]
        scheduler = one_cycle(optimiser, hp["learning_rate"], steps)
        amp_dtype = None
        if device.type == "cuda":
            amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)

        def weighted_ce(logits, y, w):
            losses = nn.functional.cross_entropy(logits.float(), y, reduction="none")
            return (losses * w).sum() / w.sum().clamp_min(1e-12)

        best_loss, best_state, bad_epochs = math.inf, None, 0
        for epoch in range(hp["max_epochs"]):
            module.train()
            order = torch.randperm(n, generator=generator).to(device)
            for start in range(0, n, batch):
                idx = order[start : start + batch]
                if idx.numel() < 2:  # BatchNorm needs two rows
                    continue
                with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                    logits = module(Xt[idx])
                    loss = weighted_ce(logits, yt[idx], wt[idx])
                    loss = loss + getattr(module, "aux_loss", 0.0)
                optimiser.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.unscale_(optimiser)
                nn.utils.clip_grad_norm_(module.parameters(), hp["grad_clip"])
                scaler.step(optimiser)
                scaler.update()
                if scheduler.last_epoch < scheduler.total_steps - 1:
                    scheduler.step()
            val_loss = self._evaluate(module, Xv, yv, wv, amp_dtype, weighted_ce, hp)
            self.epochs_trained = epoch + 1
            if val_loss < best_loss - 1e-5:
                best_loss, bad_epochs = val_loss, 0
                best_state = {
                    k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()
                }
                self.best_iteration = epoch + 1
            else:
                bad_epochs += 1
                if bad_epochs >= hp["patience"]:
                    break
        module = module.to("cpu")
        if best_state is not None:
            module.load_state_dict(best_state)
        self.best_val_loss = float(best_loss)
        self.module = module.eval()

    @staticmethod
    def _evaluate(module, Xv, yv, wv, amp_dtype, loss_fn, hp) -> float:
        module.eval()
        total, mass = 0.0, 0.0
        with torch.inference_mode():
            for start in range(0, Xv.shape[0], hp["inference_batch_size"]):
                sl = slice(start, start + hp["inference_batch_size"])
                with torch.autocast(Xv.device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                    logits = module(Xv[sl])
                w = wv[sl]
                total += float(loss_fn(logits, yv[sl], w)) * float(w.sum())
                mass += float(w.sum())
        return total / max(mass, 1e-12)

    def _batch_size(self, module: nn.Module, device: torch.device, n: int, hp) -> int:
        from hyperphysics_strategy.engine.batch import get_optimal_batch_size

        n_params = sum(p.numel() for p in module.parameters())
        # activations are at most a few times the widest layer per sample; be generous
        width = max((p.shape[0] for p in module.parameters() if p.ndim == 2), default=64)
        tokens = getattr(module, "tokens_per_sample", 1)
        per_sample = 4 * 16 * width * tokens + 4 * (self.n_features or 1)
        cap = max(hp["min_batch_size"], n // max(1, hp["min_steps_per_epoch"]))
        try:
            return get_optimal_batch_size(
                per_sample,
                device,
                reserved_bytes=4 * 4 * n_params,
                min_batch=hp["min_batch_size"],
                max_batch=min(hp["max_batch_size"], cap),
            )
        except Exception as exc:  # memory query failing must not stop training
            logger.debug("batch size query failed on %s: %s", device, exc)
            return hp["min_batch_size"]

    # -- inference -------------------------------------------------------------------
    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        assert self.module is not None
        hp_batch = TRAINER_DEFAULTS["inference_batch_size"]
        Z = torch.from_numpy(self._standardise(X))
        outs = []
        with torch.inference_mode():
            for start in range(0, Z.shape[0], hp_batch):
                outs.append(torch.softmax(self.module(Z[start : start + hp_batch]), dim=1))
        return torch.cat(outs).double().numpy()

    # -- persistence -----------------------------------------------------------------
    def _tensors(self) -> dict[str, torch.Tensor]:
        assert self.module is not None and self.mean is not None and self.std is not None
        out = {f"module.{k}": v.detach().cpu().clone() for k, v in self.module.state_dict().items()}
        out["input.mean"] = torch.from_numpy(self.mean.copy())
        out["input.std"] = torch.from_numpy(self.std.copy())
        return out

    def _restore(self, tensors: dict[str, torch.Tensor]) -> None:
        self.mean = tensors["input.mean"].numpy().astype(np.float32)
        self.std = tensors["input.std"].numpy().astype(np.float32)
        state = {k[7:]: v for k, v in tensors.items() if k.startswith("module.")}
        module = self._module_for_state(state)
        module.load_state_dict(state)
        self.module = module.eval()

    def _module_for_state(self, state: dict[str, torch.Tensor]) -> nn.Module:
        """A fresh module of the architecture ``state`` (a state dict) was saved from."""
        return self._new_module()

    def _save_native(self, directory: Path) -> None:
        torch.save(self._tensors(), directory / "model.pt")

    def _load_native(self, directory: Path) -> None:
        """Load ``model.pt`` as plain tensors (``weights_only``: a pickled object is never
        run) onto the CPU, whatever device it was trained on."""
        path = directory / "model.pt"
        try:
            tensors = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            reason = str(exc).strip().splitlines()[0]
            raise CorruptSaveError(path, f"holds more than plain tensors ({reason})") from exc
        self._restore(tensors)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if self.module is not None:
            state["module"] = None
            state["_tensors"] = self._tensors()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        tensors = state.pop("_tensors", None)
        self.__dict__.update(state)
        if tensors is not None:
            self._restore(tensors)
