"""One configuration of the whole bet (:class:`TrialSpec`) and the space it is sampled from.

The space (:class:`SearchSpace`): the candle timeframe, the label (horizon ``h``, ``k_up``,
``k_down``), the entry margin, the expert set (a subset of the candidates) with each chosen
expert's own dimensions (``Expert.SEARCH_SPACE``, declared next to its defaults), the
feature groups, the training window, stacking on/off and, where available, the meta-label
filter. :func:`sample` draws a :class:`TrialSpec` from an Optuna trial (define-by-run, so
an expert's parameters exist only in the trials that use it).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from hyperphysics_strategy.ensemble.experts import DEFAULT_EXPERTS, EXPERT_REGISTRY
from hyperphysics_strategy.ensemble.experts.space import Choice, Dimension, Int, Real

from ..bet import DEFAULT_BET

#: feature groups a trial may switch; "indicators" (the strategy's own) is always on
FEATURE_GROUPS = ("multi_timeframe", "risk", "regime")


@dataclass(frozen=True)
class TrialSpec:
    """Everything one walk-forward trial needs to know (JSON-able, hashable by content)."""

    timeframe: str = "5m"
    horizon: int = DEFAULT_BET.horizon
    k_up: float = DEFAULT_BET.k_up
    k_down: float = DEFAULT_BET.k_down
    margin: float = DEFAULT_BET.margin
    experts: tuple[str, ...] = DEFAULT_EXPERTS
    expert_params: dict[str, dict[str, Any]] = field(default_factory=dict)
    feature_groups: tuple[str, ...] = ()
    indicator_periods: tuple[int, ...] = (10, 20)
    train_days: int = 30
    stacking: bool = True
    meta_label: bool = False

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrialSpec:
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown trial keys {unknown}; known: {', '.join(sorted(known))}")
        data = dict(data)
        for key in ("experts", "feature_groups", "indicator_periods"):
            if key in data:
                data[key] = tuple(data[key])
        return cls(**data)

    def fit_key(self) -> str:
        """Hash of what a fold's fit depends on (the margin only picks entries afterwards)."""
        d = self.to_dict()
        d.pop("margin")
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SearchSpace:
    """The dimensions of a search; every bound is stated here once."""

    timeframes: tuple[str, ...] = ("5m", "15m", "1h")
    horizons: tuple[int, ...] = (6, 12, 24, 48)
    k: Real = Real(0.5, 2.5)
    margin: Real = Real(0.0, 0.5)
    experts: tuple[str, ...] = DEFAULT_EXPERTS
    expert_params: bool = True
    #: "regime" is left out by default: its Markov-switching fits cost more than a trial
    feature_groups: tuple[str, ...] = ("multi_timeframe", "risk")
    indicator_periods: tuple[tuple[int, ...], ...] = ((10, 20), (14,), (10, 20, 50))
    train_days: tuple[int, ...] = (14, 30, 60)
    stacking: tuple[bool, ...] = (True, False)
    meta_label: tuple[bool, ...] = (False, True)

    def __post_init__(self) -> None:
        unknown = [e for e in self.experts if e not in EXPERT_REGISTRY]
        if unknown:
            raise ValueError(f"unknown expert(s) {unknown}; known: {', '.join(EXPERT_REGISTRY)}")
        bad = [g for g in self.feature_groups if g not in FEATURE_GROUPS]
        if bad:
            raise ValueError(f"unknown feature group(s) {bad}; known: {', '.join(FEATURE_GROUPS)}")
        if not self.experts:
            raise ValueError("the search needs at least one candidate expert")

    def to_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))


def suggest(trial: Any, name: str, dim: Dimension) -> Any:
    """One Optuna suggestion for ``dim`` under ``name``."""
    if isinstance(dim, Int):
        return trial.suggest_int(name, dim.low, dim.high, log=dim.log)
    if isinstance(dim, Real):
        return trial.suggest_float(name, dim.low, dim.high, log=dim.log)
    if isinstance(dim, Choice):
        return trial.suggest_categorical(name, list(dim.options))
    raise TypeError(f"not a search dimension: {dim!r}")


def _choice(trial: Any, name: str, options: tuple) -> Any:
    if len(options) == 1:
        return options[0]
    labels = [json.dumps(o) if isinstance(o, tuple | list) else o for o in options]
    picked = trial.suggest_categorical(name, labels)
    return options[labels.index(picked)]


def sample(trial: Any, space: SearchSpace) -> TrialSpec:
    """Draw one :class:`TrialSpec` from ``space`` through an Optuna ``trial``."""
    experts = tuple(
        e
        for e in space.experts
        if len(space.experts) == 1 or trial.suggest_categorical(e, [True, False])
    ) or (space.experts[0],)
    params = {}
    if space.expert_params:
        for e in experts:
            params[e] = {
                key: suggest(trial, f"{e}.{key}", dim)
                for key, dim in EXPERT_REGISTRY[e].SEARCH_SPACE.items()
            }
    groups = tuple(
        g for g in space.feature_groups if trial.suggest_categorical(f"features.{g}", [True, False])
    )
    return TrialSpec(
        timeframe=_choice(trial, "timeframe", space.timeframes),
        horizon=_choice(trial, "horizon", space.horizons),
        k_up=round(suggest(trial, "k_up", space.k), 3),
        k_down=round(suggest(trial, "k_down", space.k), 3),
        margin=round(suggest(trial, "margin", space.margin), 3),
        experts=experts,
        expert_params=params,
        feature_groups=groups,
        indicator_periods=tuple(_choice(trial, "indicator_periods", space.indicator_periods)),
        train_days=_choice(trial, "train_days", space.train_days),
        stacking=_choice(trial, "stacking", space.stacking),
        meta_label=_choice(trial, "meta_label", space.meta_label),
    )
