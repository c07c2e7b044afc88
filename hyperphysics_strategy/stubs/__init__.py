"""Writes the files freqtrade needs into a user dir: stubs and an example config.

freqtrade finds strategies and FreqAI models only as classes *defined* in files of
``user_data/strategies`` and ``user_data/freqaimodels`` (a re-export is not found), so
each stub is a one-line subclass of the package's class.

A file this module wrote before is recorded with its SHA-256 in
``<userdir>/.hyperphysics-stubs.json``; a file whose content no longer matches the
record was changed by the user and is never overwritten unless ``force`` is set.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path

MANIFEST = ".hyperphysics-stubs.json"
EXAMPLE_CONFIG = "config_hyperphysics.json"

STRATEGIES: dict[str, str] = {"HyperPhysicsStrategy": "hyperphysics_strategy.strategy"}
#: The module whose FreqAI model classes the stubs subclass.
FREQAI = "hyperphysics_strategy.freqai"


class Action(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    KEPT = "kept (changed by user; --force overwrites)"
    OVERWRITTEN = "overwritten (--force)"


@dataclass(frozen=True)
class WriteResult:
    path: Path
    action: Action


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


#: kind -> (what the stub makes findable, the user_data folder it goes in)
KINDS: dict[str, tuple[str, str]] = {
    "strategy": ("strategy", "strategies"),
    "freqaimodel": ("FreqAI model", "freqaimodels"),
}


def render_stub(kind: str, name: str, module: str) -> str:
    what, folder = KINDS[kind]
    template = resources.files(__package__).joinpath("stub.py.tmpl").read_text()
    return template.format(name=name, module=module, what=what, folder=folder)


def example_config_text() -> str:
    """The demo's config plus the ``hyperphysics`` section generated from the settings model
    (every key at its default, described in ``//`` comments, which freqtrade accepts)."""
    from .settings_doc import with_section

    base = resources.files("hyperphysics_strategy.demo").joinpath("config.json").read_text()
    return with_section(base)


def planned_files() -> dict[str, str]:
    """Relative path -> content of every file ``init`` writes."""
    from hyperphysics_strategy.freqai_names import freqai_model_names

    files = {
        f"{KINDS['strategy'][1]}/{name}.py": render_stub("strategy", name, module)
        for name, module in STRATEGIES.items()
    }
    files.update(
        {
            f"{KINDS['freqaimodel'][1]}/{name}.py": render_stub("freqaimodel", name, FREQAI)
            for name in freqai_model_names()
        }
    )
    files[EXAMPLE_CONFIG] = example_config_text()
    return files


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_user_dir(userdir: Path, force: bool = False) -> list[WriteResult]:
    """Write stubs and the example config into ``userdir``; return what happened to each."""
    userdir = Path(userdir)
    if userdir.exists() and not userdir.is_dir():
        raise ValueError(f"user dir {userdir} exists and is not a directory")
    for sub in ("strategies", "freqaimodels", "data", "models", "backtest_results", "logs"):
        (userdir / sub).mkdir(parents=True, exist_ok=True)
    manifest_path = userdir / MANIFEST
    try:
        manifest: dict[str, str] = json.loads(manifest_path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        manifest = {}

    results = []
    for rel, text in planned_files().items():
        path = userdir / rel
        data = text.encode()
        new_hash = _sha256(data)
        if not path.exists():
            _atomic_write(path, data)
            action = Action.CREATED
        else:
            current = _sha256(path.read_bytes())
            if current == new_hash:
                action = Action.UNCHANGED
            elif force:
                _atomic_write(path, data)
                action = Action.OVERWRITTEN
            elif manifest.get(rel) == current:  # still what we wrote last time: safe to update
                _atomic_write(path, data)
                action = Action.UPDATED
            else:
                action = Action.KEPT
        if action is not Action.KEPT:
            manifest[rel] = new_hash
        results.append(WriteResult(path, action))
    _atomic_write(manifest_path, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
    return results
