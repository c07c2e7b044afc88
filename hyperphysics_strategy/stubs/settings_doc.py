"""The ``hyperphysics`` config section and its reference table, generated from the settings model.

Both come from :class:`~hyperphysics_strategy.strategy.settings.RiskSettings` alone (each
field's default, bounds and ``description``), so a key added to the model appears in the
config that ``hyperphysics init`` writes and in ``docs/config.md`` without another edit.

freqtrade reads its config files with ``//`` comments allowed (its docs: "Configure the
bot"), so each key of the written section carries its description as a comment.

Regenerate the reference page with ``python -m hyperphysics_strategy.stubs.settings_doc``.
"""

from __future__ import annotations

import json
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from pydantic import BaseModel

from hyperphysics_strategy.strategy.settings import RiskSettings

SECTION = "hyperphysics"
DOC_PAGE = "docs/config.md"
_BOUNDS = ((Gt, "gt", ">"), (Ge, "ge", ">="), (Lt, "lt", "<"), (Le, "le", "<="))
_LENGTHS = ((MinLen, "min_length", "length >="), (MaxLen, "max_length", "length <="))


@dataclass(frozen=True)
class SettingDoc:
    """One key of the section: dotted name, default (JSON-ready), bounds, description, and
    whether ``hyperphysics init`` writes it (not a key another file sets, such as
    ``champion``, which ``hyperphysics search`` writes into ``champion.json``)."""

    key: str
    default: Any
    bounds: str
    description: str
    in_init: bool = True


def _bounds(metadata: list[Any]) -> str:
    """The constraints in a fixed order (lower bounds first), however they were declared."""
    return ", ".join(
        f"{sign} {getattr(item, attr)}"
        for kind, attr, sign in (*_BOUNDS, *_LENGTHS)
        for item in metadata
        if isinstance(item, kind)
    )


def setting_docs(model: type[BaseModel] = RiskSettings, prefix: str = "") -> list[SettingDoc]:
    """Every key of ``model`` in declaration order; a nested model's keys are dotted."""
    defaults = model().model_dump(mode="json")
    rows = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows += setting_docs(annotation, f"{key}.")
            continue
        description = " ".join((field.description or "").split())
        rows.append(
            SettingDoc(key, defaults[name], _bounds(field.metadata), description, _in_init(field))
        )
    return rows


def undocumented_keys(model: type[BaseModel] = RiskSettings) -> list[str]:
    """Keys whose field has no ``description`` (each key must have one)."""
    return [row.key for row in setting_docs(model) if not row.description]


def default_section(model: type[BaseModel] = RiskSettings) -> dict[str, Any]:
    """The section ``init`` writes: every key at its default, as ``model`` validates it,
    except the keys another file sets (a ``null`` there would stop freqtrade from merging
    that file's object into it)."""
    skip = {name for name, f in model.model_fields.items() if not _in_init(f)}
    return model().model_dump(mode="json", exclude=skip)


def _in_init(field: Any) -> bool:
    return not (field.json_schema_extra or {}).get("written_by")


def _comment(text: str, indent: str, width: int = 92) -> list[str]:
    return textwrap.wrap(
        text,
        width=width,
        initial_indent=f"{indent}// ",
        subsequent_indent=f"{indent}// ",
        break_on_hyphens=False,  # a hyphenated word split over two lines reads back wrong
    )


def render_section(model: type[BaseModel] = RiskSettings, indent: str = "    ") -> str:
    """``"hyperphysics": {...}`` as config text: every key at its default, its description
    in a ``//`` comment above it, its bounds in one after it (freqtrade accepts comments)."""
    lines = [
        *_comment(
            "HyperPhysicsStrategy's own settings, each at its default (a comment above each "
            "key says what it does, one after it the values allowed); unknown keys are errors. "
            f"The same table: {DOC_PAGE} in the hyperphysics-strategy sources.",
            indent,
        ),
        f'{indent}"{SECTION}": {{',
    ]
    lines += _render_object(model, default_section(model), indent * 2, indent)
    lines.append(f"{indent}}}")
    return "\n".join(lines)


def _render_object(
    model: type[BaseModel], values: dict[str, Any], indent: str, step: str
) -> list[str]:
    docs = {row.key: row for row in setting_docs(model)}
    names = [name for name in model.model_fields if name in values]
    lines: list[str] = []
    for i, name in enumerate(names):
        comma = "," if i < len(names) - 1 else ""
        annotation = model.model_fields[name].annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            lines.append(f'{indent}"{name}": {{')
            lines += _render_object(annotation, values[name], indent + step, step)
            lines.append(f"{indent}}}{comma}")
            continue
        row = docs[name]
        lines += _comment(row.description, indent)
        bounds = f"  // {row.bounds}" if row.bounds else ""
        lines.append(f"{indent}{json.dumps(name)}: {json.dumps(values[name])}{comma}{bounds}")
    return lines


def with_section(config_text: str, model: type[BaseModel] = RiskSettings) -> str:
    """``config_text`` (a JSON object without the section) with the section appended."""
    body = config_text.rstrip()
    if not body.endswith("}"):
        raise ValueError("the example config must be one JSON object")
    return f"{body[:-1].rstrip()},\n{render_section(model)}\n}}\n"


def render_markdown(model: type[BaseModel] = RiskSettings) -> str:
    """The reference page ``docs/config.md``."""
    out = [
        "# The `hyperphysics` config section",
        "",
        "<!-- generated from hyperphysics_strategy/strategy/settings.py by",
        "     `python -m hyperphysics_strategy.stubs.settings_doc`; do not edit by hand -->",
        "",
        "`HyperPhysicsStrategy` reads its own settings from the `hyperphysics` section of the",
        "freqtrade config. The section is validated at start-up: a key that is not listed here,",
        "or a value out of its bounds, stops the bot with the key named",
        "(`hyperphysics doctor --userdir DIR -c FILE` reports the same without starting it).",
        "Every key is optional; a missing key takes its default.",
        "",
        "`hyperphysics init` writes this section, every key at its default with its description",
        "as a `//` comment, into `config_hyperphysics.json` (freqtrade reads `//` and `/* */`",
        "comments in config files). freqtrade's own keys (`freqai`, `exchange`, ...) are",
        "described in [strategy.md](strategy.md#config-keys-config_hyperphysicsjson).",
        "",
        "| key | default | allowed | meaning |",
        "| --- | --- | --- | --- |",
    ]
    out += _table(setting_docs(model), SECTION)
    if model is RiskSettings:
        out += _training_parameters_markdown()
    return "\n".join(out) + "\n"


def _table(rows: list[SettingDoc], prefix: str) -> list[str]:
    out = []
    for row in rows:
        bounds = row.bounds or "any"
        meaning = row.description.replace("|", r"\|")
        out.append(f"| `{prefix}.{row.key}` | `{json.dumps(row.default)}` | {bounds} | {meaning} |")
    return out


def _training_parameters_markdown() -> list[str]:
    """The FreqAI section the HyperPhysics models read: both forms, then every key."""
    from hyperphysics_strategy.freqai.parameters import SECTION as TRAINING
    from hyperphysics_strategy.freqai.parameters import TrainingParameters

    return [
        "",
        f"## `{TRAINING}`",
        "",
        "<!-- generated from hyperphysics_strategy/freqai/parameters.py -->",
        "",
        "Every HyperPhysics FreqAI model validates this section when freqtrade loads it (and",
        "`hyperphysics doctor --userdir DIR -c FILE` reports the same, with one note per",
        "top-level library key saying which experts take it). An expert's library",
        "parameters can be written in two forms:",
        "",
        "- **FreqAI's form**, at the top level, as FreqAI's docs write them:",
        '  `{"n_estimators": 800, "learning_rate": 0.02, "n_jobs": 4}`. A single-expert class',
        "  (`HyperPhysicsLightGBMClassifier`, ...) takes its library's parameters there,",
        "  checked against that library's own names (a misspelt key is an error with a",
        '  "did you mean"); one of FreqAI\'s cross-library names its library has no use for',
        "  (`n_estimators` for a network) is ignored with a warning, as FreqAI's own model of",
        "  that library ignores it. `HyperPhysicsEnsemble` gives a top-level key to every",
        "  selected expert whose library takes it (the start-up log says which); a key that no",
        "  selected expert takes is an error naming the experts. `xgboost_rf` takes",
        "  `learning_rate` from its own section only (a random forest is one round at",
        "  learning rate 1).",
        '- **Per expert**, in the expert\'s own section: `{"lightgbm": {"n_estimators": 800}}`.',
        "  It overrides a top-level key for that expert.",
        "",
        "`n_jobs` / `thread_count` (and the libraries' `nthread`, `num_threads`) cap the CPU",
        "threads the hardware plan gives each expert (-1: the plan's share; at most 4096).",
        "Device settings (`device`, `task_type`, `device_type`, `devices`, `gpu_id`, ...) are",
        "refused in both forms: devices come from the hardware plan (`hyperphysics hardware`",
        "shows it; `CUDA_VISIBLE_DEVICES=''` keeps every expert on the CPU). Round counts",
        "(`n_estimators` and the libraries' aliases, `max_epochs`) and `early_stopping_rounds`",
        "are whole numbers in 1..1,000,000. Before any training, each selected expert is fitted",
        "once, for one round or epoch, on a tiny synthetic set, so every other value the library",
        "refuses (`learning_rate: -1`, CatBoost `depth: 40`) stops the start with the library's",
        "own message. The torch experts' keys are their trainer's and architecture's",
        "(docs/ensemble.md); FreqAI's PyTorch `trainer_kwargs` / `model_kwargs` are not read.",
        "",
        "| key | default | allowed | meaning |",
        "| --- | --- | --- | --- |",
        *_table(setting_docs(TrainingParameters), TRAINING),
    ]


def main(argv: list[str] | None = None) -> int:
    """Write ``docs/config.md`` (or the path given) from the settings model."""
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0]) if args else Path(DOC_PAGE)
    target.write_text(render_markdown())
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
