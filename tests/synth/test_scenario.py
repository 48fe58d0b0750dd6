"""Scenario files: the examples load, and every mistake is named with its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from trustledger.synth.scenario import Scenario, ScenarioError, load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples" / "scenarios").glob("*.toml"))


def test_there_are_examples() -> None:
    assert {p.stem for p in EXAMPLES} >= {"even", "uneven-enforcement", "hardship"}


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_examples_load(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.name == path.stem


def test_even_is_the_default() -> None:
    assert load_scenario(ROOT / "examples" / "scenarios" / "even.toml") == Scenario()


def test_a_list_of_values() -> None:
    s = parse_scenario(
        '[[risk]]\nwhere = { district = ["north_county", "south_county"], sex = "male" }\n'
        "factor = 1.2\n",
        filename="s.toml",
    )
    assert s.risk[0].values("district") == ("north_county", "south_county")
    assert s.risk[0].values("sex") == ("male",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[scenario]\nname = \n", "s.toml:2: TOML syntax error: Invalid value"),
        ("[sceanrio]\nname = 'x'\n", "s.toml:1: sceanrio: unknown section"),
        ("[scenario]\nname = 'x'\ncolour = 'red'\n", "s.toml:3: scenario.colour: unknown key"),
        ("[scenario]\nname = 'Big City'\n", "s.toml:2: scenario.name: String should match"),
        ("[population]\norg_share = 1.5\n", "s.toml:2: population.org_share: Input should be"),
        (
            "[[enforcement]]\nrecord_types = ['jaywalking']\nfactor = 2\n",
            "s.toml:2: enforcement[0].record_types[0]: unknown record type 'jaywalking'",
        ),
        (
            "[[enforcement]]\nwhere = { planet = 'mars' }\nfactor = 2\n",
            "s.toml:2: enforcement[0].where.planet: unknown attribute",
        ),
        (
            "\n[[risk]]\nwhere = { income_band = 'poor' }\nfactor = 2\n",
            "s.toml:3: risk[0].where.income_band: unknown value 'poor' (known: low, middle, high)",
        ),
        (
            "[[risk]]\nrecord_types = ['fare_evasion']\nfactor = 2\n",
            "s.toml:2: risk[0].record_types: a risk rule changes every record type",
        ),
        ("[[enforcement]]\nfactor = -1\n", "s.toml:2: enforcement[0].factor: Input should be"),
        (
            "[[districts]]\nname = 'a'\nweight = 1\n[[districts]]\nname = 'a'\nweight = 2\n",
            "district names must be unique",
        ),
    ],
)
def test_mistakes_are_located(text: str, message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, filename="s.toml")
    assert message in str(caught.value)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read the scenario"):
        load_scenario(tmp_path / "missing.toml")
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b'[scenario]\ndescription = "caf\xe9"\n')
    with pytest.raises(ScenarioError, match="not UTF-8"):
        load_scenario(latin)
