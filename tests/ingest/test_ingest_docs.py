"""docs/ingest.md is a contract: its mapping examples parse, and it names every key a
mapping may have, every field, unit and encoding."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from trustledger.ingest import mapping as m
from trustledger.ingest.mapping import parse_mapping

DOC = (Path(__file__).resolve().parents[2] / "docs" / "ingest.md").read_text(encoding="utf-8")
BLOCK = re.compile(r"<!-- mapping: (\w+) -->\n```toml\n(.*?)```", re.S)
BLOCKS = BLOCK.findall(DOC)


def test_there_are_examples() -> None:
    assert {kind for kind, _ in BLOCKS} == {"complete", "fragment"}


@pytest.mark.parametrize(("kind", "text"), BLOCKS)
def test_the_examples_parse(kind: str, text: str) -> None:
    if kind == "complete":
        parsed = parse_mapping(text, file="docs/ingest.md")
        assert parsed.provider == "intermediate_court"
    else:
        assert tomllib.loads(text)


def test_every_key_field_unit_and_encoding_is_documented() -> None:
    keys = (*m._MAPPING_KEYS, *m._FIELD_KEYS, *m._DEDUPE_KEYS, *m.TARGETS)
    missing = [
        word
        for word in (*keys, *m.UNITS, *m.ENCODINGS, *m.FORMATS)
        if f"`{word}`" not in DOC and f"`{word}," not in DOC
    ]
    assert missing == []
    for table in ("[mapping]", "[fields.NAME]", "[dedupe]", "[skip]"):
        assert f"### `{table}`" in DOC
