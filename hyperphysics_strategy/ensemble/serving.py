"""Fast inference: each expert predicts through the fastest path verified on this machine.

:func:`choose_inference` tries, for every expert of a fitted ensemble, the paths this
machine offers:

* ``native``: the expert's own predictor (for the tree experts that is already the numba
  compiled forest where it matches the library, :mod:`.experts.forest`);
* ``onnxruntime``: the expert's ONNX export (:mod:`.export`; needs the ``onnx`` extra,
  skipped without it);
* ``cuda``: a torch expert's network on the GPU (only where torch sees one);
* ``torch.compile``: a torch expert's network compiled by inductor; opt-in
  (``paths=(..., "torch.compile")``): it compiles for 3-20 s per network per process and
  was not faster than eager on this package's 2-core CPU machine.

Each path is first checked against the native predictor on the expert's parity rows
(:func:`.export.parity.parity_rows`, plus the given rows): a path whose probabilities differ
by more than :data:`.export.TOLERANCE` (1e-5) is refused. The verified paths are timed (the
median of ``repeat`` calls) on one row and on ``batch_rows`` rows; the fastest for one row
serves batches of up to :data:`SMALL_BATCH` rows, the fastest for ``batch_rows`` serves
larger ones. The choice is installed on the expert (``Expert.serving_``, used by
``Expert.predict_proba``), stored in ``ensemble.inference_plan_`` and logged. Neither
survives a pickle or a save: a loaded model is chosen for again (:func:`ensure_inference`).
"""

from __future__ import annotations

import copy
import logging
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .export import available
from .export.parity import TOLERANCE, max_difference, native_proba, parity_rows

logger = logging.getLogger(__name__)

PATHS = ("native", "onnxruntime", "cuda")
OPT_IN = ("torch.compile",)
TORCH_ONLY = ("cuda", "torch.compile")
#: batches of at most this many rows take the path fastest on one row
SMALL_BATCH = 32
Predictor = Callable[[np.ndarray], np.ndarray]


def _unset() -> None:
    return None


@dataclass
class PathResult:
    path: str
    one_row: float | None = None  # median seconds
    batch: float | None = None
    max_abs_diff: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class ExpertChoice:
    name: str
    small: str = "native"
    large: str = "native"
    results: list[PathResult] = field(default_factory=list)

    def line(self) -> str:
        parts = []
        for r in self.results:
            if r.ok:
                parts.append(f"{r.path} {r.one_row * 1e3:.3f} / {r.batch * 1e3:.2f} ms")
            else:
                parts.append(f"{r.path} refused ({r.error})")
        chosen = self.small if self.small == self.large else f"{self.small} (small), {self.large}"
        return f"{self.name}: {chosen}; 1 row / batch: {', '.join(parts)}"


class Router:
    """``Expert.serving_``: the chosen predictor for the batch's size, or None (native).

    Pickles (and deep-copies) as None: ONNX Runtime sessions and GPU copies stay in the
    process that verified them."""

    def __init__(self, small: Predictor | None, large: Predictor | None) -> None:
        self.small, self.large = small, large

    def __call__(self, X: np.ndarray) -> np.ndarray | None:
        fn = self.small if X.shape[0] <= SMALL_BATCH else self.large
        return None if fn is None else fn(X)

    def __reduce__(self) -> tuple:
        return (_unset, ())


@dataclass
class InferencePlan:
    """What :func:`choose_inference` chose, per expert; pickles as None (see ``Router``).

    ``whole``: median seconds of the whole ensemble, ``{"one_row" | "batch": {"chosen":
    s, "native": s}}``, timed after the per-expert choice; a size where every expert
    native was faster went back to native."""

    experts: list[ExpertChoice]
    seconds: float
    whole: dict[str, dict[str, float]] = field(default_factory=dict)

    def lines(self) -> list[str]:
        lines = [c.line() for c in self.experts]
        for size, t in self.whole.items():
            kept = "chosen" if t["chosen"] <= t["native"] else "native"
            lines.append(
                f"whole ensemble, {size.replace('_', ' ')}: chosen paths {t['chosen'] * 1e3:.3f} "
                f"ms, all native {t['native'] * 1e3:.3f} ms; kept {kept}"
            )
        return lines

    def __reduce__(self) -> tuple:
        return (_unset, ())


def _onnx_path(expert: Any, rows: np.ndarray, threads: int) -> Predictor:
    from .export.graph import session
    from .export.writer import export_expert

    result, model = export_expert(expert, rows, TOLERANCE)
    if model is None:
        raise RuntimeError("; ".join(result.failures))
    sess = session(model.SerializeToString(), threads)
    return lambda X: sess.run(None, {"features": X})[0].astype(np.float64)


def _torch_path(expert: Any, path: str) -> Predictor:
    import torch

    from .export.networks import torch_module

    module = torch_module(expert)
    if path == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("no CUDA device")
        device = torch.device("cuda")
        module = copy.deepcopy(module).to(device)
    else:
        device = torch.device("cpu")
        module = torch.compile(module, dynamic=True)

    def predict(X: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            out = module(torch.from_numpy(X).to(device, non_blocking=True))
        return out.double().cpu().numpy()

    return predict


def _build(expert: Any, path: str, rows: np.ndarray, threads: int) -> Predictor | None:
    if path == "native":
        return None
    if path == "onnxruntime":
        if not available():
            raise RuntimeError("the onnx extra is not installed")
        return _onnx_path(expert, rows, threads)
    if path in ("cuda", "torch.compile"):
        return _torch_path(expert, path)
    raise ValueError(f"unknown inference path {path!r}; known: {PATHS + OPT_IN}")


def _medians(calls: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    """Median seconds of each call, the calls interleaved round by round (a load that
    changes during the timing hits every path alike), after one warm-up call each."""
    for fn in calls.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeat):
        for name, fn in calls.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def _through(expert: Any, fn: Predictor | None) -> Predictor:
    """``expert.predict_proba`` routed to ``fn`` (None: native): timed the way it runs."""
    router = None if fn is None else Router(fn, fn)

    def call(X: np.ndarray) -> np.ndarray:
        expert.serving_ = router
        return expert.predict_proba(X)

    return call


def _choose_expert(
    expert: Any, X: np.ndarray | None, paths: Sequence[str], batch_rows: int, repeat: int,
    threads: int,
) -> tuple[ExpertChoice, Router | None]:  # fmt: skip
    check = parity_rows(expert, X)
    native = native_proba(expert, check)
    finite = check[np.isfinite(check).all(axis=1)]
    one = np.ascontiguousarray(finite[:1])
    batch = np.ascontiguousarray(np.resize(finite, (batch_rows, finite.shape[1])))
    choice = ExpertChoice(expert.name)
    fns: dict[str, Predictor | None] = {}
    for path in paths:
        if path in TORCH_ONLY and expert.library != "torch":
            continue
        result = PathResult(path)
        choice.results.append(result)
        try:
            fn = _build(expert, path, check, threads)
            if fn is not None:
                result.max_abs_diff = max_difference(fn(check), native)
                if not result.max_abs_diff <= TOLERANCE:
                    raise RuntimeError(f"max |dp| {result.max_abs_diff:.3g} > {TOLERANCE:g}")
            fns[path] = fn
        except Exception as exc:  # a path that fails is refused, never used
            result.error = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    calls = {p: _through(expert, f) for p, f in fns.items()}
    for rows, attr in ((one, "one_row"), (batch, "batch")):
        timed = _medians({p: (lambda c=c, r=rows: c(r)) for p, c in calls.items()}, repeat)
        for result in choice.results:
            if result.path in timed:
                setattr(result, attr, timed[result.path])
    ok = [r for r in choice.results if r.ok]
    if not ok:
        return choice, None
    choice.small = min(ok, key=lambda r: r.one_row).path
    choice.large = min(ok, key=lambda r: r.batch).path
    if choice.small == choice.large == "native":
        return choice, None
    return choice, Router(fns.get(choice.small), fns.get(choice.large))


def _whole_ensemble(
    ensemble: Any, choices: list[ExpertChoice], routers: list[Router | None],
    X: np.ndarray | None, batch_rows: int, repeat: int,
) -> dict[str, dict[str, float]]:  # fmt: skip
    """Times the whole ensemble with the chosen routers and with every expert native, on
    one row and on ``batch_rows`` rows; a size where all native is faster goes back to
    native in every router (the per-expert timings miss how paths share the two cores:
    ONNX Runtime's threads and torch's or the forests' get in each other's way)."""
    rows = parity_rows(ensemble.experts_[0], X)
    rows = rows[np.isfinite(rows).all(axis=1)]
    sizes = {"one_row": rows[:1], "batch": np.resize(rows, (batch_rows, rows.shape[1]))}

    def predict(chosen: bool, rows: np.ndarray) -> Callable[[], object]:
        def call() -> object:
            for expert, router in zip(ensemble.experts_, routers, strict=True):
                expert.serving_ = router if chosen else None
            return ensemble.predict_proba(rows)

        return call

    whole = {}
    for size, rows in sizes.items():
        rows = np.ascontiguousarray(rows)
        whole[size] = _medians(
            {"chosen": predict(True, rows), "native": predict(False, rows)}, repeat
        )
        if whole[size]["native"] < whole[size]["chosen"]:
            attr = "small" if size == "one_row" else "large"
            for router, choice in zip(routers, choices, strict=True):
                if router is not None:
                    setattr(router, attr, None)
                    setattr(choice, attr, "native")
    for i, router in enumerate(routers):
        if router is not None and router.small is None and router.large is None:
            routers[i] = None
    return whole


def choose_inference(
    ensemble: Any,
    X: np.ndarray | None = None,
    *,
    paths: Sequence[str] = PATHS,
    batch_rows: int = 1000,
    repeat: int = 5,
    threads: int | None = None,
) -> InferencePlan:
    """Choose and install each expert's predictor (see the module doc); returns the plan.

    ``X``: rows in the fitted feature order added to the check rows; ``threads``: ONNX
    Runtime's threads per session (default: the compiled forests' rule, two where this
    process may use two cores)."""
    from .experts.forest.gate import default_inference_threads

    started = time.perf_counter()
    threads = threads or default_inference_threads()
    if X is not None:
        X = np.asarray(X, dtype=np.float32)
        X = X[np.isfinite(X).all(axis=1)]
    choices, routers = [], []
    for expert in ensemble.experts_:
        expert.serving_ = None  # the native path while choosing
        try:
            choice, router = _choose_expert(expert, X, paths, batch_rows, repeat, threads)
        except Exception as exc:  # choosing must never break predictions: native
            logger.warning("inference %s: native, the choice failed: %r", expert.name, exc)
            choice, router = ExpertChoice(expert.name), None
        choices.append(choice)
        routers.append(router)
    whole: dict[str, dict[str, float]] = {}
    if any(r is not None for r in routers):
        try:
            whole = _whole_ensemble(ensemble, choices, routers, X, batch_rows, repeat)
        except Exception as exc:  # never break predictions: every expert native
            logger.warning("inference: all native, the whole-ensemble check failed: %r", exc)
            routers = [None] * len(routers)
    for expert, router in zip(ensemble.experts_, routers, strict=True):
        expert.serving_ = router
    plan = InferencePlan(choices, time.perf_counter() - started, whole)
    ensemble.inference_plan_ = plan
    for line in plan.lines():
        logger.info("inference %s", line)
    return plan


def ensure_inference(ensemble: Any, **options: Any) -> InferencePlan:
    """The ensemble's plan, chosen now if it has none (fresh from a pickle or a save)."""
    plan = getattr(ensemble, "inference_plan_", None)
    return plan if plan is not None else choose_inference(ensemble, **options)


def use_native(ensemble: Any) -> None:
    """Every expert back on its native predictor (the plan is dropped)."""
    for expert in ensemble.experts_:
        expert.serving_ = None
    ensemble.inference_plan_ = None
