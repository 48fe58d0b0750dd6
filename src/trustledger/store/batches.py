"""Providers' batches, the quarantine, the sources of a record, and fast bulk writes.

Bulk writes go below SQLAlchemy on purpose: a million record versions through
``executemany`` of bound dictionaries spend most of their time in per-value type
processing. :func:`bulk_insert` writes tuples with the driver's own ``executemany``
(SQLite) or ``COPY`` (PostgreSQL), in the caller's transaction, with the values already
in the form SQLAlchemy would have stored (:func:`stored_day`, :func:`stored_instant`,
:func:`stored_amount`): reading them back through the tables gives the same values.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Table, delete, insert, or_, select, update

from trustledger.domain.record import RecordAction, RecordId
from trustledger.domain.subject import SubjectId
from trustledger.store.ids import allocate_ids
from trustledger.store.subjects import SubjectDraft, chunked
from trustledger.store.tables import (
    ingest_batches,
    quarantine_files,
    record_sources,
    subject_identifiers,
    subjects,
)

__all__ = [
    "BatchRow",
    "Current",
    "Source",
    "bulk_cache",
    "bulk_insert",
    "bulk_ids",
    "bulk_insert_subjects",
    "current_by_record",
    "current_versions",
    "find_batches",
    "get_batch",
    "has_sources",
    "insert_batch",
    "list_batches",
    "mark_retried",
    "quarantine_file",
    "save_quarantine_file",
    "sources_by_fact_key",
    "sources_by_reference",
    "sources_of_records",
    "stored_amount",
    "stored_day",
    "stored_instant",
]

ACCEPTED = "accepted"
QUARANTINED = "quarantined"
RETRIED = "retried"


# -- values as stored ----------------------------------------------------------------------


def stored_instant(conn: Connection, at: datetime) -> Any:
    """``at`` as UTCDateTime stores it: naive UTC, as text on SQLite."""
    naive = at.astimezone(UTC).replace(tzinfo=None)
    if conn.dialect.name == "sqlite":
        return naive.strftime("%Y-%m-%d %H:%M:%S.%f")
    return naive


def stored_day(conn: Connection) -> Any:
    """A function giving a day as Date stores it (ISO text on SQLite)."""
    if conn.dialect.name == "sqlite":
        return lambda d: None if d is None else d.isoformat()
    return lambda d: d


def stored_amount(conn: Connection) -> Any:
    """A function giving an amount as Numeric(18, 2) stores it (a float on SQLite)."""
    if conn.dialect.name == "sqlite":
        return lambda a: None if a is None else float(a)
    return lambda a: a


def bulk_insert(
    conn: Connection, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """Insert ``rows`` (tuples in the order of ``columns``, values as stored) into
    ``table`` in the connection's transaction: ``COPY`` on PostgreSQL, the driver's
    ``executemany`` on SQLite."""
    if not rows:
        return
    names = ", ".join(columns)
    raw = conn.connection.driver_connection
    assert raw is not None
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cursor, cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" * len(columns))
    cursor = raw.cursor()
    try:
        cursor.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", rows)
    finally:
        cursor.close()


#: SQLite's page cache while a batch is written (KiB): the default 2 MiB is outgrown by
#: the indexes of a few hundred thousand records, after which every insert into them
#: reads pages back from the file. Ingest of a million rows took a third less time.
BULK_CACHE_KIB = 256 * 1024


@contextmanager
def bulk_cache(conn: Connection) -> Iterator[None]:
    """A larger SQLite page cache on this connection while the block runs (no-op on
    PostgreSQL, whose buffers are the server's)."""
    if conn.dialect.name != "sqlite":
        yield
        return
    # On the driver's connection: through SQLAlchemy a statement would begin a
    # transaction (BEGIN IMMEDIATE, a write lock) just to set a pragma.
    raw = conn.connection.driver_connection
    assert raw is not None
    (before,) = raw.execute("PRAGMA cache_size").fetchone()
    raw.execute(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
    try:
        yield
    finally:
        raw.execute(f"PRAGMA cache_size={int(before)}")


def bulk_ids(conn: Connection, table: Table, count: int) -> list[int]:
    """:func:`trustledger.store.ids.allocate_ids` for a chunk of a batch: on PostgreSQL the
    ids come back as one array, not a row each (a fifth of the time for 20,000)."""
    if count <= 0 or conn.dialect.name != "postgresql":
        return allocate_ids(conn, table, count)
    (ids,) = conn.exec_driver_sql(
        "SELECT array_agg(nextval(pg_get_serial_sequence(%s, 'id'))) FROM generate_series(1, %s)",
        (table.name, count),
    ).one()
    return sorted(int(i) for i in ids)


def bulk_insert_subjects(
    conn: Connection, drafts: Sequence[SubjectDraft], *, now: datetime
) -> list[SubjectId]:
    """:func:`trustledger.store.subjects.insert_subjects`, below SQLAlchemy: the same rows,
    for a batch that creates tens of thousands of subjects (its bound dictionaries cost
    more than the inserts). Returns the new ids in the drafts' order."""
    ids = bulk_ids(conn, subjects, len(drafts))
    if not ids:
        return []
    at, day = stored_instant(conn, now), stored_day(conn)
    bulk_insert(
        conn,
        subjects,
        ("id", "kind", "name", "birth_date", "region", "created_at", "created_by"),
        [
            (sid, d.kind.value, d.name, day(d.birth_date), d.region, at, d.created_by)
            for sid, d in zip(ids, drafts, strict=True)
        ],
    )
    bulk_insert(
        conn,
        subject_identifiers,
        ("subject_id", "kind", "value", "created_at"),
        [
            (sid, i.kind, i.value, at)
            for sid, d in zip(ids, drafts, strict=True)
            for i in d.identifiers
        ],
    )
    return ids


# -- current versions ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Current:
    """The newest version of a record (as this transaction sees it)."""

    record_id: RecordId
    provider: str
    reference: str
    version: int
    action: RecordAction
    subject_id: SubjectId
    record_type: str
    valid_from: date
    valid_to: date | None
    amount: Decimal | None
    note: str | None
    repaired_on: date | None


_ACTIONS = {a.value: a for a in RecordAction}
_CENT = Decimal("0.01")

# Lookups by thousands of references at a time skip SQLAlchemy's compiler: expanding an
# IN list of 5,000 values costs more than running the query. Values are bound parameters.
_CURRENT_SQL = (
    "SELECT r.id, r.provider, r.reference, v.version, v.action, v.subject_id, "
    "v.record_type, v.valid_from, v.valid_to, v.amount, v.note, v.repaired_on "
    "FROM records r JOIN record_versions v ON v.record_id = r.id WHERE "
)


def _select_in(
    conn: Connection, head: str, column: str, values: Sequence[Any], *fixed: Any
) -> list[Any]:
    """Rows of ``head`` (SQL ending in WHERE or AND, with ``{}`` for each fixed
    parameter's placeholder) whose ``column`` is one of ``values``."""
    if not values:
        return []
    if conn.dialect.name == "postgresql":
        sql = head.format(*(["%s"] * len(fixed))) + f"{column} = ANY(%s)"
        return list(conn.exec_driver_sql(sql, (*fixed, list(values))))
    out: list[Any] = []
    for chunk in chunked(list(values), 900):
        marks = ",".join("?" * len(chunk))
        sql = head.format(*(["?"] * len(fixed))) + f"{column} IN ({marks})"
        out.extend(conn.exec_driver_sql(sql, (*fixed, *chunk)))
    return out


def _day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def _money(value: Any) -> Decimal | None:
    """An amount as Numeric(18, 2) reads it back (SQLite stores a float)."""
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(f"{value:.2f}")


def _currents(rows: Iterable[Any]) -> list[Current]:
    found: dict[RecordId, Current] = {}
    for r in rows:
        seen = found.get(r[0])
        if seen is not None and seen.version > r[3]:
            continue
        found[r[0]] = Current(
            r[0],
            r[1],
            r[2],
            r[3],
            _ACTIONS[r[4]],
            r[5],
            r[6],
            _day(r[7]),  # type: ignore[arg-type]
            _day(r[8]),
            _money(r[9]),
            r[10],
            _day(r[11]),
        )
    return list(found.values())


def current_versions(
    conn: Connection, provider: str, references: Sequence[str]
) -> dict[str, Current]:
    """The newest version of each of a provider's records, by its reference."""
    rows = _select_in(
        conn,
        _CURRENT_SQL + "r.provider = {} AND ",
        "r.reference",
        sorted(set(references)),
        provider,
    )
    return {cur.reference: cur for cur in _currents(rows)}


def current_by_record(conn: Connection, record_ids: Iterable[RecordId]) -> dict[RecordId, Current]:
    """The newest version of each of these records, by id."""
    rows = _select_in(conn, _CURRENT_SQL, "r.id", sorted(set(record_ids)))
    return {cur.record_id: cur for cur in _currents(rows)}


# -- the sources of a record ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Source:
    """One provider's report of a record (its own reference for it)."""

    record_id: RecordId
    provider: str
    reference: str
    fact_key: str
    batch: str
    linked_at: datetime
    differences: dict[str, Any] | None


def _source(row: Any) -> Source:
    linked = row[5]
    if isinstance(linked, str):  # read below SQLAlchemy from SQLite
        linked = datetime.fromisoformat(linked)
    return Source(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        linked.replace(tzinfo=UTC),
        json.loads(row[6]) if row[6] else None,
    )


_SOURCE_SQL = (
    "SELECT record_id, provider, reference, fact_key, batch, linked_at, differences "
    "FROM record_sources WHERE "
)


def sources_by_reference(
    conn: Connection, provider: str, references: Sequence[str]
) -> dict[str, Source]:
    """The provider's sources among ``references``, by reference."""
    rows = _select_in(
        conn, _SOURCE_SQL + "provider = {} AND ", "reference", sorted(set(references)), provider
    )
    return {row[2]: _source(row) for row in rows}


def has_sources(conn: Connection, provider: str) -> bool:
    """Whether the provider is a source of any record (see record_sources)."""
    s = record_sources
    return conn.execute(select(s.c.id).where(s.c.provider == provider).limit(1)).first() is not None


def sources_by_fact_key(conn: Connection, keys: Sequence[str]) -> dict[str, RecordId]:
    """The record each known fact key names."""
    rows = _select_in(
        conn, "SELECT fact_key, record_id FROM record_sources WHERE ", "fact_key", sorted(set(keys))
    )
    return {row[0]: row[1] for row in rows}


def sources_of_records(
    conn: Connection, record_ids: Sequence[RecordId]
) -> dict[RecordId, list[Source]]:
    """Every source of each of these records, first linked first."""
    s = record_sources
    out: dict[RecordId, list[Source]] = {}
    for chunk in chunked(sorted(set(record_ids))):
        for row in conn.execute(
            select(
                s.c.record_id,
                s.c.provider,
                s.c.reference,
                s.c.fact_key,
                s.c.batch,
                s.c.linked_at,
                s.c.differences,
            )
            .where(s.c.record_id.in_(chunk))
            .order_by(s.c.record_id, s.c.id)
        ):
            out.setdefault(row[0], []).append(_source(row))
    return out


# -- batches --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BatchRow:
    """A batch as stored; ``report`` is its JSON report, parsed."""

    id: int
    batch: str
    provider: str
    batch_key: str | None
    source: str
    file_sha256: str
    size: int
    format: str
    encoding: str | None
    delimiter: str | None
    mapping_source: str | None
    mapping_sha256: str | None
    mapping_text: str | None
    policy_version_id: int
    status: str
    rows: int
    stored: int
    problems: int
    report: dict[str, Any]
    received_at: datetime
    received_by: str
    retry_of: int | None


def _batch(row: Any) -> BatchRow:
    values = dict(row._mapping)
    values["report"] = json.loads(values["report"])
    return BatchRow(**values)


def insert_batch(conn: Connection, **values: Any) -> int:
    """Store a batch (columns of ``ingest_batches``; ``report`` as a dict); its id."""
    values = {**values, "report": json.dumps(values["report"], ensure_ascii=False)}
    result = conn.execute(insert(ingest_batches).values(**values))
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def get_batch(conn: Connection, batch_id: int) -> BatchRow | None:
    row = conn.execute(select(ingest_batches).where(ingest_batches.c.id == batch_id)).first()
    return None if row is None else _batch(row)


def find_batches(
    conn: Connection,
    provider: str,
    *,
    file_sha256: str | None = None,
    batch_key: str | None = None,
    statuses: Sequence[str] = (ACCEPTED, QUARANTINED),
) -> list[BatchRow]:
    """A provider's batches of this file or this batch id, newest first."""
    b = ingest_batches
    which = []
    if file_sha256 is not None:
        which.append(b.c.file_sha256 == file_sha256)
    if batch_key is not None:
        which.append(b.c.batch_key == batch_key)
    if not which:
        return []
    rows = conn.execute(
        select(b)
        .where(b.c.provider == provider, b.c.status.in_(statuses), or_(*which))
        .order_by(b.c.id.desc())
    )
    return [_batch(r) for r in rows]


def list_batches(
    conn: Connection,
    *,
    statuses: Sequence[str] | None = None,
    provider: str | None = None,
    limit: int | None = None,
) -> list[BatchRow]:
    """Batches, newest first (only these statuses, of this provider, when given)."""
    b = ingest_batches
    query = select(b).order_by(b.c.received_at.desc(), b.c.id.desc())
    if statuses is not None:
        query = query.where(b.c.status.in_(statuses))
    if provider is not None:
        query = query.where(b.c.provider == provider)
    if limit is not None:
        query = query.limit(limit)
    return [_batch(r) for r in conn.execute(query)]


def mark_retried(conn: Connection, batch_id: int) -> None:
    """A quarantined batch was run again: the newer attempt (whose retry_of names it)
    carries its outcome."""
    conn.execute(
        update(ingest_batches)
        .where(ingest_batches.c.id == batch_id, ingest_batches.c.status == QUARANTINED)
        .values(status=RETRIED)
    )


def save_quarantine_file(
    conn: Connection, batch_id: int, *, data: bytes | None, path: str | None
) -> None:
    conn.execute(insert(quarantine_files).values(batch_id=batch_id, data=data, path=path))


def kept_quarantine_files(conn: Connection) -> list[tuple[int, str, str | None, bytes]]:
    """(batch id, format, encoding, bytes) of every quarantined file whose bytes are kept."""
    rows = conn.execute(
        select(
            ingest_batches.c.id,
            ingest_batches.c.format,
            ingest_batches.c.encoding,
            quarantine_files.c.data,
        )
        .join(quarantine_files, quarantine_files.c.batch_id == ingest_batches.c.id)
        .where(quarantine_files.c.data.is_not(None))
        .order_by(ingest_batches.c.id)
    )
    return [(r.id, r.format, r.encoding, bytes(r.data)) for r in rows]


def forget_quarantine_file(conn: Connection, batch_id: int, *, now: datetime) -> None:
    """Erasure: a quarantined file that named an erased subject loses its bytes, and its
    report the problems (which quote the rows); the counts stay."""
    conn.execute(delete(quarantine_files).where(quarantine_files.c.batch_id == batch_id))
    row = conn.execute(
        select(ingest_batches.c.report).where(ingest_batches.c.id == batch_id)
    ).first()
    if row is None:
        return
    report = json.loads(row.report)
    report["problems"] = []
    report["erased_at"] = now.isoformat()
    conn.execute(
        update(ingest_batches)
        .where(ingest_batches.c.id == batch_id)
        .values(report=json.dumps(report, ensure_ascii=False))
    )


def quarantine_file(conn: Connection, batch_id: int) -> tuple[bytes | None, str | None] | None:
    """The kept bytes of a quarantined batch's file, or the path it was read from."""
    row = conn.execute(
        select(quarantine_files.c.data, quarantine_files.c.path).where(
            quarantine_files.c.batch_id == batch_id
        )
    ).first()
    return None if row is None else (row.data, row.path)
