"""The docs are a contract: every CLI command and option is documented and has help."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.core import TyperGroup, TyperOption

from trustledger.cli.app import app

DOCS = Path(__file__).resolve().parent.parent / "docs"
CLI_DOC = (DOCS / "cli.md").read_text(encoding="utf-8")


def commands(group: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for name, command in sorted(group.commands.items()):
        full = f"{prefix}{name}"
        if isinstance(command, TyperGroup):
            yield from commands(command, f"{full} ")
        else:
            yield full, command


ALL = list(commands(typer.main.get_command(app)))


def test_there_are_commands() -> None:
    assert {
        "init",
        "demo",
        "ingest",
        "score",
        "explain",
        "subjects",
        "lists",
        "policy lint",
        "policy show",
        "policy versions",
    } <= {n for n, _ in ALL}


@pytest.mark.parametrize(("name", "command"), ALL, ids=[n for n, _ in ALL])
def test_command_is_documented(name: str, command: Any) -> None:
    assert f"\n## {name}\n" in CLI_DOC, f"docs/cli.md has no '## {name}' section"
    assert command.help, f"`trustledger {name}` has no --help text"
    section = CLI_DOC.split(f"\n## {name}\n", 1)[1].split("\n## ", 1)[0]
    for param in command.params:
        if isinstance(param, TyperOption):
            longest = max(param.opts, key=len)
            assert longest in section, f"{longest} of `{name}` is not in its docs section"
            assert param.help, f"{longest} of `{name}` has no help text"
