"""The ensemble's default experts and the library each one trains with (one constant)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TaskSpec:
    """One unit of work to place: a name (e.g. an expert) and the library it runs on."""

    name: str
    library: str  # "lightgbm", "xgboost", "catboost" or "torch"


DEFAULT_EXPERTS: tuple[TaskSpec, ...] = (
    TaskSpec("lightgbm", "lightgbm"),
    TaskSpec("xgboost", "xgboost"),
    TaskSpec("catboost", "catboost"),
    TaskSpec("xgboost_rf", "xgboost"),
    TaskSpec("xgboost_dart", "xgboost"),
    TaskSpec("catboost_alt", "catboost"),
    TaskSpec("mlp", "torch"),
    TaskSpec("nbeats", "torch"),
    TaskSpec("tide", "torch"),
    TaskSpec("tabnet", "torch"),
    TaskSpec("kan", "torch"),
    TaskSpec("transformer", "torch"),
)

DEFAULT_EXPERT_NAMES: tuple[str, ...] = tuple(t.name for t in DEFAULT_EXPERTS)
