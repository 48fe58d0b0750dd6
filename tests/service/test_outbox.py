"""The notification outbox and its webhook delivery, on SQLite and PostgreSQL.

Fixture strategy: ``registry`` (a migrated database with the example policy, for making
keys) and a real HTTP receiver on 127.0.0.1 (:class:`Receiver`, a ``ThreadingHTTPServer``
in a thread) that verifies every request with ``standardwebhooks`` exactly as a relying
party would, and answers what the test tells it to. Nothing of the HTTP layer is mocked.
Retries are driven by explicit ``now`` values; nobody sleeps through a backoff. Expected
retry times are written out here, not read from the code under test.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import Engine, select
from standardwebhooks import Webhook, WebhookVerificationError

from trustledger.domain.principal import Role
from trustledger.errors import FieldError
from trustledger.service import outbox
from trustledger.service.keys import create_key, revoke_key, set_webhook
from trustledger.store import notifications as store
from trustledger.store.notifications import StoredNotification
from trustledger.store.tables import api_keys

MEASURES = ("restrict_air_travel",)
SUBJECT = 7


# --- a real receiver -----------------------------------------------------------------------


class Receiver:
    """A webhook receiver: verifies the signature with the secret it is given, counts what
    it took by ``webhook-id``, and answers the statuses queued in ``answers`` (200 once
    they run out)."""

    def __init__(self) -> None:
        self.secret: str | None = None
        self.answers: list[int] = []
        self.reason: str | None = None
        self.delay = 0.0
        self.accepted: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.requests = 0
        self.rejected = 0
        self.ids: Counter[str] = Counter()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                if receiver.delay:
                    time.sleep(receiver.delay)
                with receiver.lock:
                    receiver.requests += 1
                    try:
                        assert receiver.secret is not None
                        payload = Webhook(receiver.secret).verify(body, headers)
                    except WebhookVerificationError:
                        receiver.rejected += 1
                        status = 401
                    else:
                        status = receiver.answers.pop(0) if receiver.answers else 200
                        if 200 <= status < 300:
                            receiver.accepted.append(payload)
                            receiver.headers.append(headers)
                            receiver.ids[headers["webhook-id"]] += 1
                self.send_response(status, receiver.reason)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/trustledger"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    try:
        yield r
    finally:
        r.stop()


def closed_port_url() -> str:
    """A URL on a port nobody listens on: connection refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


# --- helpers -------------------------------------------------------------------------------


def relying_party(
    engine: Engine, now: datetime, receiver: Receiver | None = None, *, url: str | None = None
) -> str:
    """A relying-party key; with a webhook to ``receiver`` (which learns the secret) or to
    ``url``. Its key id."""
    made = create_key(
        engine,
        role=Role.RELYING_PARTY,
        measures=MEASURES,
        now=now,
        label="City Airlines",
        webhook_url=receiver.url if receiver is not None else url,
    )
    if receiver is not None:
        receiver.secret = made.webhook_secret
    assert made.principal.key_id is not None
    return made.principal.key_id


def enqueue(
    engine: Engine, key_id: str, now: datetime, *, n: int = 0, subject: int = SUBJECT
) -> str:
    with engine.begin() as conn:
        return outbox.enqueue(
            conn,
            key_id=key_id,
            subject_id=subject,
            kind="decision.superseded",
            payload={"decision": f"dec_{n}", "outcome": "not_restricted", "名": "é"},
            now=now,
        )


def stored(engine: Engine, id: str) -> StoredNotification:
    with engine.connect() as conn:
        found = store.get_notification(conn, id)
    assert found is not None
    return found


def secret_of(engine: Engine, key_id: str) -> str:
    """The key's webhook secret, as stored."""
    with engine.connect() as conn:
        secret = conn.execute(
            select(api_keys.c.webhook_secret).where(api_keys.c.key_id == key_id)
        ).scalar_one()
    assert isinstance(secret, str) and secret.startswith("whsec_")
    return secret


# --- delivery ------------------------------------------------------------------------------


def test_a_notification_is_delivered_once_signed_and_marked_delivered(
    registry: Engine, now: datetime, receiver: Receiver
) -> None:
    key_id = relying_party(registry, now, receiver)
    nid = enqueue(registry, key_id, now)
    assert nid.startswith("ntf_") and len(nid) == 4 + 32
    pending = stored(registry, nid)
    assert (pending.status, pending.attempts, pending.next_attempt_at) == ("pending", 0, now)

    report = outbox.deliver_due(registry, now=now)

    assert report == outbox.DeliveryReport(delivered=1, retrying=0, failed=0)
    assert receiver.requests == 1 and receiver.rejected == 0
    assert receiver.accepted == [
        {
            "id": nid,
            "kind": "decision.superseded",
            "created_at": now.isoformat(),
            "subject": SUBJECT,
            "data": {"decision": "dec_0", "outcome": "not_restricted", "名": "é"},
        }
    ]
    headers = receiver.headers[0]
    assert headers["webhook-id"] == nid
    assert headers["content-type"] == "application/json"
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
    assert headers["webhook-signature"].startswith("v1,")
    done = stored(registry, nid)
    assert (done.status, done.attempts, done.delivered_at) == ("delivered", 1, now)
    assert done.next_attempt_at is None and done.last_error is None

    # Nothing is due any more, now or much later.
    assert outbox.deliver_due(registry, now=now + timedelta(days=2)) == outbox.DeliveryReport()
    assert receiver.requests == 1


def test_a_notification_is_stored_only_with_its_transaction(
    registry: Engine, now: datetime, receiver: Receiver
) -> None:
    key_id = relying_party(registry, now, receiver)
    with pytest.raises(RuntimeError), registry.begin() as conn:
        outbox.enqueue(
            conn, key_id=key_id, subject_id=SUBJECT, kind="case.decided", payload={}, now=now
        )
        raise RuntimeError("the correction failed")
    assert outbox.deliver_due(registry, now=now) == outbox.DeliveryReport()
    with registry.connect() as conn:
        assert store.count_by_status(conn) == {}
    assert receiver.requests == 0


def test_a_500_is_retried_at_the_backoff_time_and_attempts_are_counted(
    registry: Engine, now: datetime, receiver: Receiver
) -> None:
    key_id = relying_party(registry, now, receiver)
    nid = enqueue(registry, key_id, now)
    receiver.answers = [500]

    assert outbox.deliver_due(registry, now=now) == outbox.DeliveryReport(retrying=1)
    first = stored(registry, nid)
    assert first.status == "pending" and first.attempts == 1
    assert first.next_attempt_at == now + timedelta(seconds=30)
    assert first.last_error is not None and "500" in first.last_error
    assert first.delivered_at is None

    # Not before its time...
    assert outbox.deliver_due(registry, now=now + timedelta(seconds=29)) == (
        outbox.DeliveryReport()
    )
    assert receiver.requests == 1
    # ...then again, and the receiver takes it.
    later = now + timedelta(seconds=30)
    assert outbox.deliver_due(registry, now=later) == outbox.DeliveryReport(delivered=1)
    done = stored(registry, nid)
    assert (done.status, done.attempts, done.delivered_at) == ("delivered", 2, later)
    assert done.last_error is None
    assert receiver.requests == 2 and receiver.ids == Counter({nid: 1})


def test_connection_refused_is_retried_with_an_error_text(registry: Engine, now: datetime) -> None:
    key_id = relying_party(registry, now, url=closed_port_url())
    nid = enqueue(registry, key_id, now)
    assert outbox.deliver_due(registry, now=now) == outbox.DeliveryReport(retrying=1)
    row = stored(registry, nid)
    assert row.status == "pending" and row.attempts == 1
    assert row.next_attempt_at == now + timedelta(seconds=30)
    assert row.last_error is not None and row.last_error.startswith("ConnectError")
    secret = secret_of(registry, key_id)
    assert secret not in row.last_error and secret.removeprefix("whsec_") not in row.last_error


def test_a_timeout_is_a_failed_attempt(registry: Engine, now: datetime, receiver: Receiver) -> None:
    key_id = relying_party(registry, now, receiver)
    nid = enqueue(registry, key_id, now)
    receiver.delay = 1.0
    report = outbox.deliver_due(registry, now=now, timeout=0.2)
    assert report == outbox.DeliveryReport(retrying=1)
    row = stored(registry, nid)
    assert row.last_error is not None and "Timeout" in row.last_error


def test_the_backoff_runs_30s_2m_10m_1h_6h_24h_then_the_notification_fails(
    registry: Engine, now: datetime
) -> None:
    key_id = relying_party(registry, now, url=closed_port_url())
    nid = enqueue(registry, key_id, now)
    expected = [
        timedelta(seconds=30),
        timedelta(minutes=2),
        timedelta(minutes=10),
        timedelta(hours=1),
        timedelta(hours=6),
        timedelta(hours=24),
    ]
    at = now
    for attempt, delay in enumerate(expected, start=1):
        # A second early, nothing happens.
        if attempt > 1:
            early = outbox.deliver_due(registry, now=at - timedelta(seconds=1))
            assert early == outbox.DeliveryReport()
        assert outbox.deliver_due(registry, now=at) == outbox.DeliveryReport(retrying=1)
        row = stored(registry, nid)
        assert (row.status, row.attempts) == ("pending", attempt)
        assert row.next_attempt_at == at + delay
        at = at + delay

    assert outbox.deliver_due(registry, now=at) == outbox.DeliveryReport(failed=1)
    row = stored(registry, nid)
    assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 7, None)
    assert row.last_error is not None and row.last_error.startswith("ConnectError")
    assert outbox.deliver_due(registry, now=at + timedelta(days=30)) == outbox.DeliveryReport()
    with registry.connect() as conn:
        assert store.count_by_status(conn) == {"failed": 1}


def test_the_secret_never_appears_in_the_error_even_when_the_receiver_echoes_it(
    registry: Engine, now: datetime, receiver: Receiver
) -> None:
    key_id = relying_party(registry, now, receiver)
    nid = enqueue(registry, key_id, now)
    assert receiver.secret is not None
    receiver.answers = [503]
    receiver.reason = f"bad {receiver.secret} and {receiver.secret.removeprefix('whsec_')}"
    outbox.deliver_due(registry, now=now)
    row = stored(registry, nid)
    assert row.last_error is not None and row.last_error.startswith("HTTP 503")
    assert "[secret]" in row.last_error
    assert receiver.secret.removeprefix("whsec_") not in row.last_error


def test_a_new_secret_is_used_at_once_and_the_old_one_no_longer_verifies(
    registry: Engine, now: datetime, receiver: Receiver
) -> None:
    key_id = relying_party(registry, now, receiver)
    old = receiver.secret
    new = set_webhook(registry, key_id, receiver.url)
    assert new is not None and new != old
    nid = enqueue(registry, key_id, now)

    # The receiver still has the old secret: it refuses, and the attempt counts as failed.
    assert outbox.deliver_due(registry, now=now) == outbox.DeliveryReport(retrying=1)
    assert receiver.rejected == 1
    row = stored(registry, nid)
    assert row.last_error is not None and "401" in row.last_error

    receiver.secret = new
    assert outbox.deliver_due(registry, now=now + timedelta(seconds=30)) == (
        outbox.DeliveryReport(delivered=1)
    )
    assert receiver.ids == Counter({nid: 1})


def test_a_key_without_a_webhook_is_never_posted_to_and_reads_its_notifications(
    registry: Engine, now: datetime, receiver: Receiver
) -> None:
    other = relying_party(registry, now, receiver)
    plain = relying_party(registry, now)
    ids = [enqueue(registry, plain, now + timedelta(seconds=i), n=i) for i in range(3)]
    theirs = enqueue(registry, other, now)
    assert {stored(registry, i).status for i in ids} == {"none"}
    assert stored(registry, ids[0]).next_attempt_at is None

    report = outbox.deliver_due(registry, now=now + timedelta(days=1))
    assert report == outbox.DeliveryReport(delivered=1)
    assert receiver.ids == Counter({theirs: 1})
    assert {stored(registry, i).status for i in ids} == {"none"}

    with registry.connect() as conn:
        everything = outbox.for_recipient(conn, plain)
        assert [n.id for n in everything] == ids
        assert [n.payload["decision"] for n in everything] == ["dec_0", "dec_1", "dec_2"]
        assert [n.id for n in outbox.for_recipient(conn, plain, after=ids[0])] == ids[1:]
        assert [n.id for n in outbox.for_recipient(conn, plain, after=ids[0], limit=1)] == [ids[1]]
        assert outbox.for_recipient(conn, plain, after=ids[2]) == []
        # Another key's notification is no cursor for this one.
        with pytest.raises(FieldError, match="after"):
            outbox.for_recipient(conn, plain, after=theirs)
        assert [n.id for n in outbox.for_recipient(conn, other)] == [theirs]
        assert store.count_by_status(conn) == {"none": 3, "delivered": 1}


def test_for_recipient_pages_through_notifications_made_at_the_same_time(
    registry: Engine, now: datetime
) -> None:
    plain = relying_party(registry, now)
    ids = {enqueue(registry, plain, now, n=i) for i in range(5)}
    seen: list[str] = []
    after: str | None = None
    with registry.connect() as conn:
        while page := outbox.for_recipient(conn, plain, after=after, limit=2):
            seen += [n.id for n in page]
            after = page[-1].id
    assert sorted(seen) == sorted(ids) and len(seen) == 5


def test_a_webhook_removed_or_a_key_revoked_after_enqueueing_is_not_posted_to(
    registry: Engine, now: datetime, receiver: Receiver
) -> None:
    removed = relying_party(registry, now, receiver)
    revoked = relying_party(registry, now, url=receiver.url)
    a = enqueue(registry, removed, now)
    b = enqueue(registry, revoked, now)
    assert set_webhook(registry, removed, None) is None
    revoke_key(registry, revoked, now=now)

    report = outbox.deliver_due(registry, now=now)
    assert report == outbox.DeliveryReport(failed=1, without_webhook=1)
    assert receiver.requests == 0
    assert stored(registry, a).status == "none"
    row = stored(registry, b)
    assert row.status == "failed" and row.last_error is not None and "revoked" in row.last_error


def test_about_subject_says_what_was_told_to_whom_newest_first(
    registry: Engine, now: datetime, receiver: Receiver
) -> None:
    airline = relying_party(registry, now, receiver)
    bank = create_key(
        registry,
        role=Role.PROVIDER,
        provider="intermediate_court",
        now=now,
        label="the court",
    ).principal.key_id
    assert bank is not None
    first = enqueue(registry, airline, now)
    with registry.begin() as conn:
        second = outbox.enqueue(
            conn,
            key_id=bank,
            subject_id=SUBJECT,
            kind="evidence.requested",
            payload={"case": "case_1"},
            now=now + timedelta(minutes=1),
        )
    enqueue(registry, airline, now, subject=SUBJECT + 1)
    with registry.connect() as conn:
        total, rows = outbox.about_subject(conn, SUBJECT)
        assert total == 2
        assert [(r.notification.id, r.recipient_label, r.recipient_role) for r in rows] == [
            (second, "the court", "provider"),
            (first, "City Airlines", "relying_party"),
        ]
        assert rows[0].notification.kind == "evidence.requested"
        assert rows[0].notification.payload == {"case": "case_1"}
        total, page = outbox.about_subject(conn, SUBJECT, offset=1, limit=5)
        assert total == 2 and [r.notification.id for r in page] == [first]


def test_erasing_a_subject_erases_what_its_notifications_said_and_sends_none(
    registry: Engine, now: datetime, receiver: Receiver
) -> None:
    airline = relying_party(registry, now, receiver)
    plain = relying_party(registry, now)
    pending = enqueue(registry, airline, now)
    unaddressed = enqueue(registry, plain, now)
    delivered = enqueue(registry, airline, now - timedelta(hours=1))
    other = enqueue(registry, airline, now, subject=SUBJECT + 1)
    with registry.begin() as conn:
        # Deliver only the older one first.
        store.lease(conn, [pending, other], until=now + timedelta(days=1))
    assert outbox.deliver_due(registry, now=now) == outbox.DeliveryReport(delivered=1)

    with registry.begin() as conn:
        assert outbox.erase_subject(conn, SUBJECT) == 3

    for nid, status in ((pending, "failed"), (unaddressed, "none"), (delivered, "delivered")):
        row = stored(registry, nid)
        assert (row.status, row.payload) == (status, {"erased": True}), nid
        assert row.subject_id == SUBJECT and row.kind == "decision.superseded"
    assert "erased" in (stored(registry, pending).last_error or "")
    assert stored(registry, other).payload["decision"] == "dec_0"
    assert outbox.deliver_due(registry, now=now + timedelta(days=2)) == (
        outbox.DeliveryReport(delivered=1)
    )
    assert receiver.ids == Counter({delivered: 1, other: 1})


def test_signature_headers_verify_with_standardwebhooks_and_break_on_any_change(
    now: datetime,
) -> None:
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    n = StoredNotification(
        id="ntf_1",
        key_id="k",
        subject_id=None,
        kind="case.decided",
        created_at=now,
        payload={"outcome": "corrected"},
        status="pending",
        attempts=0,
        next_attempt_at=now,
        delivered_at=None,
        last_error=None,
    )
    body = outbox.webhook_body(n)
    assert json.loads(body) == {
        "id": "ntf_1",
        "kind": "case.decided",
        "created_at": now.isoformat(),
        "subject": None,
        "data": {"outcome": "corrected"},
    }
    headers = outbox.signature_headers(secret, n.id, body, at=datetime.now(UTC))
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert Webhook(secret).verify(body, headers) == json.loads(body)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace(b"corrected", b"retracted"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body, {**headers, "webhook-id": "ntf_2"})
    stale = outbox.signature_headers(secret, n.id, body, at=datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(body, stale)


# --- two workers ---------------------------------------------------------------------------

N_CONCURRENT = 30


def test_two_workers_deliver_each_notification_exactly_once(
    registry: Engine, now: datetime, receiver: Receiver
) -> None:
    key_id = relying_party(registry, now, receiver)
    ids = [enqueue(registry, key_id, now, n=i) for i in range(N_CONCURRENT)]
    receiver.delay = 0.01  # long enough for the workers' batches to overlap
    start = threading.Barrier(2)
    reports: dict[str, list[outbox.DeliveryReport]] = {"a": [], "b": []}
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            start.wait(timeout=30)
            while True:
                report = outbox.deliver_due(registry, now=now, limit=4)
                if report == outbox.DeliveryReport():
                    return
                reports[name].append(report)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(name,)) for name in reports]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    assert errors == []

    assert receiver.ids == Counter(dict.fromkeys(ids, 1))
    assert receiver.requests == N_CONCURRENT
    delivered = {name: sum(r.delivered for r in rs) for name, rs in reports.items()}
    assert sum(delivered.values()) == N_CONCURRENT
    if registry.dialect.name == "postgresql":
        # SKIP LOCKED: neither worker waited for the other's batch, both took a share.
        assert all(delivered.values()), delivered
    with registry.connect() as conn:
        assert store.count_by_status(conn) == {"delivered": N_CONCURRENT}
