"""docs/policy.md is a contract: its examples run and its key tables match the schema.

Fixture strategy: the real document, read once. Every ```toml block must be preceded by
an HTML comment saying what it is: ``<!-- example: complete -->`` (a whole policy: it
must load and lint with no problem at all), ``<!-- example: refused -->`` (a whole policy
the linter refuses) or ``<!-- example: fragment -->`` (part of one: it must parse as
TOML). Every pydantic model reachable from :class:`Policy` has a section whose key table
lists exactly its fields, and the vocabulary table equals the linter's data.
"""

from __future__ import annotations

import re
import tomllib
import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from trustledger.errors import PolicyError
from trustledger.policy.lint import lint_policy, vocabulary_markdown
from trustledger.policy.load import parse_policy
from trustledger.policy.schema import Policy

DOC = Path(__file__).resolve().parents[2] / "docs" / "policy.md"
TEXT = DOC.read_text(encoding="utf-8")

BLOCK = re.compile(r"(?:<!-- example: (\w+) -->\n)?```toml\n(.*?)```", re.S)
BLOCKS = [(m.group(1), m.group(2), TEXT[: m.start()].count("\n") + 1) for m in BLOCK.finditer(TEXT)]

# The section (its exact heading line) that documents each model's keys.
SECTIONS: dict[str, str] = {
    "Policy": "## Top-level tables",
    "PolicyHeader": "### `[policy]`",
    "GradeBand": "### `[[grades]]`",
    "Domain": "### `[domains.NAME]`",
    "RecordType": "### `[record_types.NAME]`",
    "Decay": "#### `decay`",
    "ListDef": "### `[lists.NAME]`",
    "ListRule": "### `[[lists.NAME.rules]]`",
    "Measure": "### `[measures.NAME]`",
    "MeasureWhen": "#### `when`",
    "Provider": "### `[providers.NAME]`",
    "IdentifierType": "### `[identifier_types.NAME]`",
    "IdentitySettings": "### `[identity]`",
    "LegacyIdentifier": "#### `[[identity.legacy_identifiers]]`",
}


def models() -> dict[str, type[BaseModel]]:
    """Every model reachable from Policy through its fields."""
    found: dict[str, type[BaseModel]] = {}

    def walk(tp: Any) -> None:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if tp.__name__ in found:
                return
            found[tp.__name__] = tp
            for info in tp.model_fields.values():
                walk(info.annotation)
            return
        for arg in typing.get_args(tp):
            walk(arg)

    walk(Policy)
    return found


def section(heading: str) -> str:
    lines = TEXT.splitlines()
    assert heading in lines, f"docs/policy.md has no heading {heading!r}"
    start = lines.index(heading) + 1
    end = start
    while end < len(lines) and not lines[end].startswith("#"):
        end += 1
    return "\n".join(lines[start:end])


def test_every_toml_block_is_marked() -> None:
    unmarked = [line for kind, _, line in BLOCKS if kind is None]
    assert unmarked == [], f"```toml blocks without an example marker at lines {unmarked}"
    assert {kind for kind, _, _ in BLOCKS} == {"complete", "fragment", "refused"}


@pytest.mark.parametrize(
    ("body", "line"), [(b, n) for k, b, n in BLOCKS if k == "complete"], ids=lambda x: str(x)
)
def test_complete_examples_load_and_lint_clean(body: str, line: int) -> None:
    loaded = parse_policy(body, filename=f"docs/policy.md (block at line {line})")
    assert [str(p) for p in lint_policy(loaded)] == []


@pytest.mark.parametrize(
    ("body", "line"), [(b, n) for k, b, n in BLOCKS if k == "refused"], ids=lambda x: str(x)
)
def test_refused_examples_are_refused(body: str, line: int) -> None:
    try:
        loaded = parse_policy(body, filename="doc")
    except PolicyError:
        return
    assert any(p.severity == "error" for p in lint_policy(loaded)), f"block at line {line}"


@pytest.mark.parametrize(
    ("body", "line"), [(b, n) for k, b, n in BLOCKS if k == "fragment"], ids=lambda x: str(x)
)
def test_fragments_parse(body: str, line: int) -> None:
    assert tomllib.loads(body), f"block at line {line}"


def test_every_model_has_a_section() -> None:
    assert set(models()) == set(SECTIONS)


@pytest.mark.parametrize("name", sorted(SECTIONS))
def test_section_lists_exactly_the_models_fields(name: str) -> None:
    model = models()[name]
    text = section(SECTIONS[name])
    documented = re.findall(r"^\| `(\w+)` \|", text, re.M)
    assert documented == list(model.model_fields), (
        f"the key table under {SECTIONS[name]!r} must list {name}'s fields in order"
    )


def test_every_field_is_mentioned() -> None:
    for name, model in models().items():
        for field in model.model_fields:
            assert f"`{field}`" in TEXT, f"{name}.{field} is not documented in docs/policy.md"


def test_vocabulary_table_matches_the_linter() -> None:
    m = re.search(r"<!-- vocabulary:start -->\n(.*?)<!-- vocabulary:end -->", TEXT, re.S)
    assert m is not None
    assert m.group(1) == vocabulary_markdown(), (
        "regenerate the table between the vocabulary markers in docs/policy.md with "
        "trustledger.policy.lint.vocabulary_markdown()"
    )
