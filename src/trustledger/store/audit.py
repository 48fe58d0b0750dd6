"""SQL of the audit log: events, Merkle nodes, the locked tree state, the pinned key.

Rows of ``audit_events`` and ``audit_nodes`` are only ever inserted. ``audit_state`` is
one row, locked by every append (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's
``BEGIN IMMEDIATE`` already serialises writers).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, bindparam, func, insert, select, update

from trustledger.store.tables import api_keys, audit_events, audit_keys, audit_nodes, audit_state

__all__ = [
    "StoredEvent",
    "event",
    "events_about",
    "insert_events",
    "insert_nodes",
    "iter_events",
    "iter_nodes",
    "last_event",
    "lock_state",
    "node",
    "pin_key",
    "pinned_keys",
    "read_state",
    "update_state",
]


@dataclass(frozen=True, slots=True)
class StoredEvent:
    seq: int
    at: datetime
    request_id: str
    key_id: str | None
    role: str
    purpose: str | None
    action: str
    subject_id: int | None
    detail: str
    root: bytes
    signed_at_ms: int
    signature: bytes


def _event(row: object) -> StoredEvent:
    r = row._mapping  # type: ignore[attr-defined]
    return StoredEvent(
        seq=r["seq"],
        at=r["at"],
        request_id=r["request_id"],
        key_id=r["key_id"],
        role=r["role"],
        purpose=r["purpose"],
        action=r["action"],
        subject_id=r["subject_id"],
        detail=r["detail"],
        root=bytes(r["root"]),
        signed_at_ms=r["signed_at_ms"],
        signature=bytes(r["signature"]),
    )


# Statements of every append, built once.
_STATE = select(audit_state.c.size, audit_state.c.frontier).where(audit_state.c.id == 1)
_LOCK_STATE = (
    select(audit_state.c.size, audit_state.c.frontier, audit_state.c.signed_at_ms)
    .where(audit_state.c.id == 1)
    .with_for_update()
)
_UPDATE_STATE = update(audit_state).where(audit_state.c.id == 1)
_INSERT_EVENT = insert(audit_events)
_INSERT_NODE = insert(audit_nodes)
_NODE = select(audit_nodes.c.hash).where(
    audit_nodes.c.level == bindparam("level"), audit_nodes.c.idx == bindparam("idx")
)


def lock_state(conn: Connection) -> tuple[int, bytes, int]:
    """The tree's size, frontier and newest head's signing time (ms), locked until the
    transaction ends."""
    row = conn.execute(_LOCK_STATE).one()
    return int(row.size), bytes(row.frontier), int(row.signed_at_ms)


def read_state(conn: Connection) -> tuple[int, bytes]:
    row = conn.execute(_STATE).one()
    return int(row.size), bytes(row.frontier)


def update_state(conn: Connection, size: int, frontier: bytes, signed_at_ms: int) -> None:
    conn.execute(_UPDATE_STATE, {"size": size, "frontier": frontier, "signed_at_ms": signed_at_ms})


def insert_events(conn: Connection, events: Sequence[StoredEvent]) -> None:
    if events:
        conn.execute(
            _INSERT_EVENT,
            [
                {
                    "seq": e.seq,
                    "at": e.at,
                    "request_id": e.request_id,
                    "key_id": e.key_id,
                    "role": e.role,
                    "purpose": e.purpose,
                    "action": e.action,
                    "subject_id": e.subject_id,
                    "detail": e.detail,
                    "root": e.root,
                    "signed_at_ms": e.signed_at_ms,
                    "signature": e.signature,
                }
                for e in events
            ],
        )


def insert_nodes(conn: Connection, nodes: Sequence[tuple[int, int, bytes, int]]) -> None:
    """Insert ``(level, idx, hash, seq)`` rows."""
    if nodes:
        conn.execute(
            _INSERT_NODE,
            [{"level": lv, "idx": ix, "hash": h, "seq": s} for lv, ix, h, s in nodes],
        )


def node(conn: Connection, level: int, idx: int) -> bytes:
    value = conn.execute(_NODE, {"level": level, "idx": idx}).scalar_one()
    return bytes(value)


def event(conn: Connection, seq: int) -> StoredEvent | None:
    row = conn.execute(select(audit_events).where(audit_events.c.seq == seq)).first()
    return None if row is None else _event(row)


def last_event(conn: Connection) -> StoredEvent | None:
    row = conn.execute(select(audit_events).order_by(audit_events.c.seq.desc()).limit(1)).first()
    return None if row is None else _event(row)


def iter_events(conn: Connection, *, chunk: int = 5000) -> Iterator[StoredEvent]:
    """Every event in ``seq`` order, read in pages so memory stays flat."""
    after = -1
    while True:
        rows = conn.execute(
            select(audit_events)
            .where(audit_events.c.seq > after)
            .order_by(audit_events.c.seq)
            .limit(chunk)
        ).all()
        if not rows:
            return
        for row in rows:
            yield _event(row)
        after = rows[-1].seq


def iter_nodes(conn: Connection, *, chunk: int = 10000) -> Iterator[tuple[int, int, int, bytes]]:
    """Every stored node as ``(seq, level, idx, hash)``, in the order appends made them."""
    last: tuple[int, int] = (-1, -1)
    while True:
        seq, level = last
        rows = conn.execute(
            select(audit_nodes.c.seq, audit_nodes.c.level, audit_nodes.c.idx, audit_nodes.c.hash)
            .where(
                (audit_nodes.c.seq > seq)
                | ((audit_nodes.c.seq == seq) & (audit_nodes.c.level > level))
            )
            .order_by(audit_nodes.c.seq, audit_nodes.c.level)
            .limit(chunk)
        ).all()
        if not rows:
            return
        for r in rows:
            yield int(r.seq), int(r.level), int(r.idx), bytes(r.hash)
        last = (int(rows[-1].seq), int(rows[-1].level))


def pinned_keys(conn: Connection) -> dict[str, bytes]:
    return {
        r.fingerprint: bytes(r.public_key)
        for r in conn.execute(select(audit_keys.c.fingerprint, audit_keys.c.public_key))
    }


def pin_key(conn: Connection, fingerprint: str, public_key: bytes, *, now: datetime) -> None:
    conn.execute(
        insert(audit_keys).values(fingerprint=fingerprint, public_key=public_key, created_at=now)
    )


def events_about(
    conn: Connection, subject_id: int, *, offset: int, limit: int, others_only: bool = False
) -> tuple[int, list[tuple[StoredEvent, str | None]]]:
    """A page of the events about a subject, newest first, each with the label of the key
    that caused it (None for the command line or no key); and how many there are. With
    ``others_only``, the subject's own reads and writes are left out."""
    where = audit_events.c.subject_id == subject_id
    if others_only:
        where = and_(where, audit_events.c.role != "subject")
    total = conn.execute(select(func.count()).select_from(audit_events).where(where)).scalar_one()
    rows = conn.execute(
        select(audit_events, api_keys.c.label)
        .outerjoin(api_keys, api_keys.c.key_id == audit_events.c.key_id)
        .where(where)
        .order_by(audit_events.c.seq.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return int(total), [(_event(r), r.label) for r in rows]
