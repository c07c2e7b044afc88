"""The ``hyperphysics`` section that ``hyperphysics init`` writes, and docs/config.md, come
from the settings model: every key at its default, every key documented."""

from __future__ import annotations

import json
import re

import pytest
from freqtrade.configuration.load_config import load_config_file
from pydantic import Field, create_model
from typer.testing import CliRunner

from hyperphysics_strategy.cli import app
from hyperphysics_strategy.strategy.settings import RiskSettings, load_settings
from hyperphysics_strategy.stubs import EXAMPLE_CONFIG
from hyperphysics_strategy.stubs.settings_doc import (
    render_markdown,
    setting_docs,
    undocumented_keys,
    with_section,
)
from tests.data_paths import ROOT


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    userdir = tmp_path_factory.mktemp("ud")
    result = CliRunner().invoke(app, ["init", str(userdir)])
    assert result.exit_code == 0, result.output
    path = userdir / EXAMPLE_CONFIG
    return path.read_text(), load_config_file(str(path))


def test_init_config_holds_every_key_at_the_models_default(written):
    _, config = written
    # every key but the champion, which hyperphysics search writes into champion.json
    assert config["hyperphysics"] == RiskSettings().model_dump(mode="json", exclude={"champion"})
    assert config["hyperphysics"]["cluster"] == {"address": None}
    assert load_settings(config) == RiskSettings()  # extra="forbid" accepts the section


def test_a_champion_fragment_merges_into_the_init_config(written, tmp_path):
    """``-c config_hyperphysics.json -c champion.json``: freqtrade merges the fragment's
    ``hyperphysics.champion`` object into the section (a ``null`` there would break it)."""
    from freqtrade.configuration.load_config import load_from_files

    from hyperphysics_strategy.trading.champion import Champion

    champion = {
        "study": "s", "trials": 312, "dsr": 0.97, "timeframe": "5m",
        "pairs": ["BTC/USDT"], "search_timerange": "20220901-20221201",
        "confirm_timerange": "20221201-20230201", "trades": 40, "net_bp_per_trade": 6.5,
        "created": "2023-02-02T00:00:00Z",
    }  # fmt: skip
    base = tmp_path / EXAMPLE_CONFIG
    base.write_text(written[0])
    fragment = tmp_path / "champion.json"
    fragment.write_text(json.dumps({"hyperphysics": {"champion": champion}}))
    settings = load_settings(load_from_files([str(base), str(fragment)]))
    assert settings.champion == Champion(**champion)
    assert settings.require_edge and settings.edge_min_dsr == 0.95


def test_every_key_is_documented_in_the_model_the_config_and_docs(written):
    text, _ = written
    assert undocumented_keys() == [], "give each settings field a description="
    lines = text.splitlines()
    for row in setting_docs():
        if not row.in_init:
            assert f'"{row.key}"' not in text, row.key
            continue
        at = lines.index('    "hyperphysics": {')  # the key's own line, inside its parents
        for part in row.key.split("."):
            at = next(i for i in range(at, len(lines)) if lines[i].strip().startswith(f'"{part}":'))
        above = []
        for line in reversed(lines[:at]):
            if not line.strip().startswith("//"):
                break
            above.insert(0, line.strip().removeprefix("//").strip())
        assert " ".join(above) == row.description, row.key
    page = (ROOT / "docs" / "config.md").read_text()
    assert page == render_markdown(), (
        "docs/config.md is stale: python -m hyperphysics_strategy.stubs.settings_doc"
    )
    for row in setting_docs():
        assert re.search(rf"^\| `hyperphysics\.{re.escape(row.key)}` \| ", page, re.M), row.key


def test_a_key_added_to_the_model_appears_without_another_edit(tmp_path):
    grown = create_model(
        "Grown",
        __base__=RiskSettings,
        barrier_k_up=(float, Field(2.0, gt=0, description="Upper barrier in sigmas.")),
        undocumented=(int, 3),
    )
    path = tmp_path / "config.json"
    path.write_text(with_section('{\n    "strategy": "HyperPhysicsStrategy"\n}\n', grown))
    section = load_config_file(str(path))["hyperphysics"]
    assert section["barrier_k_up"] == 2.0 and section["undocumented"] == 3
    assert '"barrier_k_up": 2.0,  // > 0' in path.read_text()
    assert "| `hyperphysics.barrier_k_up` | `2.0` | > 0 | Upper barrier in sigmas. |" in (
        render_markdown(grown)
    )
    assert undocumented_keys(grown) == ["undocumented"]


def test_example_config_must_be_one_object():
    with pytest.raises(ValueError, match="one JSON object"):
        with_section('["not", "an", "object"]')
