"""The notification outbox and its webhook delivery (``docs/webhooks.md``).

When something a principal must hear of happens (a decision it received was made again
after a record it rested on was corrected or retracted; a provider is asked for evidence;
a case is decided), :func:`enqueue` stores a notification *in the transaction that caused
it*: it is told exactly when the change is committed, never about a change that rolled
back.

A notification to a key with a webhook is ``pending`` and :func:`deliver_due` POSTs it,
signed the Standard Webhooks way, until the receiver answers 2xx (``delivered``) or the
retries run out (``failed``). A notification to a key without a webhook is ``none``. Every
notification, whatever its status, is readable by its recipient through the API
(``GET /v1/notifications?after=ID``, :func:`for_recipient`).

Delivery is at least once: a receiver may see the same ``webhook-id`` twice (a worker that
died after the POST but before recording it) and should ignore the second.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import httpx2
from sqlalchemy import Connection, Engine
from standardwebhooks import Webhook

from trustledger import __version__
from trustledger.store import keys as key_store
from trustledger.store import notifications as store
from trustledger.store.notifications import (
    Due,
    StoredNotification,
    SubjectNotification,
)

__all__ = [
    "KINDS",
    "MAX_ATTEMPTS",
    "RETRY_DELAYS",
    "DeliveryReport",
    "about_subject",
    "deliver_due",
    "enqueue",
    "erase_subject",
    "for_recipient",
    "next_attempt_at",
    "signature_headers",
    "webhook_body",
    "webhook_message",
]

log = logging.getLogger(__name__)

#: A decision the recipient received was made again, after a record it rested on was
#: corrected or retracted. ``data`` holds the new decision.
DECISION_SUPERSEDED: Final = "decision.superseded"
#: A provider is asked for evidence about one of its records in a review case.
EVIDENCE_REQUESTED: Final = "evidence.requested"
#: A review case the recipient is party to was decided.
CASE_DECIDED: Final = "case.decided"

#: The kinds trustledger sends, and what each means. ``kind`` is a free string: a
#: receiver should ignore kinds it does not know.
KINDS: Final[dict[str, str]] = {
    DECISION_SUPERSEDED: "A decision you received was made again after a record it rested "
    "on was corrected or retracted; data holds the new decision.",
    EVIDENCE_REQUESTED: "A review case asks you, the provider, for evidence about a record.",
    CASE_DECIDED: "A review case you are party to was decided.",
}

#: How long after the n-th failed attempt the next one is made. After the last of these
#: the attempt that follows is the last one: if it fails too, the notification is failed.
RETRY_DELAYS: Final[tuple[timedelta, ...]] = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(hours=24),
)
#: Attempts in all: the first and one after each delay.
MAX_ATTEMPTS: Final = len(RETRY_DELAYS) + 1
#: How long a claimed notification is left alone by other workers, beyond the time its
#: batch's HTTP calls may take (``timeout`` each).
LEASE: Final = timedelta(seconds=60)
#: The longest error text stored in ``last_error``.
MAX_ERROR: Final = 200


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """What one :func:`deliver_due` did: notifications delivered, to be tried again, given
    up, and found without a webhook (removed since they were stored; now ``none``)."""

    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    without_webhook: int = 0


def enqueue(
    conn: Connection,
    *,
    key_id: str,
    subject_id: int | None,
    kind: str,
    payload: dict[str, Any],
    now: datetime,
) -> str:
    """Store a notification to ``key_id`` in the caller's transaction; its id.

    It is ``pending`` (first tried at ``now``) when the key has a webhook, else ``none``:
    readable through the API only (an unknown key has no webhook). Whether the key is
    revoked is checked when the notification is due: a revoked key is sent nothing.
    """
    id = f"ntf_{uuid.uuid4().hex}"
    key = key_store.find_key(conn, key_id)
    has_webhook = key is not None and key.webhook_url is not None
    store.insert_notification(
        conn,
        id=id,
        key_id=key_id,
        subject_id=subject_id,
        kind=kind,
        payload=payload,
        now=now,
        status=store.PENDING if has_webhook else store.NONE,
    )
    return id


def next_attempt_at(attempts: int, now: datetime) -> datetime | None:
    """When to try again after the ``attempts``-th attempt failed at ``now``; None when
    that was the last one.

    >>> from datetime import UTC, datetime
    >>> t = datetime(2026, 1, 1, tzinfo=UTC)
    >>> next_attempt_at(1, t).isoformat(), next_attempt_at(6, t).isoformat()
    ('2026-01-01T00:00:30+00:00', '2026-01-02T00:00:00+00:00')
    >>> next_attempt_at(7, t) is None
    True
    """
    if attempts < 1:
        raise ValueError("attempts counts from 1")
    if attempts > len(RETRY_DELAYS):
        return None
    return now + RETRY_DELAYS[attempts - 1]


def webhook_message(notification: StoredNotification) -> dict[str, Any]:
    """The JSON object a notification is sent as, by webhook and through the API."""
    return {
        "id": notification.id,
        "kind": notification.kind,
        "created_at": notification.created_at.isoformat(),
        "subject": notification.subject_id,
        "data": notification.payload,
    }


def webhook_body(notification: StoredNotification) -> bytes:
    """The exact bytes POSTed (and signed): :func:`webhook_message` as compact UTF-8 JSON."""
    return json.dumps(
        webhook_message(notification), ensure_ascii=False, separators=(",", ":")
    ).encode()


def signature_headers(secret: str, msg_id: str, body: bytes, *, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers for ``body`` sent as message ``msg_id`` at ``at``.

    A receiver checks them with ``standardwebhooks.Webhook(secret).verify(body, headers)``,
    which also refuses a timestamp more than five minutes from its own clock.
    """
    at = at.astimezone(UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body.decode()),
    }


def _wall_clock() -> datetime:
    return datetime.now(UTC)


def deliver_due(
    engine: Engine,
    *,
    now: datetime,
    client: httpx2.Client | None = None,
    limit: int = 100,
    timeout: float = 10.0,
    clock: Callable[[], datetime] | None = None,
) -> DeliveryReport:
    """POST up to ``limit`` due notifications to their webhooks; record each outcome.

    ``now`` decides what is due and when failed ones are tried again (``RETRY_DELAYS``).
    The signature's ``webhook-timestamp`` is the time the request is really sent (``clock``,
    the wall clock unless given): receivers refuse one more than five minutes off theirs.

    The notifications are claimed in one short transaction (``FOR UPDATE SKIP LOCKED`` on
    PostgreSQL, and a lease that moves their next attempt past this batch), so that two
    workers never send the same one; the HTTP calls happen outside any transaction; each
    outcome is recorded in a transaction of its own. Without ``client`` one is made with
    ``timeout`` seconds per request (and closed); a given client keeps its own settings,
    but the lease still assumes ``timeout`` seconds at most per request.
    Redirects are not followed: a 3xx answer is a failed attempt.
    """
    if limit < 1:
        return DeliveryReport()
    clock = clock or _wall_clock
    with engine.begin() as conn:
        batch = store.due(conn, now=now, limit=limit)
        store.lease(
            conn,
            [d.notification.id for d in batch],
            until=now + LEASE + timedelta(seconds=timeout * len(batch)),
        )
    if not batch:
        return DeliveryReport()
    own_client = client is None
    http = client if client is not None else httpx2.Client(timeout=timeout)
    counts = {"delivered": 0, "retrying": 0, "failed": 0, "without_webhook": 0}
    try:
        for item in batch:
            counts[_deliver_one(engine, http, item, now=now, clock=clock)] += 1
    finally:
        if own_client:
            http.close()
    return DeliveryReport(**counts)


def _deliver_one(
    engine: Engine,
    http: httpx2.Client,
    item: Due,
    *,
    now: datetime,
    clock: Callable[[], datetime],
) -> str:
    n = item.notification
    if item.revoked:
        with engine.begin() as conn:
            store.mark_attempt_failed(
                conn,
                n.id,
                attempts=n.attempts,
                next_attempt_at=None,
                error="not sent: the recipient's key was revoked",
                final=True,
            )
        return "failed"
    if item.webhook_url is None or item.webhook_secret is None:
        with engine.begin() as conn:
            store.mark_unaddressed(conn, n.id)
        return "without_webhook"
    attempts = n.attempts + 1
    error = _post(http, item.webhook_url, item.webhook_secret, n, clock=clock)
    with engine.begin() as conn:
        if error is None:
            store.mark_delivered(conn, n.id, now=now, attempts=attempts)
            return "delivered"
        retry_at = next_attempt_at(attempts, now)
        store.mark_attempt_failed(
            conn,
            n.id,
            attempts=attempts,
            next_attempt_at=retry_at,
            error=error,
            final=retry_at is None,
        )
    log.info("notification %s, attempt %d: %s", n.id, attempts, error)
    return "retrying" if retry_at is not None else "failed"


def _post(
    http: httpx2.Client,
    url: str,
    secret: str,
    notification: StoredNotification,
    *,
    clock: Callable[[], datetime],
) -> str | None:
    """POST one notification; None when the receiver took it (2xx), else what went wrong."""
    body = webhook_body(notification)
    headers = {
        "content-type": "application/json",
        "user-agent": f"trustledger/{__version__}",
        **signature_headers(secret, notification.id, body, at=clock()),
    }
    try:
        response = http.post(url, content=body, headers=headers)
    except Exception as exc:  # any failure to deliver is a failed attempt, tried again
        return _short(f"{type(exc).__name__}: {exc}", secret)
    if 200 <= response.status_code < 300:
        return None
    return _short(f"HTTP {response.status_code} {response.reason_phrase}".rstrip(), secret)


def _short(text: str, secret: str) -> str:
    """``text`` cut to :data:`MAX_ERROR` characters, with no trace of the secret."""
    bare = secret.removeprefix("whsec_")
    for s in (secret, bare):
        text = text.replace(s, "[secret]")
    text = " ".join(text.split())
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 3] + "..."


def for_recipient(
    conn: Connection, key_id: str, *, after: str | None = None, limit: int = 100
) -> list[StoredNotification]:
    """The notifications to ``key_id`` after the one with id ``after``, oldest first (see
    :func:`trustledger.store.notifications.for_recipient`)."""
    return store.for_recipient(conn, key_id, after=after, limit=limit)


def about_subject(
    conn: Connection, subject_id: int, *, offset: int = 0, limit: int = 50
) -> tuple[int, list[SubjectNotification]]:
    """What was told to whom about a subject, newest first, and how much there is."""
    return store.about_subject(conn, subject_id, offset=offset, limit=limit)


def erase_subject(conn: Connection, subject_id: int) -> int:
    """Erase what the notifications about a subject said (the subject's data is erased):
    their payloads become ``{"erased": true}`` and those not yet delivered are never sent.
    How many notifications there were."""
    return store.erase_subject(conn, subject_id)
