"""benchmarks/README.md lists every benchmark, study and the GPU check, and only those; its
links resolve; no script lies loose in benchmarks/ outside the folders it describes."""

from __future__ import annotations

import re

from tests.data_paths import ROOT
from tests.test_readme import headings

BENCHMARKS = ROOT / "benchmarks"
README = BENCHMARKS / "README.md"
FOLDERS = ("perf", "studies", "gpu")


def test_every_script_is_listed_with_its_command_and_every_listed_script_exists():
    text = README.read_text()
    scripts = {
        f"benchmarks/{p.parent.name}/{p.name}"
        for folder in FOLDERS
        for p in (BENCHMARKS / folder).glob("[a-z]*.py")
    }
    listed = set(re.findall(r"`python (benchmarks/\w+/\w+\.py)\b", text))
    assert scripts == listed, (sorted(scripts - listed), sorted(listed - scripts))
    assert len(scripts) >= 16


def test_only_the_described_folders_and_no_loose_scripts():
    folders = {p.name for p in BENCHMARKS.iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == {*FOLDERS, "common"}
    assert not list(BENCHMARKS.glob("*.py")), "a script directly in benchmarks/"


def test_links_resolve():
    links = re.findall(r"\]\(([^)]+)\)", README.read_text())
    assert len(links) >= 14
    for link in links:
        path, _, anchor = link.partition("#")
        target = (BENCHMARKS / path).resolve()
        assert target.exists(), link
        if anchor:
            assert anchor in headings(target.read_text()), link
