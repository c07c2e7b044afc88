"""The list of the experts is written once, in the registry (``EXPERT_ENTRIES``): the
single-expert FreqAI models and their stubs are generated from it, the docs' tables match
it, and the repository commits no generated stub."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from hyperphysics_strategy.ensemble.experts import EXPERT_ENTRIES, EXPERT_REGISTRY
from hyperphysics_strategy.freqai import FREQAI_MODELS, HyperPhysicsEnsemble
from hyperphysics_strategy.freqai_names import ENSEMBLE_MODEL, single_expert_model_name
from hyperphysics_strategy.stubs import planned_files
from tests.data_paths import ROOT

DOC = ROOT / "docs" / "ensemble.md"


def table(section: str) -> list[list[str]]:
    """The body cells of the first Markdown table under ``## section`` in docs/ensemble.md."""
    lines = DOC.read_text().split(f"\n## {section}\n", 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    return [
        [c.strip().strip("`") for c in row.strip("|").split(" | ")] for row in lines[start:end][2:]
    ]


def test_one_single_expert_model_per_registered_expert_in_its_order():
    singles = {single_expert_model_name(name): name for name in EXPERT_ENTRIES}
    assert list(FREQAI_MODELS) == [ENSEMBLE_MODEL, *singles]
    assert FREQAI_MODELS[ENSEMBLE_MODEL] is HyperPhysicsEnsemble
    for class_name, expert in singles.items():
        cls = FREQAI_MODELS[class_name]
        assert issubclass(cls, HyperPhysicsEnsemble) and (expert,) == cls.EXPERTS
        assert cls.__qualname__ == class_name and EXPERT_ENTRIES[expert].summary in cls.__doc__
    assert single_expert_model_name("xgboost_rf") == "HyperPhysicsXGBoostRFClassifier"


def test_the_stubs_init_writes_are_the_freqai_models():
    stubs = [rel for rel in planned_files() if rel.startswith("freqaimodels/")]
    assert stubs == [f"freqaimodels/{name}.py" for name in FREQAI_MODELS]


def test_init_reads_the_registry_without_torch_or_freqtrade():
    """The stubs' names come from the registry; writing them loads no heavy library."""
    probe = (
        "import sys, tempfile\n"
        "from hyperphysics_strategy.stubs import write_user_dir\n"
        "write_user_dir(tempfile.mkdtemp())\n"
        "print(sorted(m for m in ('torch', 'freqtrade', 'lightgbm') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["[]"]


def test_registry_entries_name_the_class_and_library_each_expert_has():
    """``EXPERT_REGISTRY`` reads the entries; their class and library are the experts' own."""
    assert list(EXPERT_REGISTRY) == list(EXPERT_ENTRIES) and len(EXPERT_ENTRIES) == 12
    for name, entry in EXPERT_ENTRIES.items():
        try:
            cls = EXPERT_REGISTRY[name]
        except ImportError:  # a boosting library this machine lacks
            continue
        assert cls.__name__ == entry.cls and cls.library == entry.library, name


def test_docs_tables_list_the_registry():
    classes = table("FreqAI model classes")
    assert len(classes) == 13
    assert [row[0] for row in classes] == list(FREQAI_MODELS)
    for (class_name, experts), expert in zip(classes[1:], EXPERT_ENTRIES, strict=True):
        assert experts == f"{EXPERT_ENTRIES[expert].summary} alone", class_name
    experts = table("The twelve experts")
    assert [row[0] for row in experts] == list(EXPERT_ENTRIES)
    for name, library, _ in experts:
        assert library.lower() == EXPERT_ENTRIES[name].library, name


@pytest.mark.skipif(
    shutil.which("git") is None or not (ROOT / ".git").exists(), reason="not a git checkout"
)
def test_no_generated_stub_is_committed():
    """``hyperphysics init`` / ``make demo`` / the tests write them; a committed copy goes
    stale whenever the registry changes."""
    tracked = subprocess.run(
        ["git", "ls-files", "user_data"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert tracked == []
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "user_data/freqaimodels/HyperPhysicsEnsemble.py"], cwd=ROOT
    )
    assert ignored.returncode == 0
