"""The registry's use cases as one object the web layer calls: who may do what, each in
one transaction with its audit event.

Every method takes the :class:`~trustledger.domain.principal.Actor` making the request and
checks it here, not in the routes, so the rules hold whatever calls them:

============================  =========================================================
use case                      who
============================  =========================================================
``submit_records``            provider (only the record types the policy grants it)
``subject_file`` / ``score``  operator and reviewer (stating a purpose), the subject
/ ``explanation`` /           itself
``decisions``
``decide``                    relying party (its registered measures, a policy purpose)
``decision``                  the relying party that asked, the subject, operator and
                              reviewer (stating a purpose)
``audit_event``               operator (stating a purpose), the subject it is about
``public_*``, ``tree_head``,  anyone, keys or not: only what the policy publishes, and
``inclusion``,                the log's hashes and signatures
``consistency``
``dashboard``                 operator (:mod:`trustledger.service.dashboard`)
============================  =========================================================
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from trustledger.audit import EMPTY_ROOT, TreeHead, leaf_hash
from trustledger.domain.identifiers import USCC_CHARSET, normalise, validate
from trustledger.domain.principal import Actor, Role
from trustledger.domain.record import RecordAction, RecordVersion
from trustledger.domain.score import LineKind, cents_to_points
from trustledger.domain.subject import Subject, SubjectKind
from trustledger.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
)
from trustledger.policy.explain import (
    describe_line,
    describe_membership,
    describe_not_counted,
    explain_text,
)
from trustledger.policy.repair import paths_to_repair
from trustledger.policy.schema import Policy
from trustledger.service import audit as audit_service
from trustledger.service import decide as decide_service
from trustledger.service.audit import AuditLog, Entry, leaf_data
from trustledger.service.dashboard import Dashboard
from trustledger.service.ingest import ingest_rows, rows_from_objects
from trustledger.service.policies import ActivePolicy, policy_of
from trustledger.service.rights import Rights, remake_decisions, version_json
from trustledger.service.scoring import Explanation, membership_json, score_subject
from trustledger.store import audit as audit_store
from trustledger.store import cases as case_store
from trustledger.store import decisions as decision_store
from trustledger.store import policies as policy_store
from trustledger.store import records as record_store
from trustledger.store import scores as score_store
from trustledger.store import subjects as subject_store

__all__ = ["Registry", "utc_now"]

#: The purposes operators and reviewers may state when they read a file.
STAFF_PURPOSES = {
    Role.OPERATOR: ("registry_administration", "objection_review"),
    Role.REVIEWER: ("objection_review",),
}


#: The longest search text the public register accepts, and the most results a page.
MAX_QUERY = 100
MAX_PER_PAGE = 100


def utc_now() -> datetime:
    return datetime.now(UTC)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _staff_purpose(actor: Actor) -> None:
    """An operator or reviewer states why it reads a subject's data, from its list."""
    role = actor.role
    allowed = STAFF_PURPOSES[role]
    if not actor.purpose:
        raise FieldError(
            "purpose",
            f"{role.with_article} states why it reads a subject's data: "
            f"?purpose={' or '.join(allowed)}",
        )
    if actor.purpose not in allowed:
        raise FieldError(
            "purpose",
            f"{actor.purpose!r} is not a purpose {role.with_article} may read a subject's "
            f"data for; use {' or '.join(allowed)}",
        )


def _text(field: str, value: str) -> None:
    """Refuse a control character (a NUL cannot even be sent to PostgreSQL)."""
    if _CONTROL.search(value):
        raise FieldError(field, "contains a control character; only text is accepted")


def _paging(page: int, per_page: int) -> None:
    if page < 1:
        raise FieldError("page", f"pages are numbered from 1, got {page}")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise FieldError("per_page", f"give 1 to {MAX_PER_PAGE} results a page, got {per_page}")


def _uscc_prefix(q: str) -> str | None:
    """The code ``q`` reads as, normalised as :func:`validate` normalises a USCC, when it is
    a whole Unified Social Credit Code or its first 6 or more characters (USCC characters
    only, positions 3-8 the division code's digits); otherwise None."""
    code = normalise(q, compact=True)
    if not 6 <= len(code) <= 18 or any(ch not in USCC_CHARSET for ch in code):
        return None
    return code if code[2:8].isascii() and code[2:8].isdigit() else None


def _mask(value: str) -> str:
    """``440106199001011234`` -> ``4401**********1234``."""
    return value[:4] + "*" * max(len(value) - 8, 0) + value[-4:] if len(value) > 8 else "****"


@dataclass
class Registry:
    engine: Engine
    audit: AuditLog
    clock: Callable[[], datetime] = utc_now
    _policy_cache: dict[int, ActivePolicy] = field(default_factory=dict)
    _write_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def rights(self) -> Rights:
        """Objections, review, repair, who looked, erasure (:mod:`trustledger.service.rights`)."""
        return Rights(self)

    @property
    def dashboard(self) -> Dashboard:
        """The operators' figures (:mod:`trustledger.service.dashboard`)."""
        return Dashboard(self)

    # -- plumbing ------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        """A write transaction. SQLite has one writer at a time: threads of this process
        queue on a lock rather than in SQLite's busy handler, which sleeps up to 100 ms
        between tries and so turns a short queue into a long tail of latency."""
        if self.engine.dialect.name == "sqlite":
            with self._write_lock, self.engine.begin() as conn:
                yield conn
        else:
            with self.engine.begin() as conn:
                yield conn

    def _policy(self, conn: Connection) -> ActivePolicy:
        """The policy in force, parsed once per version."""
        latest = policy_store.latest_policy_id(conn)
        if latest is None:
            raise NotFound("no policy is loaded: run `trustledger init --policy FILE`")
        cached = self._policy_cache.get(latest)
        if cached is None:
            stored = policy_store.get_policy(conn, f"#{latest}")
            cached = self._policy_cache[latest] = ActivePolicy(stored, policy_of(stored))
        return cached

    def _subject(self, conn: Connection, ref: str, actor: Actor) -> Subject:
        _text("subject", ref)
        if ref == "me":
            if actor.role is not Role.SUBJECT:
                raise FieldError(
                    "subject", "'me' names the caller's own file: only a subject key has one"
                )
            assert actor.principal.subject_id is not None
            ref = str(actor.principal.subject_id)
        found = subject_store.find_subjects(conn, ref)
        if len(found) > 1:
            raise Conflict(f"subject: {ref!r} matches several subjects; give the id")
        if not found:
            raise NotFound(f"subject: no subject {ref!r}")
        return found[0]

    def _reader(self, conn: Connection, actor: Actor, ref: str) -> tuple[Subject, Actor]:
        """The subject whose file ``actor`` may read, and the actor with its purpose."""
        _text("subject", ref)
        role = actor.role
        if role is Role.SUBJECT:
            own = actor.principal.subject_id
            assert own is not None
            if ref not in ("me", str(own), f"#{own}"):
                subject = subject_store.find_subjects(conn, ref)
                if not subject or subject[0].id != own:
                    raise Forbidden(f"a subject key reads only its own file (subject {own})")
            # By id: the key names its subject; an identifier that happens to read like
            # the id must not make the subject's own file ambiguous.
            found = subject_store.get_subject(conn, own)
            if found is None:
                raise NotFound(f"subject: subject {own} of this key no longer exists")
            return found, actor.with_purpose("data_subject_access")
        if role in STAFF_PURPOSES:
            _staff_purpose(actor)
            return self._subject(conn, ref, actor), actor
        raise Forbidden(
            f"{role.with_article} key may not read a subject's file"
            + (": ask for a decision with POST /v1/decisions" if role is Role.RELYING_PARTY else "")
        )

    def _read(
        self,
        actor: Actor,
        ref: str,
        action: str,
        build: Callable[[Connection, ActivePolicy, Subject, datetime], dict[str, Any]],
    ) -> dict[str, Any]:
        """Read with ``build(conn, policy, subject, now)`` and log the read, in one
        transaction; the answer and its event have the same instant."""
        now = self.clock()
        with self._transaction() as conn:
            subject, actor = self._reader(conn, actor, ref)
            active = self._policy(conn)
            body = build(conn, active, subject, now)
            self.audit.append(conn, actor, [Entry(action, subject.id)], now=now)
        return body

    # -- a subject's file ----------------------------------------------------------------

    def subject_file(self, actor: Actor, ref: str) -> dict[str, Any]:
        """The subject and every record in its file, each with its status today."""

        def build(
            conn: Connection, active: ActivePolicy, subject: Subject, now: datetime
        ) -> dict[str, Any]:
            result, records = score_subject(conn, active, subject, known_at=now)
            policy = active.policy
            counting = {ln.record_id: ln for ln in result.lines if ln.kind is LineKind.RECORD}
            why_not = {n.record_id: n for n in result.not_counted}
            _, cases = case_store.list_cases(conn, subject_id=subject.id, limit=1000)
            open_cases: dict[int, list[str]] = {}
            for c in cases:
                if c.is_open:
                    open_cases.setdefault(c.record_id, []).append(c.id)
            paths = paths_to_repair(
                policy,
                records,
                subject_id=subject.id,
                subject_kind=subject.kind,
                as_of=result.as_of,
                policy_version=active.label,
            )
            histories = record_store.record_histories(conn, [r.record_id for r in records])
            out = []
            for r in records:
                if r.action is RecordAction.EXPIRE:
                    continue  # past its retention: no longer in the file
                rt = policy.record_types.get(r.record_type)
                line = counting.get(r.record_id)
                provider = policy.providers.get(r.provider)
                out.append(
                    {
                        "record_id": r.record_id,
                        "version": r.version,
                        "reference": r.reference,
                        "provider": r.provider,
                        "provider_title": provider.title if provider else r.provider,
                        "record_type": r.record_type,
                        "title": rt.title if rt else r.record_type,
                        "domain": rt.domain if rt else None,
                        "legal_basis": rt.legal_basis if rt else None,
                        "action": r.action.value,
                        "valid_from": r.valid_from.isoformat(),
                        "valid_to": r.valid_to.isoformat() if r.valid_to else None,
                        "recorded_at": r.recorded_at.isoformat(),
                        "amount": str(r.amount) if r.amount is not None else None,
                        "note": r.note,
                        "disputed": r.disputed,
                        "status": "counting" if line else why_not[r.record_id].reason,
                        "points": float(line.points) if line else 0.0,
                        "text": describe_line(line, policy, as_of=result.as_of)
                        if line
                        else describe_not_counted(why_not[r.record_id], policy),
                        "repaired_on": r.repaired_on.isoformat() if r.repaired_on else None,
                        "open_cases": open_cases.get(r.record_id, []),
                        "versions": [
                            version_json(v)
                            for v in histories.get(r.record_id, [])
                            if v.recorded_at <= now
                        ],
                    }
                )
            band = next(b for b in policy.grades if b.grade == result.grade)
            return {
                "subject": _subject_json(subject),
                "as_of": result.as_of.isoformat(),
                "policy_version": active.label,
                "score": float(result.score),
                "grade": result.grade,
                "grade_meaning": band.meaning,
                "explanation": explain_text(result, policy),
                "lists": [membership_json(m, policy, result) for m in result.lists],
                "records": out,
                "paths_to_repair": [p.as_json() for p in paths],
                "cases": [
                    {
                        "id": c.id,
                        "kind": c.kind,
                        "record_id": c.record_id,
                        "status": c.status,
                        "deadline": c.deadline.isoformat(),
                        "outcome": c.outcome,
                    }
                    for c in cases
                ],
            }

        return self._read(actor, ref, "subject.file.read", build)

    def subject_score(self, actor: Actor, ref: str) -> dict[str, Any]:
        """The score, grade and list entries as of today, from every record known now."""

        def build(
            conn: Connection, active: ActivePolicy, subject: Subject, now: datetime
        ) -> dict[str, Any]:
            result, _ = score_subject(conn, active, subject, known_at=now)
            policy = active.policy
            band = next(b for b in policy.grades if b.grade == result.grade)
            return {
                "subject": subject.id,
                "as_of": result.as_of.isoformat(),
                "policy_version": active.label,
                "score": float(result.score),
                "base": float(result.base),
                "grade": result.grade,
                "grade_meaning": band.meaning,
                "lists": [membership_json(m, policy, result) for m in result.lists],
            }

        return self._read(actor, ref, "subject.score.read", build)

    def subject_decisions(
        self, actor: Actor, ref: str, *, page: int, per_page: int
    ) -> dict[str, Any]:
        """The decisions made about a subject, newest first, with their reasons and who
        asked (the relying party's key id and purpose)."""

        def build(
            conn: Connection, active: ActivePolicy, subject: Subject, now: datetime
        ) -> dict[str, Any]:
            total, rows = decision_store.decisions_about(
                conn, subject.id, offset=(page - 1) * per_page, limit=per_page
            )
            return {
                "subject": subject.id,
                "total": total,
                "page": page,
                "per_page": per_page,
                "decisions": [
                    {**row.as_json(), "key_id": row.key_id, "asked_by": label}
                    for row, label in rows
                ],
            }

        return self._read(actor, ref, "subject.decisions.read", build)

    def audit_event(self, actor: Actor, seq: int) -> dict[str, Any]:
        """One event of the audit log with the exact bytes its leaf hash is over: for the
        operator (stating a purpose), or for the subject the event is about."""
        now = self.clock()
        with self._transaction() as conn:
            found = audit_store.event(conn, seq)
            if actor.role is Role.OPERATOR:
                _staff_purpose(actor)
            elif actor.role is Role.SUBJECT:
                if found is not None and found.subject_id != actor.principal.subject_id:
                    found = None  # another subject's event: answered like an unknown one
                actor = actor.with_purpose("data_subject_access")
            else:
                raise Forbidden(
                    f"{actor.role.with_article} key may not read audit events; the tree head "
                    "and proofs are public"
                )
            if found is None:
                raise NotFound(f"event: no audit event {seq} that this key may read")
            data = leaf_data(found)
            self.audit.append(
                conn,
                actor,
                [Entry("audit.event.read", found.subject_id, {"event": seq})],
                now=now,
            )
        return {
            "event": found.seq,
            "at": found.at.isoformat(),
            "request_id": found.request_id,
            "key_id": found.key_id,
            "role": found.role,
            "purpose": found.purpose,
            "action": found.action,
            "subject_id": found.subject_id,
            "detail": json.loads(found.detail),
            "leaf_data": data.decode(),
            "leaf_hash": base64.b64encode(leaf_hash(data)).decode("ascii"),
        }

    def subject_explanation(self, actor: Actor, ref: str) -> dict[str, Any]:
        """Every line of the score in words (the shape of ``trustledger explain --json``)."""

        def build(
            conn: Connection, active: ActivePolicy, subject: Subject, now: datetime
        ) -> dict[str, Any]:
            result, records = score_subject(conn, active, subject, known_at=now)
            return Explanation(subject, result, active, now, tuple(records)).as_json()

        return self._read(actor, ref, "subject.explanation.read", build)

    # -- decisions -----------------------------------------------------------------------

    def decide(self, actor: Actor, subject_ref: str, measure: str, purpose: str) -> dict[str, Any]:
        if actor.role is not Role.RELYING_PARTY:
            raise Forbidden(
                f"only a relying-party key asks for decisions, not {actor.role.with_article} key"
            )
        now = self.clock()
        with self._transaction() as conn:
            active = self._policy(conn)
            policy = active.policy
            if measure not in policy.measures:
                raise FieldError(
                    "measure",
                    f"the policy in force ({active.label}) has no measure {measure!r}; "
                    f"this key may ask about: {', '.join(actor.principal.measures)}",
                )
            if measure not in actor.principal.measures:
                raise Forbidden(
                    f"this key is registered for the measures "
                    f"{', '.join(actor.principal.measures)}, not {measure!r}"
                )
            if purpose not in policy.purposes:
                raise FieldError(
                    "purpose",
                    f"{purpose!r} is not a purpose of the policy; "
                    f"state one of: {', '.join(policy.purposes)}",
                )
            subject = self._subject(conn, subject_ref, actor)
            assert actor.key_id is not None
            decision = decide_service.decide(
                conn,
                active,
                subject,
                measure_name=measure,
                purpose=purpose,
                now=now,
                key_id=actor.key_id,
                request_id=actor.request_id,
            )
            body = decision.as_json()
            self.audit.append(
                conn,
                actor.with_purpose(purpose),
                [
                    Entry(
                        "decision.create",
                        subject.id,
                        {
                            "decision_id": decision.id,
                            "measure": measure,
                            "outcome": decision.outcome,
                        },
                    )
                ],
                now=now,
            )
        return body

    def decision(self, actor: Actor, decision_id: str) -> dict[str, Any]:
        _text("decision_id", decision_id)
        now = self.clock()
        with self._transaction() as conn:
            found = decision_store.get_decision(conn, decision_id)
            if found is None:
                raise NotFound(f"no decision {decision_id!r}")
            role = actor.role
            allowed = (
                role in (Role.OPERATOR, Role.REVIEWER)
                or (role is Role.RELYING_PARTY and found.key_id == actor.key_id)
                or (role is Role.SUBJECT and found.subject_id == actor.principal.subject_id)
            )
            if not allowed:
                # The same answer as for an unknown id: no probing for others' decisions.
                raise NotFound(f"no decision {decision_id!r}")
            if role in STAFF_PURPOSES:
                _staff_purpose(actor)
            elif role is Role.SUBJECT:
                actor = actor.with_purpose("data_subject_access")
            elif (
                actor.purpose is not None
                and actor.purpose not in self._policy(conn).policy.purposes
            ):
                raise FieldError(
                    "purpose",
                    f"{actor.purpose!r} is not a purpose of the policy; leave it out "
                    "or state one of the policy's purposes",
                )
            self.audit.append(
                conn,
                actor,
                [Entry("decision.read", found.subject_id, {"decision_id": decision_id})],
                now=now,
            )
        return found.as_json()

    # -- providers -----------------------------------------------------------------------

    def submit_records(
        self, actor: Actor, idempotency_key: str, records: Sequence[dict[str, Any]]
    ) -> tuple[dict[str, Any], bool]:
        """Store a provider's batch whole or not at all. Returns ``(report, replayed)``:
        the same idempotency key and body again answer the first report and store nothing."""
        if actor.role is not Role.PROVIDER:
            raise Forbidden(
                f"only a provider key submits records, not {actor.role.with_article} key"
            )
        provider = actor.principal.provider
        assert provider is not None and actor.key_id is not None
        if not idempotency_key.strip() or len(idempotency_key) > 200:
            raise FieldError("Idempotency-Key", "give a header of 1 to 200 characters")
        # Values as the registry reads them: "amount": 100 and "amount": "100" are one batch.
        normal = [{k: str(v) for k, v in r.items()} for r in records]
        body_sha = hashlib.sha256(
            json.dumps(normal, sort_keys=True, ensure_ascii=False).encode()
        ).hexdigest()
        now = self.clock()
        try:
            with self._transaction() as conn:
                earlier = decision_store.find_batch(conn, provider, idempotency_key)
                if earlier is not None:
                    if earlier.body_sha256 != body_sha:
                        raise Conflict(
                            f"Idempotency-Key {idempotency_key!r} was used at "
                            f"{earlier.received_at:%Y-%m-%d %H:%M:%S} UTC for another batch; "
                            "use a new key for new records"
                        )
                    return earlier.response, True
                active = self._policy(conn)
                grants = active.policy.providers[provider].grants
                refused = [
                    (i, str(r.get("record_type")))
                    for i, r in enumerate(records)
                    if r.get("record_type") not in grants
                    and r.get("record_type") in active.policy.record_types
                ]
                if refused:
                    where = ", ".join(f"records[{i}] ({t})" for i, t in refused[:10])
                    raise Forbidden(
                        f"provider {provider!r} is not granted these record types: {where}; "
                        f"it may submit: {', '.join(grants)}"
                    )
                rows, problems = rows_from_objects(records, file="records")
                batch = f"api:{idempotency_key}"
                report = ingest_rows(
                    conn,
                    rows,
                    provider=provider,
                    policy=active.policy,
                    now=now,
                    batch=batch,
                    file="records",
                    read_problems=problems,
                )
                response = {
                    "batch": batch,
                    "provider": provider,
                    "rows": report.rows,
                    "created": report.created,
                    "corrected": report.corrected,
                    "retracted": report.retracted,
                    "unchanged": report.unchanged,
                    "new_subjects": report.new_subjects,
                    "policy_version": active.label,
                }
                decision_store.insert_batch(
                    conn,
                    provider=provider,
                    idempotency_key=idempotency_key,
                    body_sha256=body_sha,
                    response=response,
                    key_id=actor.key_id,
                    now=now,
                )
                # Whoever received a decision resting on a corrected or retracted record
                # gets it made again.
                _, remade = remake_decisions(
                    conn,
                    active,
                    actor,
                    report.changed_records,
                    now=now,
                    cause={"batch": batch, "provider": provider},
                )
                self.audit.append(
                    conn,
                    actor.with_purpose("record_submission"),
                    [Entry("records.write", sid, {"batch": batch}) for sid in report.subject_ids]
                    + remade,
                    now=now,
                )
        except IntegrityError:
            # PostgreSQL: another request stored the same Idempotency-Key (or the same
            # references) between our check and our insert; nothing of ours was stored.
            raise Conflict(
                f"Idempotency-Key {idempotency_key!r}: another request with the same key or "
                "the same records was being stored at the same moment; send it again to get "
                "its answer"
            ) from None
        return response, False

    # -- the public ----------------------------------------------------------------------

    def public_search(self, actor: Actor, q: str, *, page: int, per_page: int) -> dict[str, Any]:
        """Organisations by part of their name (any case), by their Unified Social Credit
        Code or by its first 6 or more characters: exact code matches first, then by name.
        Never persons, never erased subjects. The audit event keeps the length of the
        text, not the text: it may be a person's name typed by mistake."""
        q = q.strip()
        if not q:
            raise FieldError(
                "q", "is empty: give part of an organisation's name or its credit code"
            )
        if len(q) > MAX_QUERY:
            raise FieldError("q", f"is {len(q)} characters long; at most {MAX_QUERY}")
        _text("q", q)
        _paging(page, per_page)
        code = _uscc_prefix(q)
        now = self.clock()
        with self._transaction() as conn:
            active = self._policy(conn)
            policy = active.policy
            total, hits = subject_store.search_organisations(
                conn,
                name=q,
                code=code,
                today=now.astimezone(policy.policy.zone).date(),
                offset=(page - 1) * per_page,
                limit=per_page,
            )
            self.audit.append(
                conn,
                actor.with_purpose("public_register"),
                [
                    Entry(
                        "public.search",
                        None,
                        {"q_length": len(q), "page": page, "results": len(hits)},
                    )
                ],
                now=now,
            )
        meanings = {b.grade: b.meaning for b in policy.grades}
        public_lists = [name for name, d in policy.lists.items() if d.public]
        return {
            "q": q,
            "total": total,
            "page": page,
            "per_page": per_page,
            "results": [
                {
                    "name": h.name,
                    "uscc": h.uscc,
                    "grade": h.grade,
                    "grade_meaning": meanings.get(h.grade) if h.grade else None,
                    "public_lists": [n for n in public_lists if n in h.public_lists],
                }
                for h in hits
            ],
        }

    def public_organisation(self, actor: Actor, uscc: str) -> dict[str, Any]:
        """What the policy publishes about an organisation: its grade, its entries on
        public lists, its records of public types, and its latest rating per domain."""
        try:
            value = validate("uscc", uscc)
        except InvalidInput as exc:
            raise FieldError("uscc", str(exc).removeprefix("uscc: ")) from None
        now = self.clock()
        with self._transaction() as conn:
            found = [
                s
                for s in subject_store.find_subjects(conn, value)
                if s.kind is SubjectKind.ORGANISATION
            ]
            if not found:
                raise NotFound(f"uscc: no organisation with the code {value} is registered")
            subject = found[0]
            active = self._policy(conn)
            policy = active.policy
            result, records = score_subject(conn, active, subject, known_at=now)
            band = next(b for b in policy.grades if b.grade == result.grade)
            by_id = {r.record_id: r for r in records}
            public_records = []
            for line in result.lines:
                if line.kind is not LineKind.RECORD or line.record_type is None:
                    continue
                rt = policy.record_types[line.record_type]
                if not rt.public:
                    continue
                provider = policy.providers.get(line.provider or "")
                public_records.append(
                    {
                        "record_type": line.record_type,
                        "title": rt.title,
                        "domain": rt.domain,
                        "valid_from": line.valid_from.isoformat() if line.valid_from else None,
                        "valid_to": (
                            v.isoformat() if (v := by_id[line.record_id].valid_to) else None
                        )
                        if line.record_id in by_id
                        else None,
                        "provider": provider.title if provider else line.provider,
                        "points": float(cents_to_points(line.cents)),
                        "legal_basis": rt.legal_basis,
                        "disputed": line.disputed,
                    }
                )
            lists = [
                {
                    "list": m.list,
                    "kind": m.kind,
                    "title": policy.lists[m.list].title,
                    "rule": m.rule,
                    "since": m.since.isoformat(),
                    "until": m.until.isoformat() if m.until else None,
                    "text": describe_membership(m, policy),
                }
                for m in result.lists
                if policy.lists[m.list].public
            ]
            ratings = _ratings(policy, records, result.as_of)
            self.audit.append(
                conn,
                actor.with_purpose("public_register"),
                [Entry("public.organisation.read", subject.id)],
                now=now,
            )
        return {
            "uscc": value,
            "name": subject.name,
            "as_of": result.as_of.isoformat(),
            "policy_version": active.label,
            "grade": result.grade,
            "grade_meaning": band.meaning,
            "lists": lists,
            "records": public_records,
            "ratings": ratings,
        }

    def public_list(self, actor: Actor, name: str, *, page: int, per_page: int) -> dict[str, Any]:
        """One page of a public list, from the latest score run."""
        now = self.clock()
        with self._transaction() as conn:
            active = self._policy(conn)
            lst = active.policy.lists.get(name)
            if lst is None or not lst.public:
                known = ", ".join(n for n, d in active.policy.lists.items() if d.public) or "(none)"
                raise NotFound(f"name: no public list {name!r}; public lists: {known}")
            kinds = [SubjectKind.ORGANISATION.value]
            if lst.publish_persons:
                kinds.append(SubjectKind.PERSON.value)
            fresh = score_store.current_as_of(conn)
            total, entries = score_store.public_list_page(
                conn,
                name,
                kinds=kinds,
                offset=(page - 1) * per_page,
                limit=per_page,
                today=now.astimezone(active.policy.policy.zone).date(),
            )
            self.audit.append(
                conn,
                actor.with_purpose("public_register"),
                [Entry("public.list.read", None, {"list": name, "page": page})],
                now=now,
            )
        return {
            "list": name,
            "kind": lst.kind,
            "title": lst.title,
            "description": lst.description,
            "legal_basis": lst.legal_basis,
            "persons_published": lst.publish_persons,
            "as_of": fresh[0].isoformat() if fresh else None,
            "updated_at": fresh[1].isoformat() if fresh else None,
            "total": total,
            "page": page,
            "per_page": per_page,
            "entries": [
                {
                    "name": e.name,
                    "kind": e.kind,
                    "identifiers": [
                        {
                            "kind": k,
                            "value": v if e.kind == SubjectKind.ORGANISATION.value else _mask(v),
                        }
                        for k, v in e.identifiers
                    ],
                    "rule": e.rule,
                    "since": e.since.isoformat(),
                    "until": e.until.isoformat() if e.until else None,
                }
                for e in entries
            ],
        }

    # -- the audit log's public face ------------------------------------------------------

    def tree_head(self) -> TreeHead:
        """The latest signed tree head; for an empty log, a head of size 0 signed now."""
        with self.engine.connect().execution_options(read_only=True) as conn:
            head = audit_service.tree_head(conn)
        if head is None:
            now_ms = int(self.clock().timestamp() * 1000)
            head = self.audit.key.sign(0, now_ms, EMPTY_ROOT)
        return head

    def inclusion(self, event: int, size: int | None) -> dict[str, Any]:
        with self.engine.connect().execution_options(read_only=True) as conn:
            return audit_service.inclusion(conn, event, size)

    def consistency(self, old_size: int, new_size: int) -> dict[str, Any]:
        with self.engine.connect().execution_options(read_only=True) as conn:
            return audit_service.consistency(conn, old_size, new_size)


def _ratings(policy: Policy, records: Sequence[RecordVersion], as_of: date) -> list[dict[str, Any]]:
    """Per domain, in the policy's order, the latest record (by ``valid_from``, then id) of
    a public rated type that is still in the file on ``as_of``: not retracted, not
    expired, its retention not over. Whether it still counts for points does not matter:
    like a sign on the door, the latest inspection is shown until it leaves the file."""
    latest: dict[str, RecordVersion] = {}
    for r in records:
        rt = policy.record_types.get(r.record_type)
        if rt is None or not rt.public or rt.rating is None or r.withdrawn:
            continue
        if r.valid_from > as_of or rt.kept_for.after(r.valid_from) <= as_of:
            continue
        seen = latest.get(rt.domain)
        if seen is None or (r.valid_from, r.record_id) > (seen.valid_from, seen.record_id):
            latest[rt.domain] = r
    out = []
    for name, domain in policy.domains.items():
        found = latest.get(name)
        if found is None:
            continue
        rt = policy.record_types[found.record_type]
        provider = policy.providers.get(found.provider)
        out.append(
            {
                "domain": name,
                "domain_title": domain.title,
                "rating": rt.rating,
                "record_type": found.record_type,
                "title": rt.title,
                "inspected_on": found.valid_from.isoformat(),
                "provider": provider.title if provider else found.provider,
                "disputed": found.disputed,
            }
        )
    return out


def _subject_json(subject: Subject) -> dict[str, Any]:
    return {
        "id": subject.id,
        "kind": subject.kind.value,
        "name": subject.name,
        "identifiers": [{"kind": i.kind, "value": i.value} for i in subject.identifiers],
    }
