"""The checks of ``hyperphysics doctor --userdir``: do the stubs load, is the config valid,
are its candles there (:mod:`.userdir_candles`).

Each check returns :class:`Problem` rows (where, what is wrong, how to fix it). Stubs are
loaded the way freqtrade's resolver loads them (each file run as a top-level module; the
class must be defined in it: :mod:`hyperphysics_strategy.freqai.compat.get_valid_object`);
the config is read with freqtrade's own loader, validated against freqtrade's own schema,
and its ``hyperphysics`` section, FreqAI model, strategy and expert list are checked
against this package.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from copy import deepcopy
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

FREQTRADE_CONFIG_DOC = "https://www.freqtrade.io/en/stable/configuration/"


@dataclass(frozen=True)
class Problem:
    where: str
    problem: str
    fix: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def check_stubs(userdir: Path) -> tuple[list[Problem], dict[str, str]]:
    """Problems with the strategy and FreqAI model files; and file -> class found."""
    from freqtrade.freqai.freqai_interface import IFreqaiModel
    from freqtrade.strategy.interface import IStrategy

    from hyperphysics_strategy.freqai.compat.get_valid_object import (
        defined_classes,
        load_as_freqtrade_does,
    )
    from hyperphysics_strategy.stubs import MANIFEST, planned_files

    problems: list[Problem] = []
    loaded: dict[str, str] = {}
    init = f"hyperphysics init {userdir}"
    try:
        manifest: dict[str, str] = json.loads((userdir / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError):
        manifest = {}
    planned = {rel: text for rel, text in planned_files().items() if rel.endswith(".py")}
    for rel, text in planned.items():
        path = userdir / rel
        if not path.is_file():
            problems.append(Problem(rel, "stub missing: freqtrade cannot find this class", init))
            continue
        current = hashlib.sha256(path.read_bytes()).hexdigest()
        if current != hashlib.sha256(text.encode()).hexdigest() and manifest.get(rel) == current:
            problems.append(Problem(rel, "stub written by an older version", init))
    for folder, base in (("strategies", IStrategy), ("freqaimodels", IFreqaiModel)):
        for path in sorted((userdir / folder).glob("*.py")):
            rel = f"{folder}/{path.name}"
            try:
                module = load_as_freqtrade_does(path)
            except Exception as exc:  # what freqtrade would only log as a warning
                fix = (
                    "the message says what to install or upgrade"
                    if rel in planned
                    else "fix the error in this file"
                )
                problems.append(Problem(rel, f"does not load: {exc}", fix))
                continue
            classes = defined_classes(module, base)
            if rel in planned and path.stem not in classes:
                problems.append(Problem(rel, f"defines no class {path.stem}", f"{init} --force"))
            for name in classes:
                loaded[rel] = name
    return problems, loaded


def _schema_problems(config: dict[str, Any]) -> list[Problem]:
    from freqtrade.config_schema.config_schema import CONF_SCHEMA, SCHEMA_MINIMAL_REQUIRED
    from freqtrade.configuration.config_validation import FreqtradeValidator

    schema = deepcopy(CONF_SCHEMA)
    schema["required"] = SCHEMA_MINIMAL_REQUIRED
    problems = []
    for error in sorted(
        FreqtradeValidator(schema).iter_errors(deepcopy(config)), key=lambda e: list(e.path)
    ):
        where = ".".join(str(p) for p in error.path) or "(top level)"
        problems.append(Problem(f"config {where}", error.message, f"see {FREQTRADE_CONFIG_DOC}"))
    known = set(CONF_SCHEMA["properties"]) | {"$schema", "hyperphysics"}
    for key in config:
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            fix = f"did you mean {close[0]!r}?" if close else "remove it"
            problems.append(
                Problem(f"config {key}", "not a freqtrade setting: freqtrade ignores it", fix)
            )
    return problems


def _hyperphysics_problems(config: dict[str, Any]) -> list[Problem]:
    from pydantic import ValidationError

    from hyperphysics_strategy.strategy.settings import RiskSettings

    section = config.get("hyperphysics", {})
    if not isinstance(section, dict):
        return [Problem("config hyperphysics", "must be an object", "see docs/config.md")]
    try:
        RiskSettings(**section)
    except ValidationError as exc:
        known = ", ".join(RiskSettings.model_fields)
        problems = []
        for e in exc.errors():
            key = ".".join(str(p) for p in e["loc"]) or "(section)"
            if e["type"] == "extra_forbidden":
                close = difflib.get_close_matches(key, list(RiskSettings.model_fields), n=1)
                fix = (f"did you mean {close[0]!r}? " if close else "remove it; ") + (
                    f"known keys: {known}"
                )
                problems.append(Problem(f"config hyperphysics.{key}", "unknown key", fix))
            else:
                got = f" (got {e['input']!r})" if e["loc"] else ""
                problems.append(
                    Problem(f"config hyperphysics.{key}", e["msg"] + got, "see docs/config.md")
                )
        return problems
    return []


def _class_problem(
    config: dict[str, Any], key: str, folder: str, classes: set[str]
) -> list[Problem]:
    """``config[key]`` names a class that no file in the user dir's ``folder/`` defines."""
    name = config.get(key)
    if not name or name in classes:
        return []
    return [
        Problem(
            f"config {key}",
            f"{name} is not a class in the user dir's {folder}/",
            f"run `hyperphysics init` or pass --{key} with a class defined there",
        )
    ]


def _model_problems(
    config: dict[str, Any], loaded: dict[str, str], notes: list[str]
) -> list[Problem]:
    from hyperphysics_strategy.cli.train_data import EXPERT_NAMES

    problems = []
    classes = set(loaded.values())
    freqai = config.get("freqai", {})
    if isinstance(freqai, dict) and freqai.get("enabled"):
        problems += _class_problem(config, "freqaimodel", "freqaimodels", classes)
        from hyperphysics_strategy.freqai import FREQAI_MODELS
        from hyperphysics_strategy.freqai.parameters import parameter_notes, parameter_problems

        # a single-expert class reads its library's keys at the top level (issue 22)
        model = FREQAI_MODELS.get(str(config.get("freqaimodel")))
        experts = model.EXPERTS if model is not None else None
        try:
            found = parameter_problems(freqai.get("model_training_parameters"), experts)
        except ImportError as exc:  # an expert whose library is not installed
            found = [("freqai.model_training_parameters", str(exc), "install it or leave it out")]
        for where, problem, fix in found:
            if where.endswith(".experts"):
                fix = f"use names from {', '.join(EXPERT_NAMES)}"
            problems.append(Problem(f"config {where}", problem, fix))
        if not found:  # which experts take each top-level library key (FreqAI's form)
            notes += parameter_notes(freqai.get("model_training_parameters"), experts)
    return problems + _class_problem(config, "strategy", "strategies", classes)


def check_config(
    paths: list[Path],
    loaded: dict[str, str],
    notes: list[str] | None = None,
    userdir: Path | None = None,
) -> list[Problem]:
    """Problems with the config (freqtrade's schema, then this package's keys) and, given
    ``userdir``, with the candle files it needs there (:mod:`.userdir_candles`); several
    files are merged as freqtrade merges its ``-c`` files (a later one wins). ``notes``
    receives where each top-level key of ``model_training_parameters`` goes."""
    from freqtrade.configuration.load_config import load_config_file
    from freqtrade.misc import deep_merge_dicts

    config: dict[str, Any] = {}
    for path in paths:
        try:
            config = deep_merge_dicts(load_config_file(str(path)), config)
        except Exception as exc:  # OperationalException / ConfigurationError with the reason
            return [Problem(f"config {path}", f"cannot be read: {exc}", "fix the JSON")]
    problems = [
        *_schema_problems(config),
        *_hyperphysics_problems(config),
        *_model_problems(config, loaded, [] if notes is None else notes),
    ]
    if userdir is not None:
        from .userdir_candles import check_candles

        problems += [Problem(*row) for row in check_candles(userdir, config)]
    return problems


def check_freqtrade_seam() -> list[Problem]:
    """The FreqAI functions this package mirrors or patches that the installed freqtrade
    changed (:mod:`hyperphysics_strategy.freqai.compat`): the FreqAI models refuse to start."""
    from hyperphysics_strategy.freqai.compat import (
        OVERRIDE_ENV,
        SUPPORTED_FREQTRADE,
        freqtrade_mismatches,
    )
    from hyperphysics_strategy.freqai.compat.fingerprint import installed_freqtrade

    fix = f"pip install 'freqtrade{SUPPORTED_FREQTRADE}' (or {OVERRIDE_ENV}=1, at your own risk)"
    return [
        Problem(f"freqtrade {installed_freqtrade()}", f"{line}: the FreqAI models refuse it", fix)
        for line in freqtrade_mismatches()
    ]


def check_user_dir(userdir: Path, configs: list[Path] | None) -> dict[str, Any]:
    """All checks; ``configs`` defaults to the user dir's ``config_hyperphysics.json``."""
    from hyperphysics_strategy.stubs import EXAMPLE_CONFIG

    userdir = Path(userdir)
    if not userdir.is_dir():
        problems = [
            Problem(str(userdir), "user dir does not exist", f"hyperphysics init {userdir}")
        ]
        return {
            "userdir": str(userdir),
            "config": None,
            "loaded": {},
            "problems": problems,
            "notes": [],
        }
    problems, loaded = check_stubs(userdir)
    problems += check_freqtrade_seam()
    notes: list[str] = []
    if not configs and (userdir / EXAMPLE_CONFIG).is_file():
        configs = [userdir / EXAMPLE_CONFIG]
    if configs:
        problems += check_config([Path(c) for c in configs], loaded, notes, userdir)
    return {
        "userdir": str(userdir),
        "config": [str(c) for c in configs] if configs else None,
        "loaded": loaded,
        "problems": problems,
        "notes": notes,
    }
