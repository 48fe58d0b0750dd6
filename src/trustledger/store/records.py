"""Records and their versions: append-only and bitemporal.

The one question this module answers in many shapes: *which version of each record was
the newest one known at time K* (recorded time), optionally keeping only the facts that
held on day D (valid time).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from itertools import chain
from typing import Any

from sqlalchemy import Connection, Select, bindparam, func, insert, literal, or_, select

from trustledger.domain.record import RecordAction, RecordId, RecordVersion
from trustledger.domain.subject import SubjectId, SubjectKind
from trustledger.store.ids import allocate_ids
from trustledger.store.subjects import chunked
from trustledger.store.tables import UTCDateTime, record_versions, records, subjects

__all__ = [
    "CurrentRecord",
    "NewVersion",
    "count_record_versions",
    "current_by_reference",
    "insert_records",
    "insert_versions",
    "iter_current_by_subject",
    "live_records_before",
    "next_version",
    "record_histories",
    "record_history",
    "records_as_of",
]


@dataclass(frozen=True, slots=True)
class NewVersion:
    """A version about to be appended (the record id exists already)."""

    record_id: RecordId
    version: int
    action: RecordAction
    subject_id: SubjectId
    record_type: str
    provider: str
    valid_from: date
    valid_to: date | None
    amount: Decimal | None
    note: str | None
    batch: str | None
    repaired_on: date | None = None


def next_version(
    current: RecordVersion, action: RecordAction, batch: str, **changes: Any
) -> NewVersion:
    """The version after ``current``: the same fact with ``changes`` (NewVersion fields),
    recorded as ``action`` in ``batch``."""
    values: dict[str, Any] = {
        "record_id": current.record_id,
        "version": current.version + 1,
        "action": action,
        "subject_id": current.subject_id,
        "record_type": current.record_type,
        "provider": current.provider,
        "valid_from": current.valid_from,
        "valid_to": current.valid_to,
        "amount": current.amount,
        "note": current.note,
        "batch": batch,
        "repaired_on": current.repaired_on,
    }
    values.update(changes)
    return NewVersion(**values)


@dataclass(frozen=True, slots=True)
class CurrentRecord:
    """The newest version of a record found by its provider's reference."""

    record_id: RecordId
    version: int
    action: RecordAction
    subject_id: SubjectId
    record_type: str
    valid_from: date
    valid_to: date | None
    amount: Decimal | None
    note: str | None
    repaired_on: date | None = None


def insert_records(
    conn: Connection, provider: str, references: Sequence[str], *, now: datetime
) -> list[RecordId]:
    """Create record identities; returns their ids in the order of ``references``."""
    ids = allocate_ids(conn, records, len(references))
    if ids:
        conn.execute(
            insert(records),
            [
                {"id": rid, "provider": provider, "reference": ref, "created_at": now}
                for rid, ref in zip(ids, references, strict=True)
            ],
        )
    return ids


def insert_versions(conn: Connection, versions: Sequence[NewVersion], *, now: datetime) -> None:
    """Append versions, all recorded at ``now``."""
    if not versions:
        return
    conn.execute(
        insert(record_versions),
        [
            {
                "record_id": v.record_id,
                "version": v.version,
                "action": v.action.value,
                "subject_id": v.subject_id,
                "record_type": v.record_type,
                "provider": v.provider,
                "valid_from": v.valid_from,
                "valid_to": v.valid_to,
                "recorded_at": now,
                "amount": v.amount,
                "note": v.note,
                "batch": v.batch,
                "repaired_on": v.repaired_on,
            }
            for v in versions
        ],
    )


_v = record_versions
# The columns a RecordVersion is built from, in its field order (see _version).
_COLUMNS = (
    _v.c.record_id,
    _v.c.version,
    _v.c.subject_id,
    _v.c.record_type,
    _v.c.provider,
    _v.c.valid_from,
    _v.c.recorded_at,
    _v.c.action,
    _v.c.valid_to,
    _v.c.amount,
    _v.c.note,
    _v.c.repaired_on,
)
_ACTIONS = {a.value: a for a in RecordAction}


#: The known-at time of the current-version queries, bound at execution.
_KNOWN_AT = bindparam("known_at", type_=UTCDateTime())


def _current(*, with_reference: bool = True) -> Select[Any]:
    """Versions that were the newest of their record as known at ``:known_at``."""
    w = record_versions.alias("later")
    newer_known = (
        select(literal(1))
        .where(
            w.c.record_id == _v.c.record_id,
            w.c.version > _v.c.version,
            w.c.recorded_at <= _KNOWN_AT,
        )
        .exists()
    )
    query = select(*_COLUMNS)
    if with_reference:
        query = query.add_columns(records.c.reference).join(records, records.c.id == _v.c.record_id)
    return query.where(_v.c.recorded_at <= _KNOWN_AT, ~newer_known)


# Built once: a decision reads one subject's file per request, and building this query
# costs more than running it.
_OF_SUBJECT = (
    _current()
    .where(_v.c.subject_id == bindparam("subject_id"))
    .order_by(_v.c.valid_from, _v.c.record_id)
)
_OF_SUBJECT_LIVE = _OF_SUBJECT.where(
    _v.c.action.not_in([RecordAction.RETRACT.value, RecordAction.EXPIRE.value])
)


def _version(t: Any) -> RecordVersion:
    """A RecordVersion from a row of _COLUMNS (plus the reference, when selected).

    Positional on purpose: scoring builds two million of these.
    """
    return RecordVersion(
        t[0],
        t[1],
        t[2],
        t[3],
        t[4],
        t[5],
        t[6],
        _ACTIONS[t[7]],
        t[8],
        t[12] if len(t) > 12 else None,
        t[9],
        t[10],
        False,
        False,
        t[11],
    )


def records_as_of(
    conn: Connection,
    subject_id: SubjectId,
    *,
    known_at: datetime,
    valid_on: date | None = None,
    include_retracted: bool = False,
) -> list[RecordVersion]:
    """Records of a subject valid on ``valid_on`` as known at ``known_at``.

    Without ``valid_on`` every record known at ``known_at`` is returned, whatever its valid
    time (scoring wants them all so it can say why some do not count). Retracted records
    are left out unless ``include_retracted``.
    """
    v = record_versions
    query = _OF_SUBJECT if include_retracted else _OF_SUBJECT_LIVE
    if valid_on is not None:
        query = query.where(
            v.c.valid_from <= valid_on, or_(v.c.valid_to.is_(None), v.c.valid_to > valid_on)
        )
    rows = conn.execute(query, {"known_at": known_at, "subject_id": subject_id})
    return [_version(r) for r in rows]


def record_history(conn: Connection, record_id: RecordId) -> list[RecordVersion]:
    """Every version of a record, oldest first."""
    return record_histories(conn, [record_id]).get(record_id, [])


def record_histories(
    conn: Connection, record_ids: Sequence[RecordId]
) -> dict[RecordId, list[RecordVersion]]:
    """Every version of each of these records, oldest first (a whole file at once)."""
    out: dict[RecordId, list[RecordVersion]] = {}
    for chunk in chunked(sorted(set(record_ids))):
        query = (
            select(*_COLUMNS, records.c.reference)
            .join(records, records.c.id == _v.c.record_id)
            .where(_v.c.record_id.in_(chunk))
            .order_by(_v.c.record_id, _v.c.version)
        )
        for r in conn.execute(query):
            out.setdefault(r[0], []).append(_version(r))
    return out


def current_by_reference(
    conn: Connection, provider: str, references: Sequence[str]
) -> dict[str, CurrentRecord]:
    """The newest version of each of a provider's records, by the provider's reference."""
    found: dict[str, CurrentRecord] = {}
    v = record_versions
    for chunk in chunked(sorted(set(references))):
        query = (
            select(records.c.reference, v)
            .join(v, v.c.record_id == records.c.id)
            .where(records.c.provider == provider, records.c.reference.in_(chunk))
        )
        for row in conn.execute(query):
            seen = found.get(row.reference)
            if seen is not None and seen.version > row.version:
                continue
            found[row.reference] = CurrentRecord(
                record_id=row.record_id,
                version=row.version,
                action=RecordAction(row.action),
                subject_id=row.subject_id,
                record_type=row.record_type,
                valid_from=row.valid_from,
                valid_to=row.valid_to,
                amount=row.amount,
                note=row.note,
                repaired_on=row.repaired_on,
            )
    return found


def iter_current_by_subject(
    conn: Connection, *, known_at: datetime, batch_size: int = 20_000
) -> Iterator[tuple[SubjectId, SubjectKind, list[RecordVersion]]]:
    """Every subject (even those without records) with its records as known at ``known_at``.

    Streams in subject order, so memory stays flat however many records there are.
    """
    kinds = [
        (sid, SubjectKind(kind))
        for sid, kind in conn.execute(
            select(subjects.c.id, subjects.c.kind)
            .where(subjects.c.erased_at.is_(None), subjects.c.merged_into.is_(None))
            .order_by(subjects.c.id)
        )
    ]
    query = _current(with_reference=False).order_by(_v.c.subject_id)
    result = conn.execution_options(yield_per=batch_size).execute(query, {"known_at": known_at})
    stream = chain.from_iterable(result.partitions())
    row = next(stream, None)
    for sid, kind in kinds:
        pending: list[RecordVersion] = []
        # Rows arrive in subject order; every row's subject exists (foreign key).
        while row is not None and row[2] == sid:
            pending.append(_version(row))
            row = next(stream, None)
        yield sid, kind, pending


def count_record_versions(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(record_versions)).scalar_one())


def live_records_before(
    conn: Connection, record_type: str, bound: date, *, known_at: datetime
) -> list[RecordVersion]:
    """Current versions (as known at ``known_at``) of records of ``record_type`` that are
    neither retracted nor expired and are valid from ``bound`` or earlier: the candidates
    for expiry."""
    query = (
        _current(with_reference=False)
        .where(
            _v.c.record_type == record_type,
            _v.c.valid_from <= bound,
            _v.c.action.not_in([RecordAction.RETRACT.value, RecordAction.EXPIRE.value]),
        )
        .order_by(_v.c.record_id)
    )
    return [_version(r) for r in conn.execute(query, {"known_at": known_at})]
