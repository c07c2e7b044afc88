"""``freqai.model_training_parameters`` of the HyperPhysics models, validated with pydantic.

freqtrade passes this section through unchecked. Read by hand, ``"calibrate": "false"``
left calibration on (a non-empty string is truthy), ``"expert_timeout": "10"`` made every
expert fail at the first comparison, and a misspelled key was silently ignored. Here
unknown keys are errors that name the key and the closest valid one, booleans are strict
(``true``/``false`` only) and numbers must be JSON numbers. Each default is
:class:`~..ensemble.ExpertEnsemble`'s own, read from its signature (written once, there).

Each expert's own section (``"lightgbm": {...}``) holds the library's keyword arguments;
library keys may also be written at the top level, as FreqAI's docs write them
(:mod:`.shared_keys`: a single-expert class takes its library's, the ensemble gives each
key to the experts that take it). Every expert's parameters are checked against its
library's rules before any training (:mod:`...ensemble.experts.param_check`).
"""

from __future__ import annotations

import difflib
import logging
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator

from hyperphysics_strategy.ensemble import EXPERT_REGISTRY, ExpertEnsemble, make_expert

from .shared_keys import SharedKeys, resolve

logger = logging.getLogger(__name__)
SECTION = "freqai.model_training_parameters"
#: the ensemble's defaults (its constructor's; ExpertEnsemble() builds nothing)
_DEFAULT = ExpertEnsemble().get_params()


def _expert_section(name: str) -> Any:
    return Field(
        default_factory=dict,
        description=f"Keyword arguments of the {name} expert (its library's parameters, "
        "checked against the library before training); they override the same keys at the "
        "top level.",
    )


#: Whole numbers and reals from JSON numbers only, flags from ``true``/``false`` only
#: (strict: ``"10"`` and ``"false"`` are errors, not coerced), with their bounds.
#: Every number also has an upper bound a user could mean (issue 23: ``expert_timeout:
#: 1e12`` passed, then every training failed with ``OverflowError``).
NonNegative = Annotated[int, Field(strict=True, ge=0)]
Positive = Annotated[int, Field(strict=True, ge=1)]
PositiveReal = Annotated[float, Field(strict=True, gt=0)]
Flag = Annotated[bool, Field(strict=True)]


def _ensemble_option(key: str, description: str, le: float | None = None) -> Any:
    """A field whose default is the ensemble constructor's ``key`` (at most ``le``)."""
    return Field(_DEFAULT[key], description=description, le=le)


class _EnsembleOptions(BaseModel):
    """The keys of ``model_training_parameters`` other than the experts' own sections."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    experts: tuple[str, ...] = Field(
        tuple(_DEFAULT["experts"]),
        min_length=1,
        description="Experts that HyperPhysicsEnsemble trains and blends (the single-expert "
        "models train their own expert and ignore this key).",
    )
    seed: NonNegative = _ensemble_option(
        "seed",
        "Seed of the first expert (+1 each); at most 1,000,000,000 (the libraries take 32-bit "
        "seeds).",
        le=1_000_000_000,
    )
    max_train_rows: Positive | None = _ensemble_option(
        "max_train_rows",
        "Training rows beyond this are stratified-sampled; null: all rows; at most 2**31 - 1 "
        "(the tree libraries' row limit).",
        le=2**31 - 1,
    )
    drift_rows: NonNegative = _ensemble_option(
        "drift_rows",
        "Most recent rows whose feature drift (PSI) against the training rows is "
        "reported; 0: no drift report; at most 10,000,000.",
        le=10_000_000,
    )
    use_processes: Flag | None = _ensemble_option(
        "use_processes",
        "null: torch experts train in worker processes, tree experts in threads; "
        "true: every expert in a process; false: every expert in a thread.",
    )
    expert_timeout: PositiveReal | None = _ensemble_option(
        "expert_timeout",
        "Seconds one expert may train before it is dropped; null: no limit; at most 604,800 "
        "(a week).",
        le=604_800,
    )
    stacking_folds: NonNegative = _ensemble_option(
        "stacking_folds",
        "Forward-chaining folds whose out-of-fold predictions train the stacked "
        "blend (0: the validation block only); at most 50.",
        le=50,
    )
    stacking_C: PositiveReal = _ensemble_option(
        "stacking_C", "Inverse L2 strength of the stacked logistic blend; at most 1e6.", le=1e6
    )
    live_round_pairs: Positive | None = Field(
        None,
        le=10_000,
        description="Live and dry-run: pairs trained at once in a training round (their "
        "experts share the device lanes); null: every pair whose model is due; 1: one pair "
        "after another, as FreqAI does; at most 10,000.",
    )
    concurrent_windows: Positive | None = Field(
        None,
        le=1024,
        description="Backtesting: how many of a pair's training windows train at once "
        "(results equal a sequential run); 1: one after the other, as FreqAI does; null: "
        "from the hardware (2 on CPUs, enough to cover every GPU); at most 1024.",
    )
    backend: Literal["local", "ray"] = Field(
        _DEFAULT["backend"],
        description="local: the experts train on this machine (threads and worker processes); "
        "ray: each expert is a Ray task on a Ray cluster (pip install "
        "'ray>=2.40'), joined at hyperphysics.cluster.address, else "
        "RAY_ADDRESS, else a Ray started on this machine.",
    )

    @field_validator("experts")
    @classmethod
    def _known_experts(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [n for n in names if n not in EXPERT_REGISTRY]
        if unknown:
            hints = "".join(f" ({n!r}: {_closest(n, list(EXPERT_REGISTRY))})" for n in unknown)
            raise ValueError(
                f"unknown expert(s) {unknown}{hints}; known: {', '.join(EXPERT_REGISTRY)}"
            )
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"expert listed twice: {', '.join(twice)}")
        return names

    def expert_params(self, name: str) -> dict[str, Any]:
        """A copy of expert ``name``'s own section."""
        return dict(getattr(self, name))


#: The options, then one section per registered expert (a new expert gets its own).
TrainingParameters = create_model(
    "TrainingParameters",
    __base__=_EnsembleOptions,
    __doc__="What the FreqAI models of this package read from ``model_training_parameters``.",
    **{name: (dict[str, Any], _expert_section(name)) for name in EXPERT_REGISTRY},
)


def _closest(key: str, candidates: list[str]) -> str:
    match = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
    return f"did you mean {match[0]!r}?" if match else "no similar key"


def _selected(section: dict[str, Any], experts: tuple[str, ...] | None) -> tuple[str, ...]:
    """The experts that train: ``experts`` (a single-expert class), else the section's
    valid ``experts`` list, else the default."""
    if experts is not None:
        return tuple(experts)
    listed = section.get("experts")
    if (
        isinstance(listed, (list, tuple))
        and listed
        and all(isinstance(n, str) and n in EXPERT_REGISTRY for n in listed)
    ):
        return tuple(dict.fromkeys(listed))
    return tuple(_DEFAULT["experts"])


def _resolved(
    section: dict[str, Any], experts: tuple[str, ...] | None
) -> tuple[dict[str, Any], SharedKeys]:
    """The section's own keys, and its top-level library keys merged into the sections of
    the experts that take them (:mod:`.shared_keys`)."""
    fields = list(TrainingParameters.model_fields)
    own = {k: v for k, v in section.items() if k in fields}
    shared = {k: v for k, v in section.items() if k not in fields}
    names = _selected(section, experts)
    sections = {n: own[n] for n in names if isinstance(own.get(n), dict)}
    return own, resolve(shared, sections, names, experts is not None, SECTION, fields)


def parameter_problems(
    section: Any, experts: tuple[str, ...] | None = None
) -> list[tuple[str, str, str]]:
    """Every problem of ``section``, as ``(key path, problem, fix)``; empty when valid.

    ``experts``: the one expert of a single-expert class (its library's parameters may be
    written at the top level); ``None``: the ensemble, whose experts the section lists.
    Each expert's parameters are checked against its library's rules (one short fit on a
    tiny set); a missing library raises ``ImportError``.
    """
    if section is None:
        return []
    if not isinstance(section, dict):
        return [(SECTION, f"must be an object, got {type(section).__name__}", "see the docs")]
    own, shared = _resolved(section, experts)
    out = list(shared.problems)
    try:
        TrainingParameters(**own)
    except ValidationError as exc:
        for error in exc.errors():
            loc = [str(p) for p in error["loc"]]
            where = ".".join([SECTION, *loc])
            msg = error["msg"].removeprefix("Value error, ")
            out.append((where, f"{msg} (got {error['input']!r})", "see docs/ensemble.md"))
    for name, params in shared.sections.items():
        try:
            make_expert(name, params).check_params()
        except ValueError as exc:
            out.append((f"{SECTION}.{name}", str(exc), "see docs/config.md"))
    return out


def cluster_address(config: dict[str, Any]) -> str | None:
    """``hyperphysics.cluster.address`` of the freqtrade config (the strategy's settings
    validate the section; this layer reads the one key the ray backend needs)."""
    section = (config.get("hyperphysics") or {}).get("cluster") or {}
    address = section.get("address") if isinstance(section, dict) else None
    if address is not None and not isinstance(address, str):
        raise ValueError(
            f"hyperphysics.cluster.address must be a string like '10.0.0.5:6379', got {address!r}"
        )
    return address or None


def parameter_notes(section: Any, experts: tuple[str, ...] | None = None) -> list[str]:
    """Where each top-level library key of ``section`` goes: which experts take it, which
    ignore it (the lines the FreqAI model logs at start-up)."""
    return _resolved(section, experts)[1].notes if isinstance(section, dict) else []


def load_training_parameters(
    section: Any, experts: tuple[str, ...] | None = None
) -> TrainingParameters:
    """Validate ``model_training_parameters`` (``experts``: see :func:`parameter_problems`);
    ``ValueError`` naming every bad key. Top-level library keys are merged into the
    sections of the experts that take them, and the log says which took each."""
    problems = parameter_problems(section, experts)
    if problems:
        text = "; ".join(
            f"{where}: {problem}, {fix}" if problem == "unknown key" else f"{where}: {problem}"
            for where, problem, fix in problems
        )
        raise ValueError(f"invalid FreqAI parameters: {text}")
    own, shared = _resolved(section or {}, experts)
    for note in shared.notes:
        (logger.warning if " is ignored by " in note else logger.info)("HyperPhysics: %s", note)
    return TrainingParameters(**own).model_copy(update=shared.sections)
