"""The audit log: every read of a subject's data and every write, as leaves of an
RFC 6962 Merkle tree with a signed tree head per event.

An event is appended inside the transaction of the read or write it records, so the two
commit together or not at all. Its leaf data is the canonical JSON of its columns
(:func:`leaf_data`), so ``verify`` recomputes every leaf, every node, every root and every
signature from the stored rows alone, and names the first event that does not match.

The signing key lives in a file outside the database (see :func:`audit_key_path`): someone
who can rewrite the database cannot sign a rewritten history. The database pins the
public key on first use.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, make_url

from trustledger.audit import (
    AuditKey,
    Frontier,
    TreeHead,
    TreeHeadError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    public_key_fingerprint,
    verify_tree_head,
)
from trustledger.domain.principal import Actor
from trustledger.errors import AuditError, FieldError, InvalidInput, NotFound
from trustledger.store import audit as audit_store
from trustledger.store.audit import StoredEvent
from trustledger.store.engine import resolve_url, sqlite_file

__all__ = [
    "AuditLog",
    "Entry",
    "VerifyReport",
    "audit_key_path",
    "consistency",
    "ensure_audit_key",
    "inclusion",
    "leaf_data",
    "tree_head",
    "verify",
]

KEY_ENV = "TRUSTLEDGER_AUDIT_KEY"


def audit_key_path(url: str | None = None, override: str | Path | None = None) -> Path:
    """Where the signing key lives: ``override``, else ``$TRUSTLEDGER_AUDIT_KEY``, else
    beside a SQLite file as ``<file>.audit-key.pem``. PostgreSQL needs one of the first two."""
    if override:
        return Path(override)
    env = os.environ.get(KEY_ENV)
    if env:
        return Path(env)
    db_file = sqlite_file(url)
    if db_file is not None:
        return db_file.with_name(db_file.name + ".audit-key.pem")
    shown = make_url(resolve_url(url)).render_as_string(hide_password=True)
    raise InvalidInput(
        f"audit key: {shown} is not a SQLite file, so the audit log's signing "
        f"key has no default place: set {KEY_ENV}=PATH or pass --audit-key PATH"
    )


def ensure_audit_key(engine: Engine, path: Path, *, now: datetime) -> tuple[AuditKey, bool]:
    """Load the key at ``path`` (creating it when missing) and pin its public key in the
    database. Returns ``(key, created)``. A key that differs from the pinned one is refused."""
    with engine.connect() as conn:
        pinned = audit_store.pinned_keys(conn)
    created = not path.exists()
    if created and pinned:
        raise AuditError(
            f"audit key file {path} is missing, and this registry's log is signed with key "
            f"{', '.join(f[:16] for f in pinned)}: restore that file (or point "
            f"{KEY_ENV} at it); a new key cannot continue the log"
        )
    if created:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = AuditKey.generate()
        key.save(path)
    else:
        key = AuditKey.load(path)
    with engine.begin() as conn:
        pinned = audit_store.pinned_keys(conn)
        fingerprint = key.fingerprint()
        if not pinned:
            audit_store.pin_key(conn, fingerprint, key.public_bytes(), now=now)
        elif fingerprint not in pinned:
            raise AuditError(
                f"audit key {path} (fingerprint {fingerprint[:16]}) is not the key this "
                f"registry's log is signed with ({', '.join(f[:16] for f in pinned)}); "
                f"point {KEY_ENV} at the right file"
            )
    return key, created


def leaf_data(event: StoredEvent) -> bytes:
    """The bytes hashed as the event's Merkle leaf: canonical JSON of its columns."""
    return json.dumps(
        {
            "seq": event.seq,
            "at": event.at.astimezone(UTC).isoformat(timespec="microseconds"),
            "request_id": event.request_id,
            "key_id": event.key_id,
            "role": event.role,
            "purpose": event.purpose,
            "action": event.action,
            "subject_id": event.subject_id,
            "detail": event.detail,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def canonical(detail: dict[str, Any]) -> str:
    return json.dumps(
        detail, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )


@dataclass(frozen=True, slots=True)
class Entry:
    """One event to append: what was done, to whom, with what details (no names: ids)."""

    action: str
    subject_id: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class AuditLog:
    """Appends events with the service's signing key."""

    def __init__(self, key: AuditKey) -> None:
        self.key = key

    def append(
        self, conn: Connection, actor: Actor, entries: Sequence[Entry], *, now: datetime
    ) -> list[int]:
        """Append ``entries`` in ``conn``'s transaction; returns their sequence numbers.

        Call it last in the transaction: from here to the commit, other appends wait.
        """
        if not entries:
            return []
        size, peaks, last_ms = audit_store.lock_state(conn)
        # Tree heads never go back in time, even when this transaction read the clock
        # before another one that appended first.
        signed_at_ms = max(int(now.timestamp() * 1000), last_ms)
        now = max(now.astimezone(UTC), datetime.fromtimestamp(signed_at_ms / 1000, UTC))
        frontier = Frontier.from_bytes(size, peaks)
        nodes: list[tuple[int, int, bytes, int]] = []
        rows: list[StoredEvent] = []
        for entry in entries:
            seq = frontier.size
            draft = StoredEvent(
                seq=seq,
                at=now,
                request_id=actor.request_id,
                key_id=actor.key_id,
                role=actor.role.value,
                purpose=actor.purpose,
                action=entry.action,
                subject_id=entry.subject_id,
                detail=canonical(entry.detail),
                root=b"",
                signed_at_ms=signed_at_ms,
                signature=b"",
            )
            made = frontier.append(leaf_hash(leaf_data(draft)))
            nodes.extend((level, idx, h, seq) for level, idx, h in made)
            head = self.key.sign(frontier.size, signed_at_ms, frontier.root())
            rows.append(replace(draft, root=head.root, signature=head.signature))
        audit_store.insert_events(conn, rows)
        audit_store.insert_nodes(conn, nodes)
        audit_store.update_state(conn, frontier.size, frontier.to_bytes(), signed_at_ms)
        return [row.seq for row in rows]


def _head(event: StoredEvent) -> TreeHead:
    """The signed tree head stored with ``event``; a malformed one is a broken log."""
    try:
        return TreeHead(
            tree_size=event.seq + 1,
            timestamp_ms=event.signed_at_ms,
            root=event.root,
            signature=event.signature,
        )
    except TreeHeadError as exc:
        raise AuditError(
            f"event {event.seq}: its stored tree head is malformed ({exc})", seq=event.seq
        ) from None


def tree_head(conn: Connection, size: int | None = None) -> TreeHead | None:
    """The signed head of the whole tree (or of its first ``size`` events); ``None``
    while the log is empty."""
    if size is None:
        last = audit_store.last_event(conn)
        return None if last is None else _head(last)
    if size < 1:
        raise FieldError("size", f"a tree head has at least one event, not {size}")
    found = audit_store.event(conn, size - 1)
    if found is None:
        raise NotFound(f"the audit log has no tree of size {size}")
    return _head(found)


def _node(conn: Connection) -> Any:
    return lambda level, idx: audit_store.node(conn, level, idx)


def inclusion(conn: Connection, seq: int, size: int | None = None) -> dict[str, Any]:
    """An inclusion proof of event ``seq`` in the tree of ``size`` events (the latest
    tree when ``size`` is None), with that tree's signed head and the event's leaf hash."""
    head = tree_head(conn, size)
    if head is None:
        raise NotFound("the audit log is empty")
    if not 0 <= seq < head.tree_size:
        raise NotFound(f"event: no event {seq} in a tree of {head.tree_size} event(s)")
    found = audit_store.event(conn, seq)
    assert found is not None
    return {
        "event": seq,
        "leaf_hash": leaf_hash(leaf_data(found)),
        "tree_head": head,
        "proof": inclusion_proof(seq, head.tree_size, _node(conn)),
    }


def consistency(conn: Connection, old_size: int, new_size: int) -> dict[str, Any]:
    """A consistency proof between the trees of ``old_size`` and ``new_size`` events."""
    if old_size < 1:
        raise FieldError("from", f"the smaller tree has at least one event, not {old_size}")
    if new_size < old_size:
        raise FieldError("to", f"{new_size} is smaller than from ({old_size})")
    old = tree_head(conn, old_size)
    new = tree_head(conn, new_size)
    assert old is not None and new is not None
    return {
        "from": old,
        "to": new,
        "proof": consistency_proof(old_size, new_size, _node(conn)),
    }


@dataclass(slots=True)
class VerifyReport:
    events: int = 0
    nodes: int = 0
    root: bytes = b""
    fingerprint: str = ""
    key_source: str = ""
    checked_head: TreeHead | None = None
    warnings: list[str] = field(default_factory=list)


def verify(
    engine: Engine,
    *,
    public_key: bytes | None = None,
    key_source: str = "",
    published: TreeHead | None = None,
) -> VerifyReport:
    """Recompute every leaf, node, root and signature from the stored rows.

    Raises :class:`AuditError` naming the first bad event when anything was edited,
    deleted or reordered. ``public_key`` is the key to trust (from the key file, or given
    by the operator); without it the key pinned in the database is used, which only
    proves the log was not changed by someone who could not also change that pin.
    ``published`` is a tree head kept outside the database: the log must still contain
    it (this catches events cut from the end).
    """
    report = VerifyReport()
    with engine.connect().execution_options(read_only=True) as conn, conn.begin():
        pinned = audit_store.pinned_keys(conn)
        if public_key is None:
            if len(pinned) != 1:
                raise AuditError(
                    "the database pins no audit key: give the public key or the key file"
                    if not pinned
                    else "the database pins several audit keys: give the one to trust"
                )
            report.fingerprint, public_key = next(iter(pinned.items()))
            report.key_source = "pinned in the database"
        else:
            report.key_source = key_source or "given"
        if pinned and public_key_fingerprint(public_key) not in pinned:
            report.warnings.append(
                f"the key from {report.key_source} (fingerprint "
                f"{public_key_fingerprint(public_key)[:16]}) is not the key pinned in the "
                f"database ({', '.join(f[:16] for f in pinned)}): either the pin was "
                "changed, or this is not the log's key"
            )
        try:
            frontier = _check_log(conn, public_key, published, report)
        except AuditError as exc:
            if report.warnings:
                raise AuditError(f"{exc} (note: {report.warnings[0]})", seq=exc.seq) from None
            raise
    report.events = frontier.size
    report.root = frontier.root()
    if not report.fingerprint:
        report.fingerprint = public_key_fingerprint(public_key)
    return report


def _check_log(
    conn: Connection, public_key: bytes, published: TreeHead | None, report: VerifyReport
) -> Frontier:
    """The walk of :func:`verify`: every event, node and signature, in order."""
    if published is not None and not verify_tree_head(published, public_key):
        raise AuditError("the published tree head given does not verify with the audit key")
    frontier = Frontier()
    stored_nodes = audit_store.iter_nodes(conn)
    for ev in audit_store.iter_events(conn):
        expected = frontier.size
        if ev.seq != expected:
            raise AuditError(
                f"event {expected} is missing: the next stored event is {ev.seq}",
                seq=expected,
            )
        made = frontier.append(leaf_hash(leaf_data(ev)))
        root = frontier.root()
        if root != ev.root:
            raise AuditError(
                f"event {ev.seq} does not match the tree head signed when it was "
                f"appended: it, or its place in the log, was changed",
                seq=ev.seq,
            )
        if not verify_tree_head(_head(ev), public_key):
            raise AuditError(
                f"event {ev.seq}: the signature of tree head {ev.seq + 1} does not verify",
                seq=ev.seq,
            )
        for level, idx, h in made:
            got = next(stored_nodes, None)
            if got != (ev.seq, level, idx, h):
                raise AuditError(
                    f"event {ev.seq}: stored Merkle node (level {level}, index {idx}) "
                    "is missing or wrong, so proofs would lie",
                    seq=ev.seq,
                )
            report.nodes += 1
        if published is not None and published.tree_size == frontier.size:
            if published.root != root:
                raise AuditError(
                    f"the log's tree of {published.tree_size} events differs from the "
                    f"published tree head: event {ev.seq} or an earlier one was changed",
                    seq=ev.seq,
                )
            report.checked_head = published
    size, peaks = audit_store.read_state(conn)
    if size != frontier.size:
        raise AuditError(
            f"the log's state says {size} event(s) but {frontier.size} are stored: "
            f"event {frontier.size} and later were deleted",
            seq=frontier.size,
        )
    if peaks != frontier.to_bytes():
        raise AuditError(
            "the log's state (the right edge of its tree) was changed: the next "
            f"append, event {size}, would be signed over a wrong root",
            seq=size,
        )
    extra = next(stored_nodes, None)
    if extra is not None:
        raise AuditError(
            f"event {extra[0]} is missing: its Merkle node (level {extra[1]}, index "
            f"{extra[2]}) is still stored",
            seq=extra[0],
        )
    if published is not None and published.tree_size > frontier.size:
        raise AuditError(
            f"a published tree head has {published.tree_size} events but the log has "
            f"{frontier.size}: event {frontier.size} and later were deleted",
            seq=frontier.size,
        )
    return frontier
