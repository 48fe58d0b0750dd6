"""Fixtures for identity resolution.

Fixture strategy: the example policy on the ``registry`` database (SQLite and PostgreSQL),
a :class:`Registry` with a fresh audit key and a ticking clock, and ``land``, which does
exactly what ingestion does with rows that have no usable identifier (the contract in
``trustledger.resolve``): resolve them, insert the records of those resolved, record the
links, in one transaction. Subjects with identifiers are made with ``register``. The
model is the one shipped with trustledger; the weights the tests rely on are stated
where they are used.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from tests.conftest import EXAMPLE_POLICY
from tests.resolve.helpers import Row, land

from trustledger.audit import AuditKey
from trustledger.domain.principal import Actor, Principal, Role
from trustledger.domain.subject import Identifier, SubjectKind
from trustledger.errors import RowProblem
from trustledger.identifiers import make_uscc
from trustledger.resolve import Resolution
from trustledger.service.audit import AuditLog
from trustledger.service.identity import Identity
from trustledger.service.policies import install_policy
from trustledger.service.registry import Registry
from trustledger.store import subjects as subject_store


class Clock:
    def __init__(self, start: datetime) -> None:
        self.t = start

    def __call__(self) -> datetime:
        self.t += timedelta(milliseconds=1)
        return self.t


REVIEWER = Actor(Principal("rev-key", Role.REVIEWER, label="reviewer"), "req-rev")
OPERATOR = Actor(Principal("op-key", Role.OPERATOR, label="operator"), "req-op")
PROVIDER = Actor(Principal("prov-key", Role.PROVIDER, provider="intermediate_court"), "req-p")


@dataclass
class World:
    engine: Engine
    registry: Registry
    clock: Clock

    @property
    def identity(self) -> Identity:
        return Identity(self.registry)

    def register(self, name: str, ric: str, born: date) -> int:
        with self.engine.begin() as conn:
            [sid] = subject_store.insert_subjects(
                conn,
                [
                    subject_store.SubjectDraft(
                        kind=SubjectKind.PERSON,
                        name=name,
                        created_by="test",
                        identifiers=(Identifier("cn_ric", ric),),
                        birth_date=born,
                    )
                ],
                now=self.clock(),
            )
        return sid

    def land(self, rows: list[Row]) -> list[tuple[int | None, Resolution | RowProblem]]:
        """Resolve and store rows as ingestion does; (record id or None, result) each."""
        return land(self.engine, rows, now=self.clock(), audit=self.registry.audit)


@pytest.fixture
def world(registry: Engine, now: datetime) -> World:
    clock = Clock(now)
    return World(registry, Registry(registry, AuditLog(AuditKey.generate()), clock), clock)


@pytest.fixture
def scored(world: World) -> Callable[[int], tuple[str, list[str]]]:
    """A subject's current grade and lists, as the register shows them (after rescoring)."""
    from trustledger.store.tables import current_list_entries, current_scores

    def read(sid: int) -> tuple[str, list[str]]:
        from sqlalchemy import select

        with world.engine.connect() as conn:
            grade = conn.execute(
                select(current_scores.c.grade).where(current_scores.c.subject_id == sid)
            ).scalar_one_or_none()
            lists = conn.execute(
                select(current_list_entries.c.list).where(current_list_entries.c.subject_id == sid)
            ).scalars()
            return grade or "-", sorted(lists)

    return read


@pytest.fixture
def world_with_legacy(world: World, tmp_path: Path) -> tuple[World, str]:
    """The example policy again with one legacy USCC listed: an early pilot code whose
    check character is wrong. Returns the code as listed."""
    good = make_uscc("9", "1", "350100", "M000100Y")
    code = good[:-1] + ("X" if good[-1] != "X" else "Y")
    text = EXAMPLE_POLICY.read_text(encoding="utf-8") + (
        "\n[[identity.legacy_identifiers]]\n"
        'kind = "uscc"\n'
        f'value = "{code[:8]} {code[8:]}"\n'
        'reason = "Xiamen pilot registration of 2014, confirmed by the market regulator"\n'
    )
    path = tmp_path / "with-legacy.toml"
    path.write_text(text, encoding="utf-8")
    install_policy(world.engine, path, now=world.clock())
    return world, code
