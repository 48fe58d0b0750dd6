"""SQL of the notification outbox (see ``service/outbox.py`` and ``docs/webhooks.md``).

A notification is inserted in the transaction that caused it; delivery reads the due
ones, claims them (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, then a lease that pushes
``next_attempt_at`` forward), and records each outcome in a short transaction of its own.

Statuses: ``pending`` (a webhook will be tried at ``next_attempt_at``), ``delivered``,
``failed`` (retries exhausted, or the recipient's key was revoked) and ``none`` (the
recipient has no webhook: the notification is only readable through the API).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, insert, or_, select, update

from trustledger.errors import FieldError
from trustledger.store.tables import api_keys, notifications

__all__ = [
    "Due",
    "StoredNotification",
    "SubjectNotification",
    "about_subject",
    "count_by_status",
    "due",
    "erase_subject",
    "for_recipient",
    "get_notification",
    "insert_notification",
    "lease",
    "mark_attempt_failed",
    "mark_delivered",
    "mark_unaddressed",
]

PENDING = "pending"
DELIVERED = "delivered"
FAILED = "failed"
NONE = "none"
STATUSES = (PENDING, DELIVERED, FAILED, NONE)


@dataclass(frozen=True, slots=True)
class StoredNotification:
    """A row of ``notifications``, its payload parsed from JSON."""

    id: str
    key_id: str
    subject_id: int | None
    kind: str
    created_at: datetime
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_error: str | None


@dataclass(frozen=True, slots=True)
class Due:
    """A pending notification whose time has come, with where (and how) to send it.

    ``webhook_url`` is None when the key's webhook was removed after the notification was
    stored; ``revoked`` is true when the recipient's key has been revoked since (or the
    key is unknown).
    """

    notification: StoredNotification
    webhook_url: str | None
    webhook_secret: str | None
    revoked: bool


@dataclass(frozen=True, slots=True)
class SubjectNotification:
    """What was told to whom about a subject: a notification and its recipient key's label
    and role (None when the key is unknown)."""

    notification: StoredNotification
    recipient_label: str | None
    recipient_role: str | None


_COLUMNS = tuple(notifications.c)
_INSERT = insert(notifications)
_GET = select(*_COLUMNS).where(notifications.c.id == bindparam("id"))


def _notification(row: Any) -> StoredNotification:
    r = row._mapping
    return StoredNotification(
        id=r["id"],
        key_id=r["key_id"],
        subject_id=None if r["subject_id"] is None else int(r["subject_id"]),
        kind=r["kind"],
        created_at=r["created_at"],
        payload=json.loads(r["payload"]),
        status=r["status"],
        attempts=int(r["attempts"]),
        next_attempt_at=r["next_attempt_at"],
        delivered_at=r["delivered_at"],
        last_error=r["last_error"],
    )


def insert_notification(
    conn: Connection,
    *,
    id: str,
    key_id: str,
    subject_id: int | None,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
    status: str,
) -> None:
    """Store a notification; a ``pending`` one is first tried at ``now``."""
    if status not in STATUSES:
        raise ValueError(f"unknown notification status {status!r}")
    conn.execute(
        _INSERT,
        {
            "id": id,
            "key_id": key_id,
            "subject_id": subject_id,
            "kind": kind,
            "created_at": now,
            "payload": json.dumps(payload, ensure_ascii=False),
            "status": status,
            "attempts": 0,
            "next_attempt_at": now if status == PENDING else None,
            "delivered_at": None,
            "last_error": None,
        },
    )


def get_notification(conn: Connection, id: str) -> StoredNotification | None:
    row = conn.execute(_GET, {"id": id}).first()
    return None if row is None else _notification(row)


def due(conn: Connection, *, now: datetime, limit: int) -> list[Due]:
    """Pending notifications with ``next_attempt_at <= now``, oldest first, joined with
    the recipient's key.

    On PostgreSQL the rows are locked ``FOR UPDATE SKIP LOCKED`` (only the notifications,
    not the keys): call this in a transaction that also :func:`lease`\\ s them, so that a
    second worker neither waits for them nor delivers them too.
    """
    query = (
        select(
            *_COLUMNS,
            api_keys.c.webhook_url,
            api_keys.c.webhook_secret,
            api_keys.c.revoked_at,
            api_keys.c.key_id.label("known_key"),
        )
        .select_from(notifications.outerjoin(api_keys, api_keys.c.key_id == notifications.c.key_id))
        .where(notifications.c.status == PENDING, notifications.c.next_attempt_at <= now)
        .order_by(notifications.c.created_at, notifications.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=notifications)
    return [
        Due(
            notification=_notification(row),
            webhook_url=row.webhook_url,
            webhook_secret=row.webhook_secret,
            revoked=row.known_key is None or row.revoked_at is not None,
        )
        for row in conn.execute(query)
    ]


def lease(conn: Connection, ids: list[str], *, until: datetime) -> None:
    """Push the next attempt of the claimed ``ids`` to ``until``: if the worker dies in
    the middle of a delivery, another one tries again then."""
    if ids:
        conn.execute(
            update(notifications)
            .where(notifications.c.id.in_(ids), notifications.c.status == PENDING)
            .values(next_attempt_at=until)
        )


def mark_delivered(conn: Connection, id: str, *, now: datetime, attempts: int) -> None:
    conn.execute(
        update(notifications)
        .where(notifications.c.id == id, notifications.c.status == PENDING)
        .values(
            status=DELIVERED,
            attempts=attempts,
            delivered_at=now,
            next_attempt_at=None,
            last_error=None,
        )
    )


def mark_attempt_failed(
    conn: Connection,
    id: str,
    *,
    attempts: int,
    next_attempt_at: datetime | None,
    error: str,
    final: bool,
) -> None:
    """Record a failed attempt: tried again at ``next_attempt_at``, or, when ``final``,
    given up (status ``failed``)."""
    if not final and next_attempt_at is None:
        raise ValueError("a failed attempt that is not final needs next_attempt_at")
    conn.execute(
        update(notifications)
        .where(notifications.c.id == id, notifications.c.status == PENDING)
        .values(
            status=FAILED if final else PENDING,
            attempts=attempts,
            next_attempt_at=None if final else next_attempt_at,
            last_error=error,
        )
    )


def mark_unaddressed(conn: Connection, id: str) -> None:
    """A pending notification whose recipient no longer has a webhook: readable through
    the API only (status ``none``)."""
    conn.execute(
        update(notifications)
        .where(notifications.c.id == id, notifications.c.status == PENDING)
        .values(status=NONE, next_attempt_at=None)
    )


def for_recipient(
    conn: Connection, key_id: str, *, after: str | None, limit: int
) -> list[StoredNotification]:
    """The notifications to ``key_id`` in the order they were made (``created_at``, then
    id), after the one with id ``after`` (a cursor: the last id the reader has seen).

    An ``after`` that is not one of this key's notifications is refused (:class:`FieldError`
    naming ``after``) rather than answered with an empty page.
    """
    where = notifications.c.key_id == key_id
    query = select(*_COLUMNS).where(where)
    if after is not None:
        seen = conn.execute(
            select(notifications.c.created_at).where(where, notifications.c.id == after)
        ).scalar_one_or_none()
        if seen is None:
            raise FieldError("after", f"no notification {after!r} for this key")
        query = query.where(
            or_(
                notifications.c.created_at > seen,
                and_(notifications.c.created_at == seen, notifications.c.id > after),
            )
        )
    rows = conn.execute(
        query.order_by(notifications.c.created_at, notifications.c.id).limit(limit)
    ).all()
    return [_notification(r) for r in rows]


def about_subject(
    conn: Connection, subject_id: int, *, offset: int, limit: int
) -> tuple[int, list[SubjectNotification]]:
    """A page of what was told to whom about a subject, newest first, and how many
    notifications there are."""
    where = notifications.c.subject_id == subject_id
    total = conn.execute(select(func.count()).select_from(notifications).where(where)).scalar_one()
    rows = conn.execute(
        select(*_COLUMNS, api_keys.c.label, api_keys.c.role)
        .select_from(notifications.outerjoin(api_keys, api_keys.c.key_id == notifications.c.key_id))
        .where(where)
        .order_by(notifications.c.created_at.desc(), notifications.c.id)
        .offset(offset)
        .limit(limit)
    ).all()
    return int(total), [SubjectNotification(_notification(r), r.label, r.role) for r in rows]


def count_by_status(conn: Connection) -> dict[str, int]:
    """How many notifications are in each status (only statuses that occur)."""
    rows = conn.execute(
        select(notifications.c.status, func.count()).group_by(notifications.c.status)
    ).all()
    return {str(status): int(n) for status, n in rows}


#: What an erased notification's payload becomes.
ERASED_PAYLOAD = json.dumps({"erased": True})
#: The error a pending notification is given up with when its subject is erased.
ERASED_ERROR = "not sent: the subject's data was erased"


def erase_subject(conn: Connection, subject_id: int) -> int:
    """Erase the contents of every notification about a subject; how many there were.

    The rows stay (who was told what kind of thing, and when: ids only), their payloads
    become ``{"erased": true}``; one not yet delivered is never sent (status ``failed``).
    """
    where = notifications.c.subject_id == subject_id
    conn.execute(
        update(notifications)
        .where(where, notifications.c.status == PENDING)
        .values(status=FAILED, next_attempt_at=None, last_error=ERASED_ERROR)
    )
    result = conn.execute(update(notifications).where(where).values(payload=ERASED_PAYLOAD))
    return int(result.rowcount)
