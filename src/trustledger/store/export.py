"""The store as Arrow record batches, in the batch engines' input layout
(:mod:`trustledger.batch.layout`): every subject still in the register, and each record's
version current as known at a time, with the review cases' dispute flags applied.

Streams: a batch of rows at a time from the database cursor, so exporting a large store
does not hold it in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pyarrow as pa
from sqlalchemy import Connection, select

from trustledger.batch.layout import RECORD_SCHEMA, SUBJECT_SCHEMA
from trustledger.store.cases import disputes_as_of
from trustledger.store.records import _current
from trustledger.store.records import _v as versions
from trustledger.store.tables import subjects

__all__ = ["record_batches", "subject_batches"]


def subject_batches(conn: Connection, *, size: int = 100_000) -> Iterator[pa.RecordBatch]:
    """``subject_id, kind`` of every subject that is neither erased nor merged into
    another, in id order (the subjects a per-subject run scores)."""
    query = (
        select(subjects.c.id, subjects.c.kind)
        .where(subjects.c.erased_at.is_(None), subjects.c.merged_into.is_(None))
        .order_by(subjects.c.id)
    )
    result = conn.execution_options(yield_per=size).execute(query)
    for part in result.partitions():
        ids, kinds = zip(*part, strict=True) if part else ((), ())
        yield pa.RecordBatch.from_arrays(
            [pa.array(ids, pa.int64()), pa.array(kinds, pa.string())], schema=SUBJECT_SCHEMA
        )


def record_batches(
    conn: Connection, *, known_at: datetime, size: int = 100_000
) -> Iterator[pa.RecordBatch]:
    """Each record's version current as known at ``known_at`` (retractions and expiries
    included: the engines say why they do not count), with ``disputed``,
    ``review_overdue`` and ``dispute_settled`` as the review cases stood then."""
    disputes = disputes_as_of(conn, known_at)
    query = _current(with_reference=False).order_by(versions.c.subject_id, versions.c.record_id)
    result = conn.execution_options(yield_per=size).execute(query, {"known_at": known_at})
    for part in result.partitions():
        cols: list[list[object]] = [[] for _ in RECORD_SCHEMA.names]
        for row in part:
            record_id = row[0]
            dispute = disputes.get(record_id)
            values = (
                row[2],  # subject_id
                record_id,
                row[1],  # version
                row[3],  # record_type
                row[4],  # provider
                row[5],  # valid_from
                row[8],  # valid_to
                row[11],  # repaired_on
                row[7],  # action
                dispute is not None,
                dispute is not None and dispute.overdue,
                dispute is not None and dispute.settled,
            )
            for col, value in zip(cols, values, strict=True):
                col.append(value)
        yield pa.RecordBatch.from_arrays(
            [pa.array(c, f.type) for c, f in zip(cols, RECORD_SCHEMA, strict=True)],
            schema=RECORD_SCHEMA,
        )
