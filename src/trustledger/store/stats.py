"""Figures for the operators' dashboard: counts over the current state, the records,
the review cases and the providers' batches. Aggregates only: no names, no identifiers.

Each function is one query (or two, said where), grouped in SQL; turning the groups into
the policy's order and words is the service's (:mod:`trustledger.service.dashboard`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, case, func, literal, literal_column, select

from trustledger.domain.record import RecordAction
from trustledger.store.cases import OPEN_STATUSES
from trustledger.store.subjects import active_list_entry
from trustledger.store.tables import (
    api_batches,
    cases,
    current_list_entries,
    current_scores,
    record_versions,
    subjects,
)

__all__ = [
    "BatchSummary",
    "CaseFigures",
    "case_figures",
    "grade_counts_by_kind",
    "list_counts_by_kind",
    "live_records_by_provider",
    "new_records_by_provider",
    "recent_batches",
    "records_by_type_and_month",
]

_WITHDRAWN = (RecordAction.RETRACT.value, RecordAction.EXPIRE.value)


def grade_counts_by_kind(conn: Connection) -> dict[tuple[str, str], int]:
    """(grade, subject kind) -> subjects with that current grade; erased subjects left out."""
    cs = current_scores
    rows = conn.execute(
        select(cs.c.grade, subjects.c.kind, func.count())
        .join(subjects, subjects.c.id == cs.c.subject_id)
        .where(subjects.c.erased_at.is_(None))
        .group_by(cs.c.grade, subjects.c.kind)
    )
    return {(grade, kind): int(n) for grade, kind, n in rows}


def list_counts_by_kind(conn: Connection, today: date) -> dict[tuple[str, str], int]:
    """(list, subject kind) -> distinct subjects with an entry in force on ``today`` (see
    :func:`~trustledger.store.subjects.active_list_entry`); erased subjects left out."""
    e = current_list_entries
    rows = conn.execute(
        select(e.c.list, subjects.c.kind, func.count(func.distinct(e.c.subject_id)))
        .join(subjects, subjects.c.id == e.c.subject_id)
        .where(subjects.c.erased_at.is_(None), active_list_entry(today))
        .group_by(e.c.list, subjects.c.kind)
    )
    return {(name, kind): int(n) for name, kind, n in rows}


def _latest_live(known_at: datetime) -> tuple[ColumnElement[bool], ...]:
    """Conditions on ``record_versions``: the version is its record's newest as known at
    ``known_at``, and that newest version is not a retraction or an expiry."""
    v, later = record_versions, record_versions.alias("later")
    newer = (
        select(literal(1))
        .where(
            later.c.record_id == v.c.record_id,
            later.c.version > v.c.version,
            later.c.recorded_at <= known_at,
        )
        .exists()
    )
    return (v.c.recorded_at <= known_at, ~newer, v.c.action.not_in(_WITHDRAWN))


def _month(conn: Connection, day: Any) -> ColumnElement[str]:
    """``YYYY-MM`` of a date column, in the database's own words. The format is written
    into the SQL, not bound: PostgreSQL would not see ``to_char(d, $1)`` in the select
    list and ``to_char(d, $2)`` in GROUP BY as one expression."""
    if conn.dialect.name == "postgresql":
        return func.to_char(day, literal_column("'YYYY-MM'"))
    return func.strftime(literal_column("'%Y-%m'"), day)


def records_by_type_and_month(
    conn: Connection, *, start: date, end: date, known_at: datetime
) -> dict[tuple[str, str], int]:
    """(record type, ``YYYY-MM`` of ``valid_from``) -> live records valid from a day in
    ``[start, end]``, each counted once by its newest version as known at ``known_at``;
    records whose newest version retracted or expired them are left out."""
    v = record_versions
    month = _month(conn, v.c.valid_from).label("month")
    rows = conn.execute(
        select(v.c.record_type, month, func.count())
        .where(*_latest_live(known_at), v.c.valid_from >= start, v.c.valid_from <= end)
        .group_by(v.c.record_type, month)
    )
    return {(record_type, m): int(n) for record_type, m, n in rows}


def live_records_by_provider(conn: Connection, *, known_at: datetime) -> dict[str, int]:
    """Provider -> its records in the registry as known at ``known_at`` (newest version
    neither a retraction nor an expiry)."""
    v = record_versions
    rows = conn.execute(
        select(v.c.provider, func.count()).where(*_latest_live(known_at)).group_by(v.c.provider)
    )
    return {provider: int(n) for provider, n in rows}


def new_records_by_provider(
    conn: Connection, *, since: datetime, until: datetime
) -> dict[str, int]:
    """Provider -> records it sent for the first time (version 1) recorded after ``since``
    and at or before ``until``."""
    v = record_versions
    rows = conn.execute(
        select(v.c.provider, func.count())
        .where(v.c.version == 1, v.c.recorded_at > since, v.c.recorded_at <= until)
        .group_by(v.c.provider)
    )
    return {provider: int(n) for provider, n in rows}


@dataclass(frozen=True, slots=True)
class CaseFigures:
    open: int
    #: Open with the review deadline passed.
    overdue: int
    #: Decided cases by outcome (objections: upheld, corrected, retracted; repairs:
    #: approved, refused).
    by_outcome: dict[str, int]
    #: All cases, open and decided, by kind (objection, repair).
    by_kind: dict[str, int]
    #: Of each decided case, the days from its opening to its decision, oldest first.
    review_days: list[float]


def case_figures(conn: Connection, *, now: datetime) -> CaseFigures:
    """The review queue in figures (two queries: the counts grouped, the decided cases'
    times)."""
    c = cases
    open_n = overdue = 0
    by_outcome: dict[str, int] = {}
    by_kind: dict[str, int] = {}
    counts = conn.execute(
        select(
            c.c.kind,
            c.c.status,
            c.c.outcome,
            func.count(),
            func.sum(case((c.c.deadline <= now, 1), else_=0)),
        ).group_by(c.c.kind, c.c.status, c.c.outcome)
    )
    for kind, status, outcome, n, past_deadline in counts:
        by_kind[kind] = by_kind.get(kind, 0) + int(n)
        if status in OPEN_STATUSES:
            open_n += int(n)
            overdue += int(past_deadline or 0)
        elif outcome is not None:
            by_outcome[outcome] = by_outcome.get(outcome, 0) + int(n)
    decided = conn.execute(
        select(c.c.opened_at, c.c.decided_at)
        .where(c.c.status.not_in(OPEN_STATUSES), c.c.decided_at.is_not(None))
        .order_by(c.c.decided_at, c.c.id)
    )
    days = [round((d - o).total_seconds() / 86400, 2) for o, d in decided]
    return CaseFigures(open_n, overdue, by_outcome, by_kind, days)


@dataclass(frozen=True, slots=True)
class BatchSummary:
    provider: str
    received_at: datetime
    idempotency_key: str
    #: The report the provider was given (see ``Registry.submit_records``).
    response: dict[str, Any]


def recent_batches(conn: Connection, *, limit: int) -> list[BatchSummary]:
    """The latest batches providers sent over the API, newest first."""
    b = api_batches
    rows = conn.execute(
        select(b.c.provider, b.c.received_at, b.c.idempotency_key, b.c.response)
        .order_by(b.c.received_at.desc(), b.c.id.desc())
        .limit(limit)
    )
    return [BatchSummary(p, at, key, _json(response)) for p, at, key, response in rows]


def _json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
