"""Library parameters at the top level of ``model_training_parameters``, as FreqAI writes them.

FreqAI documents ``model_training_parameters`` as the model library's parameters, written at
the top level (``{"n_estimators": 800, "learning_rate": 0.02, "n_jobs": 4}``). Here:

* a single-expert class (``HyperPhysicsLightGBMClassifier``, ...) takes its library's
  parameters there, checked against that library's own names (a misspelt key is an error
  with a "did you mean"). One of FreqAI's cross-library names that its library has no use
  for (``n_estimators`` for a network) is ignored with a warning, as FreqAI's own model of
  that library ignores it;
* ``HyperPhysicsEnsemble`` gives a top-level key to every selected expert whose library
  takes it, and the start-up log says which took it; a key that no selected expert takes is
  an error naming the experts;
* an expert's own section (``"lightgbm": {...}``) overrides a top-level key for that expert;
* ``n_jobs`` / ``thread_count`` cap the CPU threads the hardware plan gives each expert
  (-1: the plan's share); device settings (``device``, ``task_type``, ...) are refused:
  devices come from the plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hyperphysics_strategy.ensemble import EXPERT_REGISTRY
from hyperphysics_strategy.ensemble.experts.param_check import DEVICE_KEYS, DEVICE_REASON, closest

#: FreqAI's documented cross-library names (its parameter table and examples).
FREQAI_NAMES = frozenset(
    {"n_estimators", "learning_rate", "n_jobs", "thread_count", "task_type", "device"}
)
#: FreqAI's PyTorch models' nested sections: not this package's torch experts' keys.
_FREQAI_TORCH = {"trainer_kwargs", "model_kwargs"}


@dataclass
class SharedKeys:
    """Where each top-level library key went: merged sections, log lines, problems."""

    sections: dict[str, dict[str, Any]]
    notes: list[str] = field(default_factory=list)
    problems: list[tuple[str, str, str]] = field(default_factory=list)


def takes(expert: str, key: str) -> bool:
    """Whether ``expert`` takes ``key`` from the top level."""
    cls = EXPERT_REGISTRY[expert]
    return key in cls.parameter_names() and key not in cls.NOT_SHARED


def _why_not(expert: str, key: str) -> str:
    cls = EXPERT_REGISTRY[expert]
    return cls.NOT_SHARED.get(key) or f"{cls.library} has no parameter {key!r}"


def resolve(
    shared: dict[str, Any],
    sections: dict[str, dict[str, Any]],
    experts: tuple[str, ...],
    single: bool,
    section_name: str,
    options: list[str],
) -> SharedKeys:
    """Merge the top-level library keys ``shared`` into each selected expert's section.

    ``single``: the model trains one expert (FreqAI's single-model form); ``options``: the
    section's own keys, offered in a "did you mean" next to the libraries' names.
    """
    out = SharedKeys({name: dict(sections.get(name) or {}) for name in experts})
    names = set(options).union(*(EXPERT_REGISTRY[n].parameter_names() for n in experts))
    for key, value in shared.items():
        where = f"{section_name}.{key}"
        if key in DEVICE_KEYS:
            out.problems.append((where, f"refused: {DEVICE_REASON}", "remove it"))
            continue
        took = [n for n in experts if takes(n, key)]
        if not took:
            if single and key in FREQAI_NAMES:
                reason = _why_not(experts[0], key)
                out.notes.append(
                    f"{where} is ignored by the {experts[0]} expert ({reason}), as FreqAI's "
                    "own model of that library ignores it"
                )
                continue
            fix = closest(key, names)
            if key in _FREQAI_TORCH:
                fix += " (FreqAI's PyTorch sections are not read: write the torch expert's "
                fix += "own keys, e.g. max_epochs, hidden; see docs/config.md)"
            who = ", ".join(f"{n} ({_why_not(n, key)})" for n in experts)
            out.problems.append(
                (where, "unknown key", f"{fix} (no selected expert takes it: {who})")
            )
            continue
        for name in took:
            out.sections[name].setdefault(key, value)  # an expert's own section wins
        overridden = [n for n in took if (sections.get(n) or {}).get(key, value) != value]
        left = [n for n in experts if n not in took]
        note = f"{where}={value!r}: taken by {', '.join(took)}"
        if overridden:
            note += f" (its own section overrides it for {', '.join(overridden)})"
        if left:
            note += "; not by " + ", ".join(f"{n} ({_why_not(n, key)})" for n in left)
        out.notes.append(note)
    return out
