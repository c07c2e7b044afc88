"""The README a newcomer reads: short, honest on its first screen, and its commands, links
and install lines work."""

from __future__ import annotations

import re

import pytest

from tests.data_paths import ROOT

README = ROOT / "README.md"
FIRST_SCREEN = 25
#: the package index install line, as long as the package is not on the index
INDEX_INSTALL = re.compile(r"pip install [\"']?hyperphysics-strategy(?![\w./-])")


def test_readme_is_short_and_its_first_screen_says_what_a_newcomer_needs():
    lines = README.read_text().splitlines()
    assert len(lines) <= 120, f"README.md has {len(lines)} lines"
    first = "\n".join(lines[:FIRST_SCREEN])
    status = " ".join(first.split())  # one line, however it is wrapped
    assert "no edge found after fees" in status
    assert "the strategy stays flat where it has none" in status
    assert "docs/results.md" in first
    for command in ("make demo", "make test", "hyperphysics demo"):
        assert command in first, command


def test_no_install_line_points_at_the_package_index():
    """`pip install hyperphysics-strategy` finds nothing on PyPI: no page says to run it."""
    pages = [README, *sorted((ROOT / "docs").glob("*.md"))]
    found = [
        f"{page.relative_to(ROOT)}:{number}: {line.strip()}"
        for page in pages
        for number, line in enumerate(page.read_text().splitlines(), start=1)
        if INDEX_INSTALL.search(line)
    ]
    assert not found, "\n".join(found)
    text = README.read_text()
    assert "pip install ." in text and "python -m build" in text


def headings(page: str) -> set[str]:
    """GitHub's anchors of a Markdown page's headings."""
    out = set()
    for line in page.splitlines():
        if m := re.match(r"#+ (.+)", line):
            out.add(re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-"))
    return out


def test_readme_links_resolve():
    text = README.read_text()
    links = re.findall(r"\]\(([^)]+)\)", text)
    assert any(link.startswith("docs/") for link in links)
    for link in links:
        if link.startswith("http"):
            continue
        path, _, anchor = link.partition("#")
        target = ROOT / path if path else README
        assert target.exists(), link
        if anchor:
            assert anchor in headings(target.read_text()), link


def readme_commands(program: str) -> list[list[str]]:
    """The README's shell lines that run ``program``, continuation lines joined, comments
    and shell redirections dropped, one list of words each."""
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
    commands = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            words = line.split("#", 1)[0].split(">", 1)[0].split("&", 1)[0].split()
            if words[:1] == [program]:
                commands.append(words[1:])
    return commands


def test_readme_hyperphysics_commands_and_flags_exist():
    """Each `hyperphysics SUB --flag` in the README: the subcommand exists and its --help
    lists the flag (tests/test_cli_help.py checks --help itself)."""
    from typer.testing import CliRunner

    from hyperphysics_strategy.cli import app

    commands = readme_commands("hyperphysics")
    assert {words[0] for words in commands} >= {"init", "doctor", "train"}
    helps: dict[str, str] = {}
    for words in commands:
        sub = words[0]
        if sub not in helps:
            result = CliRunner().invoke(app, [sub, "--help"], env={"COLUMNS": "200"})
            assert result.exit_code == 0, f"hyperphysics {sub}: {result.output}"
            helps[sub] = result.output
        for flag in (w for w in words[1:] if w.startswith("-")):
            assert re.search(rf"(^|[\s,]){re.escape(flag)}([\s,=]|$)", helps[sub], re.M), (
                f"hyperphysics {sub} has no {flag}"
            )


@pytest.mark.parametrize("target", ["demo", "test", "bench"])
def test_readme_make_targets_exist(target):
    assert f"make {target}" in README.read_text()
    assert re.search(rf"^{target}:", (ROOT / "Makefile").read_text(), re.M)
