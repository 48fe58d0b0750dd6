"""SQL of identity resolution: the profiles subjects are matched on, the identity
decisions (append-only; undone only by ending them), and the loaded matching models.

``identity_profiles`` is an index: rows move with their records when subjects are merged
or split, and go when a subject is erased. ``identity_decisions`` is history: a row is
never changed except that the decision undoing it sets ``ended_at`` and ``ended_by``
once, as nomenklatura's resolver soft-deletes an edge.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from trustledger.domain.subject import SubjectId
from trustledger.store.cases import OPEN_STATUSES
from trustledger.store.ids import allocate_ids
from trustledger.store.subjects import chunked
from trustledger.store.tables import (
    cases,
    identity_decisions,
    identity_models,
    identity_profiles,
    subjects,
)

__all__ = [
    "DecisionRow",
    "ModelRow",
    "Profile",
    "ProfileDraft",
    "candidate_profiles",
    "decisions_about",
    "end_decision",
    "get_decision",
    "get_model",
    "insert_decisions",
    "insert_model",
    "insert_profiles",
    "iter_profiles",
    "latest_model",
    "list_models",
    "live_decisions_of_record",
    "live_review_of_records",
    "move_profiles",
    "open_cases_on",
    "profiles_of",
    "review_queue",
    "set_merged_into",
    "subjects_without_profile",
]


@dataclass(frozen=True, slots=True)
class ProfileDraft:
    """Attributes a subject is matched on, from one source (``subject:ID``, ``record:ID``)."""

    subject_id: SubjectId
    source: str
    kind: str
    name: str
    name_key: str
    birth_date: date | None
    address: str | None
    phone: str | None


@dataclass(frozen=True, slots=True)
class Profile:
    subject_id: SubjectId
    source: str
    kind: str
    name: str
    birth_date: date | None
    address: str | None
    phone: str | None


def _insert_ignoring_duplicates(conn: Connection) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING: two batches may index the same subject at once."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(identity_profiles).on_conflict_do_nothing()
    return sqlite.insert(identity_profiles).on_conflict_do_nothing()


def _source_columns(source: str) -> dict[str, int | None]:
    """``record:12`` or ``subject:7`` as the columns that store it."""
    kind, _, number = source.partition(":")
    if kind not in ("record", "subject") or not number.isdigit():
        raise ValueError(f"a profile's source is record:ID or subject:ID, not {source!r}")
    return {
        "record_id": int(number) if kind == "record" else None,
        "registration_of": int(number) if kind == "subject" else None,
    }


def _source(row: Any) -> str:
    if row.record_id is not None:
        return f"record:{row.record_id}"
    return f"subject:{row.registration_of}"


def insert_profiles(conn: Connection, drafts: Sequence[ProfileDraft], *, now: datetime) -> None:
    """Index these profiles; a source already indexed is left as it is."""
    if not drafts:
        return
    conn.execute(
        _insert_ignoring_duplicates(conn),
        [
            {
                "subject_id": d.subject_id,
                **_source_columns(d.source),
                "kind": d.kind,
                "name": d.name,
                "name_key": d.name_key[:200],
                "birth_date": d.birth_date,
                "address": d.address,
                "phone": d.phone[:40] if d.phone else None,
                "created_at": now,
            }
            for d in drafts
        ],
    )


def subjects_without_profile(
    conn: Connection, *, limit: int = 50_000
) -> list[tuple[SubjectId, str, str, date | None]]:
    """(id, kind, name, birth date) of live subjects whose own registration is not indexed
    yet: those created from an identifier since the resolver last ran."""
    p = identity_profiles
    s = subjects
    indexed = select(p.c.id).where(p.c.registration_of == s.c.id).exists()
    rows = conn.execute(
        select(s.c.id, s.c.kind, s.c.name, s.c.birth_date)
        .where(s.c.erased_at.is_(None), s.c.merged_into.is_(None), ~indexed)
        .order_by(s.c.id)
        .limit(limit)
    )
    return [(r.id, r.kind, r.name, r.birth_date) for r in rows]


def candidate_profiles(
    conn: Connection,
    *,
    kinds: Iterable[str],
    name_keys: Iterable[str],
    birth_dates: Iterable[date],
    phones: Iterable[str],
) -> list[Profile]:
    """Profiles of live subjects (not erased, not merged away) of these kinds that share
    a name key, a birth date or a phone with a record being resolved: the only subjects
    the matcher's blocking rules could compare it with."""
    p = identity_profiles
    s = subjects
    found: dict[str, Profile] = {}
    keys: list[tuple[Any, list[Any]]] = [
        (p.c.name_key, sorted(set(name_keys))),
        (p.c.birth_date, sorted(set(birth_dates))),
        (p.c.phone, sorted(set(phones))),
    ]
    for column, values in keys:
        for chunk in chunked(values):
            rows = conn.execute(
                select(
                    p.c.subject_id,
                    p.c.record_id,
                    p.c.registration_of,
                    p.c.kind,
                    p.c.name,
                    p.c.birth_date,
                    p.c.address,
                    p.c.phone,
                )
                .join(s, s.c.id == p.c.subject_id)
                .where(
                    column.in_(chunk),
                    p.c.kind.in_(sorted(set(kinds))),
                    s.c.erased_at.is_(None),
                    s.c.merged_into.is_(None),
                )
            )
            for r in rows:
                found[_source(r)] = Profile(
                    r.subject_id, _source(r), r.kind, r.name, r.birth_date, r.address, r.phone
                )
    return list(found.values())


def profiles_of(conn: Connection, subject_ids: Sequence[SubjectId]) -> list[Profile]:
    """Every profile of these subjects (a reviewer compares them)."""
    p = identity_profiles
    out: list[Profile] = []
    for chunk in chunked(sorted(set(subject_ids))):
        for r in conn.execute(
            select(p).where(p.c.subject_id.in_(chunk)).order_by(p.c.subject_id, p.c.id)
        ):
            out.append(
                Profile(r.subject_id, _source(r), r.kind, r.name, r.birth_date, r.address, r.phone)
            )
    return out


def move_profiles(
    conn: Connection,
    *,
    to: SubjectId,
    from_subject: SubjectId | None = None,
    record_ids: Sequence[int] = (),
    sources: Sequence[str] = (),
) -> None:
    """Move profiles to subject ``to``: all of ``from_subject``'s (a merge), those of
    these records, and those of these sources (a split)."""
    p = identity_profiles
    if from_subject is not None:
        conn.execute(update(p).where(p.c.subject_id == from_subject).values(subject_id=to))
    records = list(record_ids)
    registrations = []
    for source in sources:
        columns = _source_columns(source)
        if columns["record_id"] is not None:
            records.append(columns["record_id"])
        else:
            registrations.append(columns["registration_of"])
    for column, values in ((p.c.record_id, records), (p.c.registration_of, registrations)):
        for chunk in chunked(values):
            conn.execute(update(p).where(column.in_(chunk)).values(subject_id=to))


def set_merged_into(conn: Connection, subject_id: SubjectId, into: SubjectId | None) -> None:
    conn.execute(update(subjects).where(subjects.c.id == subject_id).values(merged_into=into))


def open_cases_on(conn: Connection, record_ids: Sequence[int]) -> list[tuple[str, int]]:
    """(case id, record id) of the open review cases about these records."""
    out: list[tuple[str, int]] = []
    for chunk in chunked(sorted(set(record_ids))):
        out.extend(
            (r.id, r.record_id)
            for r in conn.execute(
                select(cases.c.id, cases.c.record_id).where(
                    cases.c.record_id.in_(chunk), cases.c.status.in_(OPEN_STATUSES)
                )
            )
        )
    return out


# -- decisions ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DecisionRow:
    id: int
    kind: str
    outcome: str | None
    record_id: int | None
    subject_id: SubjectId
    other_subject_id: SubjectId | None
    match_weight: float | None
    match_probability: float | None
    explanation: dict[str, Any]
    evidence: dict[str, Any]
    decided_at: datetime
    decided_by: str
    role: str
    ended_at: datetime | None
    ended_by: int | None

    @property
    def live(self) -> bool:
        return self.ended_at is None


def _decision(r: Any) -> DecisionRow:
    return DecisionRow(
        id=r.id,
        kind=r.kind,
        outcome=r.outcome,
        record_id=r.record_id,
        subject_id=r.subject_id,
        other_subject_id=r.other_subject_id,
        match_weight=r.match_weight,
        match_probability=r.match_probability,
        explanation=json.loads(r.explanation),
        evidence=json.loads(r.evidence),
        decided_at=r.decided_at,
        decided_by=r.decided_by,
        role=r.role,
        ended_at=r.ended_at,
        ended_by=r.ended_by,
    )


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def insert_decisions(
    conn: Connection, rows: Sequence[dict[str, Any]], *, now: datetime
) -> list[int]:
    """Append decisions (dicts of the columns; ``explanation`` and ``evidence`` as dicts);
    returns their ids in order."""
    ids = allocate_ids(conn, identity_decisions, len(rows))
    if ids:
        conn.execute(
            insert(identity_decisions),
            [
                {
                    "outcome": None,
                    "record_id": None,
                    "other_subject_id": None,
                    "match_weight": None,
                    "match_probability": None,
                    **row,
                    "id": did,
                    "explanation": _json(row.get("explanation", {})),
                    "evidence": _json(row.get("evidence", {})),
                    "decided_at": now,
                    "ended_at": None,
                    "ended_by": None,
                }
                for did, row in zip(ids, rows, strict=True)
            ],
        )
    return ids


def end_decision(conn: Connection, decision_id: int, *, by: int, now: datetime) -> bool:
    """End a live decision (the soft delete); False when it had already ended."""
    t = identity_decisions
    done = conn.execute(
        update(t)
        .where(t.c.id == decision_id, t.c.ended_at.is_(None))
        .values(ended_at=now, ended_by=by)
    )
    return bool(done.rowcount)


def get_decision(
    conn: Connection, decision_id: int, *, for_update: bool = False
) -> DecisionRow | None:
    query = select(identity_decisions).where(identity_decisions.c.id == decision_id)
    if for_update and conn.dialect.name != "sqlite":
        query = query.with_for_update()
    row = conn.execute(query).first()
    return None if row is None else _decision(row)


def review_queue(conn: Connection, *, offset: int, limit: int) -> tuple[int, list[DecisionRow]]:
    """Live review decisions, oldest first, with their total."""
    t = identity_decisions
    where = and_(t.c.kind == "review", t.c.ended_at.is_(None))
    total = conn.execute(select(func.count()).select_from(t).where(where)).scalar_one()
    rows = conn.execute(select(t).where(where).order_by(t.c.id).offset(offset).limit(limit))
    return int(total), [_decision(r) for r in rows]


def live_review_of_records(conn: Connection, record_ids: Sequence[int]) -> list[DecisionRow]:
    t = identity_decisions
    out: list[DecisionRow] = []
    for chunk in chunked(sorted(set(record_ids))):
        out.extend(
            _decision(r)
            for r in conn.execute(
                select(t).where(
                    t.c.record_id.in_(chunk), t.c.kind == "review", t.c.ended_at.is_(None)
                )
            )
        )
    return out


def live_decisions_of_record(conn: Connection, record_id: int) -> list[DecisionRow]:
    """The live decisions that attached this record to its subject (the resolver's)."""
    t = identity_decisions
    rows = conn.execute(
        select(t).where(t.c.record_id == record_id, t.c.kind == "attach", t.c.ended_at.is_(None))
    )
    return [_decision(r) for r in rows]


def decisions_about(
    conn: Connection, subject_id: SubjectId, *, offset: int = 0, limit: int = 100
) -> tuple[int, list[DecisionRow]]:
    """Every decision naming the subject (as the one attached to, or the other one),
    newest first, with their total."""
    t = identity_decisions
    where = or_(t.c.subject_id == subject_id, t.c.other_subject_id == subject_id)
    total = conn.execute(select(func.count()).select_from(t).where(where)).scalar_one()
    rows = conn.execute(select(t).where(where).order_by(t.c.id.desc()).offset(offset).limit(limit))
    return int(total), [_decision(r) for r in rows]


# -- models ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModelRow:
    id: int
    sha256: str
    filename: str
    body: str
    loaded_at: datetime
    loaded_by: str


def _model(r: Any) -> ModelRow:
    return ModelRow(r.id, r.sha256, r.filename, r.body, r.loaded_at, r.loaded_by)


def insert_model(
    conn: Connection, *, sha256: str, filename: str, body: str, by: str, now: datetime
) -> tuple[ModelRow, bool]:
    """Store a model (once per SHA-256); returns ``(row, created)``."""
    found = get_model(conn, sha256)
    if found is not None:
        return found, False
    conn.execute(
        insert(identity_models).values(
            sha256=sha256, filename=filename, body=body, loaded_at=now, loaded_by=by
        )
    )
    made = get_model(conn, sha256)
    assert made is not None
    return made, True


def get_model(conn: Connection, sha256: str) -> ModelRow | None:
    row = conn.execute(select(identity_models).where(identity_models.c.sha256 == sha256)).first()
    return None if row is None else _model(row)


def latest_model(conn: Connection) -> ModelRow | None:
    row = conn.execute(
        select(identity_models).order_by(identity_models.c.id.desc()).limit(1)
    ).first()
    return None if row is None else _model(row)


def list_models(conn: Connection) -> list[ModelRow]:
    return [
        _model(r)
        for r in conn.execute(select(identity_models).order_by(identity_models.c.id.desc()))
    ]


def iter_profiles(conn: Connection, *, batch_size: int = 20_000) -> Iterator[Profile]:
    """Every profile of a live subject (what a model is trained on), in id order."""
    p = identity_profiles
    s = subjects
    query = (
        select(
            p.c.subject_id,
            p.c.record_id,
            p.c.registration_of,
            p.c.kind,
            p.c.name,
            p.c.birth_date,
            p.c.address,
            p.c.phone,
        )
        .join(s, s.c.id == p.c.subject_id)
        .where(s.c.erased_at.is_(None), s.c.merged_into.is_(None))
        .order_by(p.c.id)
    )
    for r in conn.execution_options(yield_per=batch_size).execute(query):
        yield Profile(r.subject_id, _source(r), r.kind, r.name, r.birth_date, r.address, r.phone)
