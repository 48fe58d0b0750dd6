"""Score runs and the current state.

A score run is the stored result of scoring every subject once, never overwritten. The
current state (``current_scores``, ``current_list_entries``) is each subject's newest
score and list entries: replaced whole by a run, and per subject when a review, a repair
or ``trustledger maintain`` changes a file. The public register reads the current state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from trustledger.domain.subject import SubjectId
from trustledger.store.subjects import active_list_entry, chunked
from trustledger.store.tables import (
    current_list_entries,
    current_scores,
    policy_versions,
    record_versions,
    score_list_entries,
    score_runs,
    scores,
    subject_identifiers,
    subjects,
)

__all__ = [
    "ListEntryRow",
    "PublicEntry",
    "RunInfo",
    "ScoreRow",
    "SubjectSummary",
    "current_as_of",
    "stale_subjects",
    "grade_counts",
    "latest_run",
    "list_sizes",
    "public_list_page",
    "query_subjects",
    "replace_current",
    "save_run",
]


@dataclass(frozen=True, slots=True)
class RunInfo:
    id: int
    policy_version_id: int
    policy_label: str
    as_of: date
    known_at: datetime
    started_at: datetime
    subjects: int
    records: int


@dataclass(frozen=True, slots=True)
class ScoreRow:
    subject_id: SubjectId
    score_cents: int
    grade: str


@dataclass(frozen=True, slots=True)
class ListEntryRow:
    subject_id: SubjectId
    list: str
    rule: str
    since: date
    until: date | None
    public: bool
    reason: str


@dataclass(frozen=True, slots=True)
class SubjectSummary:
    id: SubjectId
    kind: str
    name: str
    identifier: str | None
    score_cents: int
    grade: str
    lists: tuple[str, ...]


def _entry(r: ListEntryRow) -> dict[str, Any]:
    """A list entry's columns (those of a run's table and of the current state)."""
    return {
        "subject_id": r.subject_id,
        "list": r.list,
        "rule": r.rule,
        "since": r.since,
        "until": r.until,
        "public": r.public,
        "reason": r.reason,
    }


def save_run(
    conn: Connection,
    *,
    policy_version_id: int,
    as_of: date,
    known_at: datetime,
    started_at: datetime,
    score_rows: Sequence[ScoreRow],
    list_rows: Sequence[ListEntryRow],
    record_count: int,
) -> int:
    """Store a whole run in the caller's transaction; returns the run id."""
    run_id: int = conn.execute(
        insert(score_runs).returning(score_runs.c.id),
        {
            "policy_version_id": policy_version_id,
            "as_of": as_of,
            "known_at": known_at,
            "started_at": started_at,
            "subjects": len(score_rows),
            "records": record_count,
        },
    ).scalar_one()
    if score_rows:
        conn.execute(
            insert(scores),
            [
                {
                    "run_id": run_id,
                    "subject_id": r.subject_id,
                    "score_cents": r.score_cents,
                    "grade": r.grade,
                }
                for r in score_rows
            ],
        )
    if list_rows:
        conn.execute(
            insert(score_list_entries),
            [{"run_id": run_id, **_entry(r)} for r in list_rows],
        )
    return run_id


def replace_current(
    conn: Connection,
    *,
    score_rows: Sequence[ScoreRow],
    list_rows: Sequence[ListEntryRow],
    as_of: date,
    known_at: datetime,
    policy_version_id: int,
    now: datetime,
    subject_ids: Sequence[SubjectId] | None = None,
) -> None:
    """Make these the current scores and list entries: of everyone (``subject_ids`` None,
    a whole run) or of the subjects named (a per-subject rescore)."""
    if subject_ids is None:
        conn.execute(delete(current_list_entries))
        conn.execute(delete(current_scores))
    else:
        for chunk in chunked(list(subject_ids)):
            conn.execute(
                delete(current_list_entries).where(current_list_entries.c.subject_id.in_(chunk))
            )
            conn.execute(delete(current_scores).where(current_scores.c.subject_id.in_(chunk)))
    if score_rows:
        conn.execute(
            insert(current_scores),
            [
                {
                    "subject_id": r.subject_id,
                    "score_cents": r.score_cents,
                    "grade": r.grade,
                    "as_of": as_of,
                    "known_at": known_at,
                    "policy_version_id": policy_version_id,
                    "updated_at": now,
                }
                for r in score_rows
            ],
        )
    if list_rows:
        conn.execute(
            insert(current_list_entries),
            [_entry(r) for r in list_rows],
        )


def current_as_of(conn: Connection) -> tuple[date, datetime] | None:
    """The newest (as_of, updated_at) among current scores: how fresh the register is."""
    row = conn.execute(
        select(func.max(current_scores.c.as_of), func.max(current_scores.c.updated_at))
    ).first()
    if row is None or row[0] is None:
        return None
    return row[0], row[1]


def stale_subjects(conn: Connection) -> list[SubjectId]:
    """Subjects with a record version stored after their current score was computed (or
    with records and no current score): a provider's batch since the last rescore."""
    rv, cs = record_versions, current_scores
    query = (
        select(rv.c.subject_id)
        .distinct()
        .outerjoin(cs, cs.c.subject_id == rv.c.subject_id)
        .where((cs.c.updated_at.is_(None)) | (rv.c.recorded_at > cs.c.known_at))
        .order_by(rv.c.subject_id)
    )
    return [sid for (sid,) in conn.execute(query)]


def latest_run(conn: Connection) -> RunInfo | None:
    r = score_runs
    row = conn.execute(
        select(r, policy_versions.c.name, policy_versions.c.version)
        .join(policy_versions, policy_versions.c.id == r.c.policy_version_id)
        .order_by(r.c.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return RunInfo(
        id=row.id,
        policy_version_id=row.policy_version_id,
        policy_label=f"{row.name}@{row.version}",
        as_of=row.as_of,
        known_at=row.known_at,
        started_at=row.started_at,
        subjects=row.subjects,
        records=row.records,
    )


def grade_counts(conn: Connection, run_id: int) -> dict[str, int]:
    rows = conn.execute(
        select(scores.c.grade, func.count())
        .where(scores.c.run_id == run_id)
        .group_by(scores.c.grade)
    )
    return {grade: int(n) for grade, n in rows}


def list_sizes(conn: Connection, run_id: int) -> dict[str, int]:
    """Distinct subjects on each list in a run."""
    e = score_list_entries
    rows = conn.execute(
        select(e.c.list, func.count(func.distinct(e.c.subject_id)))
        .where(e.c.run_id == run_id)
        .group_by(e.c.list)
    )
    return {name: int(n) for name, n in rows}


def query_subjects(
    conn: Connection,
    run_id: int,
    *,
    grade: str | None = None,
    list_name: str | None = None,
    limit: int | None = None,
) -> list[SubjectSummary]:
    """Scored subjects of a run, lowest score first, filtered by grade and list."""
    s = scores
    query: Any = (
        select(subjects.c.id, subjects.c.kind, subjects.c.name, s.c.score_cents, s.c.grade)
        .join(s, s.c.subject_id == subjects.c.id)
        .where(s.c.run_id == run_id)
        .order_by(s.c.score_cents, subjects.c.id)
    )
    if grade is not None:
        query = query.where(s.c.grade == grade)
    if list_name is not None:
        e = score_list_entries
        query = query.where(
            select(e.c.subject_id)
            .where(e.c.run_id == run_id, e.c.list == list_name, e.c.subject_id == subjects.c.id)
            .exists()
        )
    if limit is not None:
        query = query.limit(limit)
    rows = list(conn.execute(query))
    ids = [r.id for r in rows]
    first_ident: dict[SubjectId, str] = {}
    lists: dict[SubjectId, list[str]] = {}
    e = score_list_entries
    for chunk in chunked(ids):
        for sid, value in conn.execute(
            select(subject_identifiers.c.subject_id, subject_identifiers.c.value)
            .where(subject_identifiers.c.subject_id.in_(chunk))
            .order_by(subject_identifiers.c.id)
        ):
            first_ident.setdefault(sid, value)
        for sid, name in conn.execute(
            select(e.c.subject_id, e.c.list)
            .distinct()
            .where(e.c.run_id == run_id, e.c.subject_id.in_(chunk))
            .order_by(e.c.list)
        ):
            lists.setdefault(sid, []).append(name)
    return [
        SubjectSummary(
            id=r.id,
            kind=r.kind,
            name=r.name,
            identifier=first_ident.get(r.id),
            score_cents=r.score_cents,
            grade=r.grade,
            lists=tuple(lists.get(r.id, ())),
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class PublicEntry:
    subject_id: SubjectId
    kind: str
    name: str
    identifiers: tuple[tuple[str, str], ...]
    rule: str
    since: date
    until: date | None


def public_list_page(
    conn: Connection,
    list_name: str,
    *,
    kinds: Sequence[str],
    offset: int,
    limit: int,
    today: date,
) -> tuple[int, list[PublicEntry]]:
    """One page of a list's public entries in force on ``today``, of subjects of
    ``kinds``, longest on the list first; and how many there are in all. Erased subjects
    are never shown."""
    e = current_list_entries
    where = (
        subjects.c.erased_at.is_(None),
        active_list_entry(today),
        e.c.list == list_name,
        e.c.public.is_(True),
        subjects.c.kind.in_(list(kinds)),
    )
    total = conn.execute(
        select(func.count())
        .select_from(e.join(subjects, subjects.c.id == e.c.subject_id))
        .where(*where)
    ).scalar_one()
    rows = conn.execute(
        select(e.c.subject_id, subjects.c.kind, subjects.c.name, e.c.rule, e.c.since, e.c.until)
        .join(subjects, subjects.c.id == e.c.subject_id)
        .where(*where)
        .order_by(e.c.since, e.c.subject_id, e.c.rule)
        .offset(offset)
        .limit(limit)
    ).all()
    idents: dict[SubjectId, list[tuple[str, str]]] = {}
    ids = [r.subject_id for r in rows]
    for sid, kind, value in conn.execute(
        select(
            subject_identifiers.c.subject_id,
            subject_identifiers.c.kind,
            subject_identifiers.c.value,
        )
        .where(subject_identifiers.c.subject_id.in_(ids))
        .order_by(subject_identifiers.c.id)
    ):
        idents.setdefault(sid, []).append((kind, value))
    return int(total), [
        PublicEntry(
            subject_id=r.subject_id,
            kind=r.kind,
            name=r.name,
            identifiers=tuple(idents.get(r.subject_id, ())),
            rule=r.rule,
            since=r.since,
            until=r.until,
        )
        for r in rows
    ]
