"""Expert parameters, checked against each library's own rules before any training starts.

A misspelt key used to reach the library (LightGBM and XGBoost only warn, and train with
the default) and a bad value was found, if ever, by the real training: ``n_estimators: -1``
trained a 0-tree XGBoost that stayed in the blend (issue 23). :func:`check_expert_params`
refuses, naming the expert and the key:

* a name the library does not know (its own list of parameters and aliases: LightGBM's
  alias table, XGBoost's learner configuration and scikit-learn wrapper, CatBoost's
  constructor; a torch expert's trainer and architecture keys), with a "did you mean";
* a device setting: devices come from the hardware plan (:data:`DEVICE_KEYS`);
* a thread count (:data:`THREAD_KEYS`, FreqAI's ``n_jobs`` / ``thread_count``) that is not
  -1 (the plan's share) or 1..4096; it caps the threads the plan gives the expert;
* a round count (``n_estimators`` and the library's aliases) or ``early_stopping_rounds``
  that is not a whole number in 1..1,000,000;
* every other value the library itself refuses: the expert is fitted once, for one round or
  epoch, on a tiny synthetic set on the CPU, and the library's error is reported.

A parameter set that passed is remembered, so retraining does not check it again.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import json
import threading
from typing import Any

import numpy as np

from hyperphysics_strategy.engine.hardware.placement import Placement

#: an :class:`~.base.Expert` (this module is imported by ``base``, never the other way)
Expert = Any

#: FreqAI's cross-library thread names and each library's own: a cap on the plan's threads.
THREAD_KEYS = frozenset(
    {"n_jobs", "thread_count", "nthread", "nthreads", "num_threads", "num_thread"}
)
MAX_THREADS = 4096
#: Device settings: the hardware plan decides each expert's device.
DEVICE_KEYS = frozenset(
    {"device", "device_type", "task_type", "devices", "gpu_device_id", "gpu_id", "gpu_platform_id"}
)
DEVICE_REASON = (
    "devices come from the hardware plan (`hyperphysics hardware` shows it; "
    "CUDA_VISIBLE_DEVICES='' keeps every expert on the CPU)"
)
#: The keys that count training rounds, per library (LightGBM's aliases are added below).
ROUND_KEYS = {
    "lightgbm": {"n_estimators", "num_boost_round"},
    "xgboost": {"n_estimators", "num_boost_round"},
    "catboost": {"iterations", "n_estimators", "num_boost_round", "num_trees"},
    "torch": {"max_epochs"},
}
MAX_ROUNDS = 1_000_000
#: Keys read by this package's tree experts, never passed to the library.
OWN_TREE_KEYS = frozenset({"early_stopping_rounds", "fast_inference", "inference_threads"})


@functools.cache
def library_parameter_names(library: str) -> frozenset[str]:
    """Every parameter name (and alias) ``library`` takes."""
    if library == "lightgbm":
        import lightgbm as lgb

        aliases = lgb.basic._ConfigAliases._get_all_param_aliases()
        names = {name for group in aliases.values() for name in group} | set(aliases)
        names |= set(lgb.LGBMClassifier().get_params())
    elif library == "xgboost":
        names = _xgboost_names()
    elif library == "catboost":
        import catboost

        names = set(inspect.signature(catboost.CatBoostClassifier.__init__).parameters)
        names -= {"self", "kwargs"}
    else:
        raise ValueError(f"no parameter list for library {library!r}")
    return frozenset(names | OWN_TREE_KEYS | THREAD_KEYS)


def _xgboost_names() -> set[str]:
    """The scikit-learn wrapper's parameters and every leaf of the learner's configuration
    for the three boosters (gbtree, dart, gblinear)."""
    import xgboost as xgb

    names = set(xgb.XGBClassifier().get_params()) | {"num_boost_round", "eval_metric"}
    data = xgb.DMatrix(np.arange(6, dtype=np.float32).reshape(3, 2), label=[0, 1, 2])

    def leaves(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if not isinstance(value, (dict, list)):
                    names.add(key)
                leaves(value)

    for booster in ("gbtree", "dart", "gblinear"):
        params = {"booster": booster, "objective": "multi:softprob", "num_class": 3}
        leaves(json.loads(xgb.train(params, data, 1).save_config()))
    return names


def round_keys(library: str) -> frozenset[str]:
    keys = set(ROUND_KEYS[library])
    if library == "lightgbm":
        import lightgbm as lgb

        keys |= set(lgb.basic._ConfigAliases.get("num_iterations"))
    return frozenset(keys)


def closest(key: str, names: set[str] | frozenset[str]) -> str:
    match = difflib.get_close_matches(str(key), sorted(names), n=1, cutoff=0.6)
    return f"did you mean {match[0]!r}?" if match else "no similar key"


def _whole(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def thread_cap(params: dict[str, Any]) -> int | None:
    """The smallest thread count of ``params`` (``None``: none, or -1: the plan's share)."""
    caps = [int(v) for k, v in params.items() if k in THREAD_KEYS and _whole(v) and v > 0]
    return min(caps) if caps else None


def name_problems(expert: Expert) -> list[str]:
    """Each bad key of ``expert.params``: unknown name, device, thread or round count."""
    known = expert.parameter_names()
    rounds = round_keys(expert.library) | {"early_stopping_rounds"}
    problems = []
    for key, value in expert.params.items():
        if key in DEVICE_KEYS:
            problems.append(f"{key}: refused, {DEVICE_REASON}")
        elif key not in known:
            problems.append(f"{key}: unknown to {expert.library}, {closest(key, known)}")
        elif key in THREAD_KEYS and not (
            _whole(value) and (value == -1 or 1 <= value <= MAX_THREADS)
        ):
            problems.append(
                f"{key}: threads must be -1 (the plan's share) or 1..{MAX_THREADS}, got {value!r}"
            )
        elif key in rounds and not (_whole(value) and 1 <= value <= MAX_ROUNDS):
            problems.append(f"{key}: must be a whole number in 1..{MAX_ROUNDS:,}, got {value!r}")
    return problems


_PASSED: set[str] = set()
_LOCK = threading.Lock()


def check_expert_params(expert: Expert, probe: bool = True) -> None:
    """Raise ``ValueError`` naming the expert and each bad parameter (see module doc);
    ``probe=False`` checks names, devices, threads and rounds only (no fit)."""
    problems = name_problems(expert)
    if problems:
        raise ValueError(f"expert {expert.name!r}: " + "; ".join(problems))
    if not probe:
        return
    key = json.dumps([expert.name, expert.params], sort_keys=True, default=repr)
    with _LOCK:
        if key in _PASSED:
            return
    params = {k: v for k, v in expert.params.items() if k not in round_keys(expert.library)}
    params.update(expert.probe_params())
    try:
        type(expert)(params=params, seed=expert.seed).fit(
            expert.probe_data(), Placement(expert.library)
        )
    except Exception as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ValueError(
            f"expert {expert.name!r}: {expert.library} refuses its parameters "
            f"{expert.params}: {reason}"
        ) from exc
    with _LOCK:
        _PASSED.add(key)
