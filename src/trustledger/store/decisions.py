"""SQL of decisions and of HTTP batches (by idempotency key)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from trustledger.store.tables import api_batches, api_keys, decision_records, decisions

__all__ = [
    "StoredBatch",
    "StoredDecision",
    "decisions_about",
    "erase_subject_decisions",
    "resting_on",
    "supersede",
    "find_batch",
    "get_decision",
    "insert_batch",
    "insert_decision",
]


@dataclass(frozen=True, slots=True)
class StoredDecision:
    id: str
    subject_id: int
    key_id: str
    body: dict[str, Any]
    #: The decision made again after a record this one rested on changed, if any.
    superseded_by: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {**self.body, "superseded_by": self.superseded_by}


_STORED = (
    decisions.c.id,
    decisions.c.subject_id,
    decisions.c.key_id,
    decisions.c.body,
    decisions.c.superseded_by,
)
# Statements the service runs on every request are built once.
_INSERT_DECISION = insert(decisions)


def _decision(row: Any) -> StoredDecision:
    return StoredDecision(
        row.id, row.subject_id, row.key_id, json.loads(row.body), row.superseded_by
    )


def insert_decision(
    conn: Connection,
    *,
    id: str,
    made_at: datetime,
    as_of: date,
    subject_id: int,
    measure: str,
    purpose: str,
    outcome: str,
    measure_score_cents: int,
    measure_grade: str,
    body: dict[str, Any],
    record_versions: list[tuple[int, int]],
    policy_version_id: int,
    key_id: str,
    request_id: str,
    rests_on: list[tuple[int, int]] | None = None,
) -> None:
    """Store a decision; ``rests_on`` (default ``record_versions``) are the records whose
    change makes it again."""
    conn.execute(
        _INSERT_DECISION,
        {
            "id": id,
            "made_at": made_at,
            "as_of": as_of,
            "subject_id": subject_id,
            "measure": measure,
            "purpose": purpose,
            "outcome": outcome,
            "measure_score_cents": measure_score_cents,
            "measure_grade": measure_grade,
            "body": json.dumps(body, ensure_ascii=False),
            "record_versions": json.dumps([list(v) for v in record_versions]),
            "policy_version_id": policy_version_id,
            "key_id": key_id,
            "request_id": request_id,
        },
    )
    basis = dict(record_versions if rests_on is None else rests_on)
    if basis:
        conn.execute(
            insert(decision_records),
            [
                {"decision_id": id, "record_id": rid, "record_version": ver}
                for rid, ver in basis.items()
            ],
        )


@dataclass(frozen=True, slots=True)
class Resting:
    """A decision not yet made again that rests on one of the records asked about."""

    id: str
    key_id: str
    measure: str
    purpose: str
    subject_id: int
    made_at: datetime


def resting_on(conn: Connection, record_ids: list[int]) -> list[Resting]:
    """The current decisions (not superseded) resting on any of these records, oldest first."""
    if not record_ids:
        return []
    d = decisions
    rows = conn.execute(
        select(d.c.id, d.c.key_id, d.c.measure, d.c.purpose, d.c.subject_id, d.c.made_at)
        .distinct()
        .join(decision_records, decision_records.c.decision_id == d.c.id)
        .where(decision_records.c.record_id.in_(record_ids), d.c.superseded_by.is_(None))
        .order_by(d.c.made_at, d.c.id)
    )
    return [Resting(*r) for r in rows]


def supersede(conn: Connection, ids: list[str], new_id: str) -> None:
    conn.execute(update(decisions).where(decisions.c.id.in_(ids)).values(superseded_by=new_id))


def erase_subject_decisions(conn: Connection, subject_id: int) -> int:
    """Erasure: the decisions about a subject (their reasons describe its records) go."""
    ids = select(decisions.c.id).where(decisions.c.subject_id == subject_id)
    conn.execute(delete(decision_records).where(decision_records.c.decision_id.in_(ids)))
    return int(conn.execute(delete(decisions).where(decisions.c.subject_id == subject_id)).rowcount)


def get_decision(conn: Connection, decision_id: str) -> StoredDecision | None:
    row = conn.execute(select(*_STORED).where(decisions.c.id == decision_id)).first()
    if row is None:
        return None
    return _decision(row)


def decisions_about(
    conn: Connection, subject_id: int, *, offset: int, limit: int
) -> tuple[int, list[tuple[StoredDecision, str | None]]]:
    """A page of the decisions about a subject, newest first, each with the label of the
    key that asked; and how many there are."""
    where = decisions.c.subject_id == subject_id
    total = conn.execute(select(func.count()).select_from(decisions).where(where)).scalar_one()
    rows = conn.execute(
        select(*_STORED, api_keys.c.label)
        .outerjoin(api_keys, api_keys.c.key_id == decisions.c.key_id)
        .where(where)
        .order_by(decisions.c.made_at.desc(), decisions.c.id)
        .offset(offset)
        .limit(limit)
    ).all()
    return int(total), [(_decision(r), r.label) for r in rows]


@dataclass(frozen=True, slots=True)
class StoredBatch:
    body_sha256: str
    response: dict[str, Any]
    received_at: datetime


def find_batch(conn: Connection, provider: str, idempotency_key: str) -> StoredBatch | None:
    row = conn.execute(
        select(api_batches.c.body_sha256, api_batches.c.response, api_batches.c.received_at).where(
            api_batches.c.provider == provider,
            api_batches.c.idempotency_key == idempotency_key,
        )
    ).first()
    if row is None:
        return None
    return StoredBatch(row.body_sha256, json.loads(row.response), row.received_at)


def insert_batch(
    conn: Connection,
    *,
    provider: str,
    idempotency_key: str,
    body_sha256: str,
    response: dict[str, Any],
    key_id: str,
    now: datetime,
) -> None:
    conn.execute(
        insert(api_batches).values(
            provider=provider,
            idempotency_key=idempotency_key,
            body_sha256=body_sha256,
            response=json.dumps(response, ensure_ascii=False),
            key_id=key_id,
            received_at=now,
        )
    )
