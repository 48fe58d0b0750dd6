"""The audit log against a real database (SQLite and PostgreSQL, through ``engine``).

Fixture strategy: none shared beyond ``engine`` and ``now``. Each test builds the log it
needs with :class:`AuditLog` and a fresh :class:`AuditKey`: either a small log of
:data:`N` events appended in several transactions (:func:`build_log`), or one event per
transaction when the test is about tree sizes. Tampering is done the way an attacker with
database access would do it: plain SQL on the tables, behind the service's back. Every
expectation (roots, proofs, node counts) is recomputed independently with the pure
functions of :mod:`trustledger.audit`, never read back from the code under test.
"""

from __future__ import annotations

import os
import stat
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, delete, func, insert, select, text, update

from trustledger.audit import (
    EMPTY_ROOT,
    AuditKey,
    Frontier,
    leaf_hash,
    merkle_root,
    verify_consistency,
    verify_inclusion,
    verify_tree_head,
)
from trustledger.domain.principal import Actor, Principal, Role
from trustledger.errors import AuditError, InvalidInput, NotFound
from trustledger.service.audit import (
    KEY_ENV,
    AuditLog,
    Entry,
    audit_key_path,
    consistency,
    ensure_audit_key,
    inclusion,
    leaf_data,
    tree_head,
    verify,
)
from trustledger.store import audit as audit_store
from trustledger.store.audit import StoredEvent
from trustledger.store.tables import audit_events, audit_keys, audit_nodes, audit_state

#: Events in the log the tampering tests start from, appended as BATCHES transactions.
BATCHES = (1, 3, 2, 4)
N = sum(BATCHES)
#: The middle event the tampering tests edit.
MID = 4


# --- helpers ---------------------------------------------------------------------------


def actor(request_id: str = "req-1", *, role: Role = Role.OPERATOR) -> Actor:
    return Actor(
        Principal(key_id="op-1", role=role, label="an operator"),
        request_id=request_id,
        purpose="registry_administration",
    )


def entry(i: int) -> Entry:
    return Entry(action="record.read", subject_id=100 + i, detail={"n": i, "fields": ["a", "é"]})


def append(engine: Engine, log: AuditLog, entries: list[Entry], *, now: datetime) -> list[int]:
    with engine.begin() as conn:
        return log.append(conn, actor(f"req-{now.timestamp():.0f}"), entries, now=now)


def build_log(engine: Engine, log: AuditLog, now: datetime) -> list[StoredEvent]:
    """N events in len(BATCHES) transactions, one minute apart; returns the stored rows."""
    i = 0
    for t, batch in enumerate(BATCHES):
        seqs = append(
            engine, log, [entry(i + j) for j in range(batch)], now=now + timedelta(minutes=t)
        )
        assert seqs == list(range(i, i + batch))
        i += batch
    return stored_events(engine)


def stored_events(engine: Engine) -> list[StoredEvent]:
    with engine.connect() as conn:
        return list(audit_store.iter_events(conn))


def counts(engine: Engine) -> tuple[int, int, int, bytes]:
    """(events, nodes, state size, state frontier) as stored."""
    with engine.connect() as conn:
        events = conn.execute(select(func.count()).select_from(audit_events)).scalar_one()
        nodes = conn.execute(select(func.count()).select_from(audit_nodes)).scalar_one()
        size, frontier = conn.execute(select(audit_state.c.size, audit_state.c.frontier)).one()
    return int(events), int(nodes), int(size), bytes(frontier)


def nodes_for(n: int) -> int:
    """Perfect subtrees of a tree of n leaves: n leaves + n - 1 inner nodes of which
    popcount(n) - 1 (the imperfect right edge) are never stored."""
    return 2 * n - n.bit_count()


def frontier_of(events: Iterable[StoredEvent]) -> Frontier:
    f = Frontier()
    for ev in events:
        f.append(leaf_hash(leaf_data(ev)))
    return f


def tamper(engine: Engine, statement: Any) -> None:
    with engine.begin() as conn:
        result = conn.execute(statement)
        # -1: the driver does not count (psycopg on a single-row INSERT).
        assert result.rowcount != 0, "the tampering statement changed nothing"


def edit_event(seq: int, **values: Any) -> Any:
    return update(audit_events).where(audit_events.c.seq == seq).values(**values)


def verify_fails(engine: Engine, key: AuditKey, **kwargs: Any) -> AuditError:
    kwargs.setdefault("public_key", key.public_bytes())
    with pytest.raises(AuditError) as info:
        verify(engine, **kwargs)
    return info.value


def assert_names(err: AuditError, seq: int) -> None:
    assert err.seq == seq, str(err)
    assert f"event {seq}" in str(err), str(err)


@pytest.fixture
def key() -> AuditKey:
    return AuditKey.generate()


@pytest.fixture
def log(engine: Engine, key: AuditKey, now: datetime) -> AuditLog:
    """A log whose key is pinned in the database, as the service does at start-up."""
    with engine.begin() as conn:
        audit_store.pin_key(conn, key.fingerprint(), key.public_bytes(), now=now)
    return AuditLog(key)


# --- 1. appending ----------------------------------------------------------------------


def test_append_numbers_events_and_signs_the_tree_head(
    engine: Engine, log: AuditLog, key: AuditKey, now: datetime
) -> None:
    with engine.connect() as conn:
        assert tree_head(conn) is None
        with pytest.raises(NotFound):
            inclusion(conn, 0)
    assert append(engine, log, [], now=now) == []

    events = build_log(engine, log, now)

    assert [e.seq for e in events] == list(range(N))
    # Columns as given, in the transaction's order.
    third = events[4]  # the first event of the third transaction (BATCHES = 1, 3, 2, 4)
    assert third.at == now + timedelta(minutes=2)
    assert (third.action, third.subject_id, third.detail) == (
        "record.read",
        104,
        '{"fields":["a","é"],"n":4}',
    )
    assert (third.role, third.key_id, third.purpose) == (
        "operator",
        "op-1",
        "registry_administration",
    )
    assert third.request_id == f"req-{(now + timedelta(minutes=2)).timestamp():.0f}"
    assert third.signed_at_ms == int((now + timedelta(minutes=2)).timestamp()) * 1000

    with engine.connect() as conn:
        head = tree_head(conn)
        assert head is not None
        assert head.tree_size == N
        assert head.root == merkle_root([leaf_data(e) for e in events])
        assert (
            head.timestamp_ms == int((now + timedelta(minutes=len(BATCHES) - 1)).timestamp()) * 1000
        )
        assert verify_tree_head(head, key.public_bytes())
        assert not verify_tree_head(head, AuditKey.generate().public_bytes())
        # Every intermediate head is the root of its prefix, signed.
        for size in range(1, N + 1):
            old = tree_head(conn, size)
            assert old is not None
            assert old.tree_size == size
            assert old.root == merkle_root([leaf_data(e) for e in events[:size]])
            assert verify_tree_head(old, key.public_bytes())
        with pytest.raises(InvalidInput):
            tree_head(conn, 0)
        with pytest.raises(NotFound):
            tree_head(conn, N + 1)

    assert counts(engine) == (N, nodes_for(N), N, frontier_of(events).to_bytes())


# --- 2. proofs served from the database ------------------------------------------------

PROOF_SIZE = 40
CONSISTENCY_SIZE = 25


def test_inclusion_proofs_for_every_size_and_index(
    engine: Engine, log: AuditLog, now: datetime
) -> None:
    leaves: list[bytes] = []
    for i in range(PROOF_SIZE):
        assert append(engine, log, [entry(i)], now=now + timedelta(seconds=i)) == [i]
        with engine.connect() as conn:  # the newest event, in the latest tree
            got = inclusion(conn, i)
            stored = audit_store.event(conn, i)
        assert stored is not None
        leaves.append(leaf_data(stored))
        assert got["tree_head"].tree_size == i + 1
        assert got["tree_head"].root == merkle_root(leaves)
        assert verify_inclusion(got["leaf_hash"], i, i + 1, got["proof"], got["tree_head"].root)

    with engine.connect() as conn:
        checked = 0
        for size in range(1, PROOF_SIZE + 1):
            root = merkle_root(leaves[:size])
            for index in range(size):
                got = inclusion(conn, index, size)
                assert got["event"] == index
                assert got["leaf_hash"] == leaf_hash(leaves[index])
                assert got["tree_head"].tree_size == size
                assert got["tree_head"].root == root
                assert verify_inclusion(leaf_hash(leaves[index]), index, size, got["proof"], root)
                checked += 1
            if size >= 2:  # a proof is bound to its index: the wrong one does not verify
                wrong = inclusion(conn, 0, size)["proof"]
                assert not verify_inclusion(
                    leaf_hash(leaves[size - 1]), size - 1, size, wrong, root
                )
        assert checked == PROOF_SIZE * (PROOF_SIZE + 1) // 2

        with pytest.raises(NotFound):
            inclusion(conn, 5, 3)
        with pytest.raises(NotFound):
            inclusion(conn, PROOF_SIZE)
        with pytest.raises(NotFound):
            inclusion(conn, 0, PROOF_SIZE + 1)


def test_consistency_proofs_between_every_pair_of_sizes(
    engine: Engine, log: AuditLog, now: datetime
) -> None:
    for i in range(CONSISTENCY_SIZE):
        assert append(engine, log, [entry(i)], now=now + timedelta(seconds=i)) == [i]
    leaves = [leaf_data(e) for e in stored_events(engine)]
    roots = [merkle_root(leaves[:n]) for n in range(CONSISTENCY_SIZE + 1)]

    with engine.connect() as conn:
        checked = 0
        for n in range(1, CONSISTENCY_SIZE + 1):
            for m in range(1, n + 1):
                got = consistency(conn, m, n)
                old, new = got["from"], got["to"]
                assert (old.tree_size, new.tree_size) == (m, n)
                assert (old.root, new.root) == (roots[m], roots[n])
                assert verify_consistency(m, n, roots[m], roots[n], got["proof"])
                if m < n:  # and it proves nothing about another old tree
                    assert not verify_consistency(m, n, roots[n], roots[n], got["proof"])
                checked += 1
        assert checked == CONSISTENCY_SIZE * (CONSISTENCY_SIZE + 1) // 2

        with pytest.raises(InvalidInput):
            consistency(conn, 0, 3)
        with pytest.raises(InvalidInput):
            consistency(conn, 5, 3)
        with pytest.raises(NotFound):
            consistency(conn, 3, CONSISTENCY_SIZE + 1)


# --- 3. rollback -----------------------------------------------------------------------


class Boom(Exception):
    pass


def test_an_append_rolled_back_leaves_no_trace(
    engine: Engine, log: AuditLog, key: AuditKey, now: datetime
) -> None:
    events = build_log(engine, log, now)
    before = counts(engine)
    assert before == (N, nodes_for(N), N, frontier_of(events).to_bytes())

    with pytest.raises(Boom), engine.begin() as conn:
        assert log.append(conn, actor("doomed"), [entry(50), entry(51)], now=now) == [N, N + 1]
        # Visible inside the transaction...
        assert audit_store.read_state(conn)[0] == N + 2
        raise Boom

    # ...and nowhere after it.
    assert counts(engine) == before
    with engine.connect() as conn:
        assert audit_store.event(conn, N) is None
        assert (
            conn.execute(
                select(func.count()).select_from(audit_nodes).where(audit_nodes.c.seq >= N)
            ).scalar_one()
            == 0
        )
    report = verify(engine, public_key=key.public_bytes())
    assert report.events == N

    assert append(engine, log, [entry(60)], now=now) == [N]
    after = stored_events(engine)
    assert after[N].subject_id == 160
    assert after[N].request_id != "doomed"
    assert verify(engine, public_key=key.public_bytes()).events == N + 1


# --- 4. verify on an untouched log -----------------------------------------------------


def test_verify_passes_on_an_untouched_log(
    engine: Engine, log: AuditLog, key: AuditKey, now: datetime
) -> None:
    empty = verify(engine)
    assert (empty.events, empty.nodes, empty.root) == (0, 0, EMPTY_ROOT)

    events = build_log(engine, log, now)
    with engine.connect() as conn:
        head = tree_head(conn)
        early = tree_head(conn, 3)
    assert head is not None and early is not None

    report = verify(engine, public_key=key.public_bytes(), key_source="the key file")
    assert report.events == N
    assert report.nodes == nodes_for(N) == 18
    assert report.root == merkle_root([leaf_data(e) for e in events])
    assert report.fingerprint == key.fingerprint()
    assert report.key_source == "the key file"
    assert report.checked_head is None

    pinned = verify(engine)
    assert (pinned.events, pinned.nodes) == (N, nodes_for(N))
    assert pinned.fingerprint == key.fingerprint()
    assert pinned.key_source == "pinned in the database"

    # Published heads still in the log, the latest or an older one, are checked.
    assert verify(engine, public_key=key.public_bytes(), published=head).checked_head == head
    assert verify(engine, public_key=key.public_bytes(), published=early).checked_head == early
    # A head signed by another key is refused.
    forged = AuditKey.generate().sign(head.tree_size, head.timestamp_ms, head.root)
    err = verify_fails(engine, key, published=forged)
    assert "does not verify" in str(err)


def test_verify_without_a_pinned_key_needs_one(
    engine: Engine, key: AuditKey, now: datetime
) -> None:
    append(engine, AuditLog(key), [entry(0)], now=now)
    with pytest.raises(AuditError, match="pins no audit key"):
        verify(engine)
    assert verify(engine, public_key=key.public_bytes()).events == 1


# --- 5. tampering behind the service's back --------------------------------------------


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("detail", '{"fields":["a","é"],"n":99}'),
        ("action", "record.erase"),
        ("subject_id", 999),
        ("subject_id", None),
        ("purpose", "objection_review"),
        ("purpose", None),
        ("key_id", "op-2"),
        ("request_id", "req-forged"),
        ("role", "reviewer"),
        ("at", datetime(2027, 1, 1, tzinfo=UTC)),
        ("at", "microsecond"),
    ],
)
def test_editing_a_column_names_the_event(
    engine: Engine, log: AuditLog, key: AuditKey, now: datetime, column: str, value: Any
) -> None:
    events = build_log(engine, log, now)
    if value == "microsecond":
        value = events[MID].at + timedelta(microseconds=1)
    assert getattr(events[MID], column) != value
    tamper(engine, edit_event(MID, **{column: value}))

    err = verify_fails(engine, key)
    assert_names(err, MID)
    assert "does not match the tree head" in str(err)
    assert verify_fails(engine, key, public_key=None).seq == MID  # the pinned key too


@pytest.mark.parametrize("seq", [0, MID, N - 1])
def test_editing_detail_with_raw_sql_names_the_event(
    engine: Engine, log: AuditLog, key: AuditKey, now: datetime, seq: int
) -> None:
    build_log(engine, log, now)
    with engine.begin() as conn:
        done = conn.execute(
            text("UPDATE audit_events SET detail = :d WHERE seq = :s"), {"d": "{}", "s": seq}
        )
        assert done.rowcount == 1
    assert_names(verify_fails(engine, key), seq)


def test_editing_two_events_names_the_first(
    engine: Engine, log: AuditLog, key: AuditKey, now: datetime
) -> None:
    build_log(engine, log, now)
    tamper(engine, edit_event(7, action="x"))
    tamper(engine, edit_event(2, action="y"))
    assert_names(verify_fails(engine, key), 2)


@pytest.mark.parametrize("seq", [0, MID, N - 2])
def test_deleting_an_event_names_it_missing(
    engine: Engine, log: AuditLog, key: AuditKey, now: datetime, seq: int
) -> None:
    build_log(engine, log, now)
    tamper(engine, delete(audit_events).where(audit_events.c.seq == seq))

    err = verify_fails(engine, key)
    assert_names(err, seq)
    assert "missing" in str(err)


def swap_contents(conn: Connection, k: int, j: int) -> None:
    """Swap every column but ``seq`` of events k and j."""
    cols = [c for c in audit_events.c if c.name != "seq"]
    row_k = conn.execute(select(*cols).where(audit_events.c.seq == k)).one()._asdict()
    row_j = conn.execute(select(*cols).where(audit_events.c.seq == j)).one()._asdict()
    conn.execute(edit_event(k, **row_j))
    conn.execute(edit_event(j, **row_k))


@pytest.mark.parametrize(("k", "j"), [(0, 1), (2, 7), (MID, N - 1)])
def test_reordering_two_events_names_the_first(
    engine: Engine, log: AuditLog, key: AuditKey, now: datetime, k: int, j: int
) -> None:
    events = build_log(engine, log, now)
    with engine.begin() as conn:
        swap_contents(conn, k, j)
    swapped = stored_events(engine)
    assert (swapped[k].subject_id, swapped[j].subject_id) == (
        events[j].subject_id,
        events[k].subject_id,
    )

    assert_names(verify_fails(engine, key), k)


def test_reordering_only_the_payload_names_the_first(
    engine: Engine, log: AuditLog, key: AuditKey, now: datetime
) -> None:
    """Swapping what was done but keeping each row's signed root in place."""
    events = build_log(engine, log, now)
    a, b = events[3], events[6]
    with engine.begin() as conn:
        conn.execute(edit_event(3, subject_id=b.subject_id, detail=b.detail))
        conn.execute(edit_event(6, subject_id=a.subject_id, detail=a.detail))
    assert_names(verify_fails(engine, key), 3)


@pytest.mark.parametrize(
    ("column", "value", "says"),
    [
        ("root", b"\x00" * 32, "does not match the tree head"),
        ("root", b"\x01\x02\x03", "does not match the tree head"),
        ("signature", b"\x00" * 64, "signature"),
        ("signature", b"\x01\x02\x03", "malformed"),
        ("signed_at_ms", 1, "signature"),
        ("signed_at_ms", -1, "malformed"),
    ],
)
def test_editing_the_signed_head_of_an_event_names_it(
    engine: Engine,
    log: AuditLog,
    key: AuditKey,
    now: datetime,
    column: str,
    value: Any,
    says: str,
) -> None:
    build_log(engine, log, now)
    tamper(engine, edit_event(MID, **{column: value}))

    err = verify_fails(engine, key)  # an AuditError, not a TreeHeadError or a ValueError
    assert_names(err, MID)
    assert says in str(err)


def test_a_signature_copied_from_another_event_names_it(
    engine: Engine, log: AuditLog, key: AuditKey, now: datetime
) -> None:
    events = build_log(engine, log, now)
    tamper(engine, edit_event(MID, signature=events[MID + 1].signature))
    assert_names(verify_fails(engine, key), MID)


@pytest.mark.parametrize(
    ("level", "idx", "completed_by"),
    [(0, 3, 3), (1, 2, 5), (2, 1, 7), (3, 0, 7), (1, 4, 9)],
)
def test_editing_a_merkle_node_names_the_event_that_completed_it(
    engine: Engine,
    log: AuditLog,
    key: AuditKey,
    now: datetime,
    level: int,
    idx: int,
    completed_by: int,
) -> None:
    build_log(engine, log, now)
    where = (audit_nodes.c.level == level) & (audit_nodes.c.idx == idx)
    with engine.connect() as conn:
        assert conn.execute(select(audit_nodes.c.seq).where(where)).scalar_one() == completed_by
    tamper(engine, update(audit_nodes).where(where).values(hash=b"\xee" * 32))

    err = verify_fails(engine, key)
    assert_names(err, completed_by)
    assert f"level {level}, index {idx}" in str(err)


def test_deleting_a_merkle_node_names_the_event_that_completed_it(
    engine: Engine, log: AuditLog, key: AuditKey, now: datetime
) -> None:
    build_log(engine, log, now)
    tamper(engine, delete(audit_nodes).where((audit_nodes.c.level == 1) & (audit_nodes.c.idx == 2)))
    assert_names(verify_fails(engine, key), 5)


def test_a_stray_merkle_node_is_caught(
    engine: Engine, log: AuditLog, key: AuditKey, now: datetime
) -> None:
    build_log(engine, log, now)
    tamper(engine, insert(audit_nodes).values(level=0, idx=N, hash=b"\x00" * 32, seq=N))
    err = verify_fails(engine, key)
    assert err.seq == N
    assert f"level 0, index {N}" in str(err)


def test_deleting_the_last_event_and_its_nodes_is_caught_by_the_state(
    engine: Engine, log: AuditLog, key: AuditKey, now: datetime
) -> None:
    build_log(engine, log, now)
    with engine.begin() as conn:
        conn.execute(delete(audit_events).where(audit_events.c.seq == N - 1))
        conn.execute(delete(audit_nodes).where(audit_nodes.c.seq == N - 1))

    err = verify_fails(engine, key)
    assert_names(err, N - 1)
    assert f"says {N} event(s) but {N - 1} are stored" in str(err)


def test_deleting_the_last_event_row_only_is_caught(
    engine: Engine, log: AuditLog, key: AuditKey, now: datetime
) -> None:
    """Only the event row goes; its Merkle nodes and the state stay behind."""
    build_log(engine, log, now)
    tamper(engine, delete(audit_events).where(audit_events.c.seq == N - 1))

    assert verify_fails(engine, key).seq == N - 1


def test_deleting_the_last_event_row_only_names_it_in_the_message(
    engine: Engine, log: AuditLog, key: AuditKey, now: datetime
) -> None:
    build_log(engine, log, now)
    tamper(engine, delete(audit_events).where(audit_events.c.seq == N - 1))

    assert_names(verify_fails(engine, key), N - 1)


def test_cutting_the_tail_and_rewinding_the_state_needs_a_published_head(
    engine: Engine, log: AuditLog, key: AuditKey, now: datetime
) -> None:
    """Limitation: an attacker who deletes the last event(s), their nodes, and rewinds
    ``audit_state`` to the frontier of what is left leaves a log that is internally
    consistent: every remaining event, node and signature is genuine. ``verify`` alone
    cannot tell it from a log that never had those events; only a tree head kept outside
    the database (``published=``) can, and then it names the first event cut."""
    events = build_log(engine, log, now)
    with engine.connect() as conn:
        published = tree_head(conn)
        older = tree_head(conn, N - 1)
    assert published is not None and older is not None

    rewound = frontier_of(events[: N - 1])
    with engine.begin() as conn:
        conn.execute(delete(audit_events).where(audit_events.c.seq == N - 1))
        conn.execute(delete(audit_nodes).where(audit_nodes.c.seq == N - 1))
        conn.execute(update(audit_state).values(size=rewound.size, frontier=rewound.to_bytes()))

    report = verify(engine, public_key=key.public_bytes())  # passes: the limitation
    assert report.events == N - 1
    assert report.root == older.root
    assert verify(engine, public_key=key.public_bytes(), published=older).checked_head == older

    err = verify_fails(engine, key, published=published)
    assert_names(err, N - 1)
    assert f"published tree head has {N} events" in str(err)


def rewrite_history(
    conn: Connection, seq: int, detail: str, signer: AuditKey, *, resign_from: int
) -> None:
    """What an attacker with the database but not the key file can do: change event
    ``seq``, recompute every node and root after it, re-sign the heads of events
    ``resign_from`` and later with their own key, and rewind the state to match."""
    events = list(audit_store.iter_events(conn))
    events[seq] = replace(events[seq], detail=detail)
    frontier = Frontier()
    rows: list[dict[str, Any]] = []
    for ev in events:
        made = frontier.append(leaf_hash(leaf_data(ev)))
        rows.extend({"level": lv, "idx": ix, "hash": h, "seq": ev.seq} for lv, ix, h in made)
        if ev.seq >= resign_from:
            head = signer.sign(frontier.size, ev.signed_at_ms, frontier.root())
            conn.execute(
                edit_event(ev.seq, detail=ev.detail, root=head.root, signature=head.signature)
            )
    conn.execute(delete(audit_nodes))
    conn.execute(insert(audit_nodes), rows)
    conn.execute(update(audit_state).values(size=frontier.size, frontier=frontier.to_bytes()))


def replace_pin(conn: Connection, key: AuditKey, now: datetime) -> None:
    conn.execute(delete(audit_keys))
    conn.execute(
        insert(audit_keys).values(
            fingerprint=key.fingerprint(), public_key=key.public_bytes(), created_at=now
        )
    )


def test_history_re_signed_from_the_edit_with_another_key(
    engine: Engine, log: AuditLog, key: AuditKey, now: datetime
) -> None:
    """The attacker changes event MID and re-signs it and every later head with their own
    key. The true key names MID; so does the pinned key while the pin is intact. Replacing
    the pin is not enough on its own: the earlier heads are still signed by the true key,
    so the pinned (attacker's) key fails at event 0."""
    build_log(engine, log, now)
    attacker = AuditKey.generate()
    with engine.begin() as conn:
        rewrite_history(conn, MID, '{"forged":true}', attacker, resign_from=MID)
    assert stored_events(engine)[MID].detail == '{"forged":true}'

    err = verify_fails(engine, key)
    assert_names(err, MID)
    assert "signature" in str(err)
    assert_names(verify_fails(engine, key, public_key=None), MID)

    with engine.begin() as conn:
        replace_pin(conn, attacker, now)
    assert_names(verify_fails(engine, key, public_key=None), 0)
    assert_names(verify_fails(engine, key), MID)


def test_history_re_signed_entirely_with_another_key_fools_the_pin(
    engine: Engine, log: AuditLog, key: AuditKey, now: datetime
) -> None:
    """Limitation: ``verify`` with ``public_key=None`` trusts the key pinned in the
    database. An attacker who rewrites history, re-signs every head with their own key
    and also replaces the ``audit_keys`` row passes that check. Only the true public key
    (from the key file, kept outside the database) catches it, at the first head it did
    not sign (event 0 here, since every head was re-signed): give ``verify`` the key."""
    build_log(engine, log, now)
    attacker = AuditKey.generate()
    with engine.begin() as conn:
        rewrite_history(conn, MID, '{"forged":true}', attacker, resign_from=0)
        replace_pin(conn, attacker, now)

    report = verify(engine)  # passes: the limitation
    assert report.events == N
    assert report.nodes == nodes_for(N)
    assert report.fingerprint == attacker.fingerprint()
    assert report.key_source == "pinned in the database"
    assert stored_events(engine)[MID].detail == '{"forged":true}'

    err = verify_fails(engine, key)  # the key file catches it
    assert_names(err, 0)
    assert "signature" in str(err)


def test_two_pinned_keys_need_a_choice(
    engine: Engine, log: AuditLog, key: AuditKey, now: datetime
) -> None:
    build_log(engine, log, now)
    other = AuditKey.generate()
    with engine.begin() as conn:
        audit_store.pin_key(conn, other.fingerprint(), other.public_bytes(), now=now)
    with pytest.raises(AuditError, match="several audit keys"):
        verify(engine)
    assert verify(engine, public_key=key.public_bytes()).events == N


# --- 6. the key file -------------------------------------------------------------------


def test_ensure_audit_key_creates_pins_and_refuses_another(
    engine: Engine, tmp_path: Path, now: datetime
) -> None:
    path = tmp_path / "keys" / "audit.pem"
    key, created = ensure_audit_key(engine, path, now=now)
    assert created is True
    assert path.is_file()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert AuditKey.load(path).public_bytes() == key.public_bytes()
    with engine.connect() as conn:
        assert audit_store.pinned_keys(conn) == {key.fingerprint(): key.public_bytes()}

    again, created = ensure_audit_key(engine, path, now=now + timedelta(1))
    assert created is False
    assert again.public_bytes() == key.public_bytes()
    with engine.connect() as conn:
        assert audit_store.pinned_keys(conn) == {key.fingerprint(): key.public_bytes()}

    other_path = tmp_path / "other.pem"
    AuditKey.generate().save(other_path)
    with pytest.raises(AuditError, match=key.fingerprint()[:16]):
        ensure_audit_key(engine, other_path, now=now)
    with engine.connect() as conn:
        assert list(audit_store.pinned_keys(conn)) == [key.fingerprint()]

    # The key it returns signs a log that verifies with the pin.
    append(engine, AuditLog(again), [entry(0)], now=now)
    assert verify(engine).events == 1


def test_audit_key_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    db = tmp_path / "reg.db"
    assert audit_key_path(f"sqlite:///{db}") == tmp_path / "reg.db.audit-key.pem"
    assert audit_key_path(str(db)) == tmp_path / "reg.db.audit-key.pem"
    assert audit_key_path(f"sqlite:///{db}", override=tmp_path / "k.pem") == tmp_path / "k.pem"

    pg = "postgresql://u@localhost:5432/reg"
    with pytest.raises(InvalidInput, match=KEY_ENV) as info:
        audit_key_path(pg)
    assert KEY_ENV == "TRUSTLEDGER_AUDIT_KEY"
    assert "TRUSTLEDGER_AUDIT_KEY" in str(info.value)
    with pytest.raises(InvalidInput, match=KEY_ENV):
        audit_key_path("sqlite://")  # in memory: no file to put it beside
    assert audit_key_path(pg, override="/etc/k.pem") == Path("/etc/k.pem")

    monkeypatch.setenv(KEY_ENV, str(tmp_path / "env.pem"))
    assert audit_key_path(pg) == tmp_path / "env.pem"
    assert audit_key_path(f"sqlite:///{db}") == tmp_path / "env.pem"
    assert audit_key_path(pg, override="/etc/k.pem") == Path("/etc/k.pem")


# --- 7. concurrency --------------------------------------------------------------------

PER_THREAD = 50


def test_concurrent_appends_form_one_sequence(
    engine: Engine, log: AuditLog, key: AuditKey, now: datetime
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE; this is about row locks")
    start = threading.Barrier(2)
    got: dict[str, list[int]] = {"a": [], "b": []}
    errors: list[BaseException] = []

    def work(name: str) -> Callable[[], None]:
        def run() -> None:
            try:
                start.wait(timeout=30)
                for i in range(PER_THREAD):
                    with engine.begin() as conn:
                        got[name] += log.append(
                            conn, actor(f"{name}-{i}"), [entry(i)], now=now + timedelta(seconds=i)
                        )
            except BaseException as exc:  # reported below, in the test's thread
                errors.append(exc)

        return run

    threads = [threading.Thread(target=work(name)) for name in got]
    began = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "an appender hung"
    assert errors == []

    assert sorted(got["a"] + got["b"]) == list(range(2 * PER_THREAD))
    for seqs in got.values():
        assert len(seqs) == PER_THREAD
        assert seqs == sorted(seqs)
    # Each seq is the event its thread appended.
    events = stored_events(engine)
    for name, seqs in got.items():
        for i, seq in enumerate(seqs):
            assert events[seq].request_id == f"{name}-{i}"
    assert time.monotonic() - began < 120

    report = verify(engine, public_key=key.public_bytes())
    assert report.events == 2 * PER_THREAD
    assert report.nodes == nodes_for(2 * PER_THREAD)
    assert counts(engine)[:3] == (2 * PER_THREAD, nodes_for(2 * PER_THREAD), 2 * PER_THREAD)
