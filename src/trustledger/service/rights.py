"""Due process: objections, review, credit repair, corrections that reach every recipient,
who looked, and erasure. Each use case runs in one transaction with its audit events.

=====================================  ====================================================
use case                               who
=====================================  ====================================================
``open_objection`` / ``request_repair``  the subject (its own records); an operator or
                                       reviewer on its behalf (a letter, a counter)
``cases`` / ``case``                   the subject (its own), reviewers and operators (any),
                                       a provider (cases about its records)
``assign`` / ``request_evidence`` /    reviewers and operators
``decide``
``add_evidence``                       the subject (its own open case), the record's
                                       provider, reviewers and operators
``evidence_file``                      whoever may read the case
``access_log``                         the subject (its own), operators and reviewers
``provider_quality``                   operators and reviewers (all), a provider (its own)
``notifications``                      any key: what it was told
``erase``                              operators only, with the law that requires it
=====================================  ====================================================

A record is *disputed* from the moment an objection is opened until it is decided; the
policy says per record type whether it keeps counting meanwhile, and never once the review
deadline (``review_period``, default 30 days) has passed without a decision. A decision to
correct or retract, and an approved repair, write a new version of the record; the subject
is rescored at once (the public register reads that) and every relying party that received
a decision resting on the record gets the decision made again, through the outbox.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

import filetype  # type: ignore[import-untyped]
from sqlalchemy import Connection

from trustledger.domain.principal import Actor, Role
from trustledger.domain.record import RecordAction, RecordVersion
from trustledger.domain.subject import Subject
from trustledger.errors import Conflict, FieldError, Forbidden, NotFound
from trustledger.policy.explain import format_date
from trustledger.service import decide as decide_service
from trustledger.service import outbox
from trustledger.service.audit import Entry
from trustledger.service.policies import ActivePolicy
from trustledger.service.scoring import rescore_subjects
from trustledger.store import audit as audit_store
from trustledger.store import batches as batch_store
from trustledger.store import cases as case_store
from trustledger.store import decisions as decision_store
from trustledger.store import keys as key_store
from trustledger.store import records as record_store
from trustledger.store import subjects as subject_store
from trustledger.store.cases import CaseRow
from trustledger.store.notifications import StoredNotification
from trustledger.store.records import NewVersion

if TYPE_CHECKING:
    from trustledger.service.registry import Registry

__all__ = [
    "ALLOWED_TYPES",
    "MAX_EVIDENCE_BYTES",
    "MAX_FILES",
    "Rights",
    "Upload",
]

#: The largest evidence file accepted, and how many files one request may carry.
MAX_EVIDENCE_BYTES = 5 * 1024 * 1024
MAX_FILES = 5
#: Evidence types, recognised by their content (not by the name or the declared type).
ALLOWED_TYPES = {
    "application/pdf": "PDF",
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/webp": "WebP",
    "text/plain": "plain text (UTF-8)",
}
MAX_REASON = 4000
#: What a case may be decided, per kind.
OUTCOMES: Final = {
    "objection": ("upheld", "corrected", "retracted"),
    "repair": ("approved", "refused"),
}

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Upload:
    """An evidence file as received: its name, the type the sender declared, its bytes."""

    filename: str
    content_type: str
    data: bytes


def _who(actor: Actor) -> str:
    """The actor as case rows record it: its key id, or the request id (``cli-...``) of a
    command line or scheduled actor, which has no key."""
    return actor.key_id or actor.request_id


def _clean_text(
    field: str, value: str, *, required: bool = True, what: str = "say in words why"
) -> str:
    value = value.strip()
    if required and not value:
        raise FieldError(field, f"is required: {what}")
    if len(value) > MAX_REASON:
        raise FieldError(field, f"is {len(value):,} characters long; at most {MAX_REASON:,}")
    if _CONTROL.search(value):
        raise FieldError(field, "contains a control character; only text is accepted")
    return value


def check_upload(upload: Upload, index: int) -> tuple[str, str]:
    """(safe file name, content type) of an evidence file, or a FieldError naming it."""
    field = f"files[{index}]"
    name = upload.filename.replace("\\", "/").rsplit("/", 1)[-1].strip() or f"evidence-{index}"
    if _CONTROL.search(name) or len(name) > 200:
        raise FieldError(field, "the file name must be at most 200 characters of plain text")
    size = len(upload.data)
    if size == 0:
        raise FieldError(field, f"{name} is empty")
    if size > MAX_EVIDENCE_BYTES:
        raise FieldError(
            field,
            f"{name} is larger than {MAX_EVIDENCE_BYTES // 1024 // 1024} MiB, the most an "
            "evidence file may be",
        )
    kind = filetype.guess(upload.data)
    detected: str | None = kind.mime if kind is not None else None
    if detected is None:
        try:
            text = upload.data.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None and not _CONTROL.search(text):
            detected = "text/plain"
    if detected not in ALLOWED_TYPES:
        found = f"its content is {detected}" if detected else "its type cannot be recognised"
        raise FieldError(
            field,
            f"{name}: {found}; evidence may be {', '.join(ALLOWED_TYPES.values())}",
        )
    declared = upload.content_type.split(";")[0].strip().lower()
    if declared not in ("", "application/octet-stream", detected):
        raise FieldError(
            field, f"{name} is declared as {declared} but its content is {ALLOWED_TYPES[detected]}"
        )
    return name, detected


def _deadline(active: ActivePolicy, now: datetime) -> datetime:
    period = active.policy.policy.review_period
    return datetime.combine(period.after(now.date()), now.time(), UTC)


def _today(active: ActivePolicy, now: datetime) -> date:
    return now.astimezone(active.policy.policy.zone).date()


@dataclass
class Rights:
    """The subject-rights use cases, over the registry's transactions, policy and log."""

    registry: Registry

    # -- helpers ---------------------------------------------------------------------------

    def _record(self, conn: Connection, record_id: int, subject: Subject) -> RecordVersion:
        """The current version of one of ``subject``'s records."""
        history = record_store.record_history(conn, record_id)
        if not history or history[-1].subject_id != subject.id:
            raise NotFound(f"record_id: subject {subject.id} has no record {record_id}")
        current = history[-1]
        if current.withdrawn:
            what = "retracted" if current.action is RecordAction.RETRACT else "expired"
            raise Conflict(f"record_id: record {record_id} was {what}; it no longer counts")
        return current

    def _case(self, conn: Connection, actor: Actor, case_id: str, *, lock: bool = False) -> CaseRow:
        """A case ``actor`` may see; another's case answers like an unknown one."""
        _text_id("case", case_id)
        case = case_store.get_case(conn, case_id, for_update=lock)
        role = actor.role
        visible = case is not None and (
            role in (Role.OPERATOR, Role.REVIEWER)
            or (role is Role.SUBJECT and case.subject_id == actor.principal.subject_id)
            or (role is Role.PROVIDER and case.provider == actor.principal.provider)
        )
        if not visible or case is None:
            raise NotFound(f"case: no case {case_id!r} that this key may read")
        return case

    def _mine(self, actor: Actor, case: CaseRow) -> None:
        """A reviewer works only unassigned cases and its own; an operator any."""
        if (
            actor.role is Role.REVIEWER
            and case.assigned_to is not None
            and case.assigned_to != actor.key_id
        ):
            raise Forbidden(
                f"case {case.id} is assigned to {case.assigned_to}; an operator can give it to "
                "you (POST /v1/cases/{case_id}/assign with your key id)"
            )

    def _staff(self, actor: Actor, what: str) -> Actor:
        if actor.role not in (Role.OPERATOR, Role.REVIEWER):
            raise Forbidden(f"only a reviewer or an operator {what}, not {actor.role.with_article}")
        return actor.with_purpose("objection_review")

    def _filer(self, conn: Connection, actor: Actor, subject_ref: str) -> tuple[Subject, Actor]:
        """The subject a case is opened for: the caller's own, or any for staff."""
        if actor.role is Role.SUBJECT:
            return self.registry._reader(conn, actor, subject_ref)
        if actor.role in (Role.OPERATOR, Role.REVIEWER):
            subject = self.registry._subject(conn, subject_ref, actor)
            return subject, actor.with_purpose("objection_review")
        raise Forbidden(
            f"{actor.role.with_article} key may not open a case; the subject does, or staff "
            "on its behalf"
        )

    def _store_files(
        self,
        conn: Connection,
        case_id: str,
        actor: Actor,
        files: Sequence[Upload],
        now: datetime,
    ) -> list[str]:
        if len(files) > MAX_FILES:
            raise FieldError("files", f"{len(files)} files; at most {MAX_FILES} a request")
        checked = [check_upload(f, i) for i, f in enumerate(files)]  # all, before storing
        ids = []
        for upload, (name, ctype) in zip(files, checked, strict=True):
            eid = f"evi_{uuid.uuid4().hex}"
            case_store.insert_evidence(
                conn,
                {
                    "id": eid,
                    "case_id": case_id,
                    "filename": name,
                    "content_type": ctype,
                    "size": len(upload.data),
                    "sha256": hashlib.sha256(upload.data).hexdigest(),
                    "data": upload.data,
                    "uploaded_at": now,
                    "uploaded_by": _who(actor),
                    "role": actor.role.value,
                },
            )
            ids.append(eid)
        return ids

    def _open(
        self,
        conn: Connection,
        active: ActivePolicy,
        actor: Actor,
        subject: Subject,
        record: RecordVersion,
        *,
        kind: str,
        reason: str,
        files: Sequence[Upload],
        now: datetime,
        fulfilled_on: date | None = None,
    ) -> tuple[str, list[str]]:
        case_id = f"{'obj' if kind == 'objection' else 'rep'}_{uuid.uuid4().hex}"
        case_store.insert_case(
            conn,
            {
                "id": case_id,
                "kind": kind,
                "subject_id": subject.id,
                "record_id": record.record_id,
                "record_version": record.version,
                "provider": record.provider,
                "record_type": record.record_type,
                "reason": reason,
                "fulfilled_on": fulfilled_on,
                "opened_at": now,
                "opened_by": _who(actor),
                "deadline": _deadline(active, now),
                "status": "open",
            },
        )
        files_ids = self._store_files(conn, case_id, actor, files, now)
        case_store.add_event(
            conn,
            case_id,
            at=now,
            actor=_who(actor),
            role=actor.role.value,
            action="opened",
            detail={"record_id": record.record_id, "version": record.version, "files": files_ids},
        )
        return case_id, files_ids

    # -- opening a case --------------------------------------------------------------------

    def open_objection(
        self,
        actor: Actor,
        subject_ref: str,
        record_id: int,
        reason: str,
        files: Sequence[Upload] = (),
    ) -> dict[str, Any]:
        """Object to a record: it is disputed at once and the subject rescored."""
        reason = _clean_text("reason", reason)
        reg = self.registry
        now = reg.clock()
        with reg._transaction() as conn:
            subject, actor = self._filer(conn, actor, subject_ref)
            # One case opened at a time per subject: no two open objections to a record.
            subject_store.lock_subjects(conn, [subject.id])
            active = reg._policy(conn)
            record = self._record(conn, record_id, subject)
            earlier = case_store.open_case_of_record(conn, record_id, "objection")
            if earlier is not None:
                raise Conflict(
                    f"record_id: record {record_id} is already under objection in case "
                    f"{earlier.id} (opened "
                    f"{format_date(earlier.opened_at.astimezone(active.policy.policy.zone).date())}"
                    "); add evidence to it"
                )
            case_id, _ = self._open(
                conn,
                active,
                actor,
                subject,
                record,
                kind="objection",
                reason=reason,
                files=files,
                now=now,
            )
            rescore_subjects(conn, active, [subject.id], now=now)
            entries = [
                Entry(
                    "case.open",
                    subject.id,
                    {"case": case_id, "kind": "objection", "record_id": record_id},
                )
            ]
            rt = active.policy.record_types.get(record.record_type)
            settled = case_store.disputes_as_of(conn, now, subject.id)[record_id].settled
            if rt is not None and not rt.disputed_counts and not settled:
                # The record stops counting while disputed: decisions resting on it change.
                _, remade = remake_decisions(
                    conn,
                    active,
                    actor,
                    [record_id],
                    now=now,
                    cause={"case": case_id, "record_id": record_id, "event": "disputed"},
                )
                entries.extend(remade)
            reg.audit.append(conn, actor, entries, now=now)
            return self._case_json(conn, active, case_store.get_case(conn, case_id), now)

    def request_repair(
        self,
        actor: Actor,
        subject_ref: str,
        record_id: int,
        fulfilled_on: date,
        reason: str,
        files: Sequence[Upload],
    ) -> dict[str, Any]:
        """Ask for credit repair of a negative record whose obligation was fulfilled, once
        the policy's waiting period has passed, with proof."""
        reason = _clean_text("reason", reason)
        if not files:
            raise FieldError("files", "a repair request needs proof: attach at least one file")
        reg = self.registry
        now = reg.clock()
        with reg._transaction() as conn:
            subject, actor = self._filer(conn, actor, subject_ref)
            subject_store.lock_subjects(conn, [subject.id])
            active = reg._policy(conn)
            policy = active.policy
            record = self._record(conn, record_id, subject)
            rt = policy.record_types.get(record.record_type)
            today = _today(active, now)
            if rt is None:
                raise Conflict(
                    f"record_id: the policy in force does not score {record.record_type}"
                )
            if rt.points >= 0:
                raise FieldError("record_id", f"record {record_id} ({rt.title}) is not negative")
            if rt.repair_after is None:
                stop = rt.counts_for.after(record.valid_from)
                raise FieldError(
                    "record_id",
                    f"records of type {rt.title} cannot be repaired early under "
                    f"{active.label}; this one stops counting on {format_date(stop)}",
                )
            if record.repaired_on is not None:
                raise Conflict(
                    f"record_id: record {record_id} was repaired on "
                    f"{format_date(record.repaired_on)}"
                )
            if fulfilled_on > today:
                raise FieldError("fulfilled_on", f"{fulfilled_on.isoformat()} is in the future")
            if fulfilled_on < record.valid_from:
                raise FieldError(
                    "fulfilled_on",
                    f"{fulfilled_on.isoformat()} is before the record's date "
                    f"{record.valid_from.isoformat()}",
                )
            stop = rt.counts_for.after(record.valid_from)
            if record.valid_to is not None and record.valid_to < stop:
                stop = record.valid_to
            if stop <= today:
                raise FieldError(
                    "record_id",
                    f"record {record_id} ({rt.title}) stopped counting on {format_date(stop)}: "
                    "there is nothing to repair",
                )
            earliest = rt.repair_after.after(fulfilled_on)
            if today < earliest:
                raise FieldError(
                    "fulfilled_on",
                    f"repair of a record of type {rt.title} may be asked "
                    f"{rt.repair_after.describe()} after the "
                    f"obligation was fulfilled: from {format_date(earliest)}",
                )
            earlier = case_store.open_case_of_record(conn, record_id, "repair")
            if earlier is not None:
                raise Conflict(
                    f"record_id: a repair of record {record_id} is already asked in case "
                    f"{earlier.id}"
                )
            case_id, _ = self._open(
                conn,
                active,
                actor,
                subject,
                record,
                kind="repair",
                reason=reason,
                files=files,
                now=now,
                fulfilled_on=fulfilled_on,
            )
            reg.audit.append(
                conn,
                actor,
                [
                    Entry(
                        "case.open",
                        subject.id,
                        {"case": case_id, "kind": "repair", "record_id": record_id},
                    )
                ],
                now=now,
            )
            return self._case_json(conn, active, case_store.get_case(conn, case_id), now)

    # -- reading cases ---------------------------------------------------------------------

    def case(self, actor: Actor, case_id: str) -> dict[str, Any]:
        reg = self.registry
        now = reg.clock()
        with reg._transaction() as conn:
            case = self._case(conn, actor, case_id)
            actor = _reading(actor)
            active = reg._policy(conn)
            body = self._case_json(conn, active, case, now)
            reg.audit.append(
                conn, actor, [Entry("case.read", case.subject_id, {"case": case.id})], now=now
            )
        return body

    def cases(
        self,
        actor: Actor,
        *,
        subject_ref: str | None = None,
        open_only: bool = False,
        kind: str | None = None,
        page: int = 1,
        per_page: int = 50,
    ) -> dict[str, Any]:
        """The review queue (open cases, nearest deadline first), a subject's cases, or a
        provider's cases about its records."""
        if kind is not None and kind not in OUTCOMES:
            raise FieldError("kind", f"{kind!r} is not a kind of case: objection or repair")
        reg = self.registry
        now = reg.clock()
        with reg._transaction() as conn:
            subject_id: int | None = None
            provider: str | None = None
            if actor.role is Role.SUBJECT:
                subject, actor = reg._reader(conn, actor, subject_ref or "me")
                subject_id = subject.id
            elif actor.role in (Role.OPERATOR, Role.REVIEWER):
                if subject_ref is not None:  # a subject's data: staff state why, as for a file
                    subject, actor = reg._reader(conn, actor, subject_ref)
                    subject_id = subject.id
                else:
                    actor = actor.with_purpose("objection_review")
            elif actor.role is Role.PROVIDER:
                provider = actor.principal.provider
                actor = actor.with_purpose("objection_review")
                if subject_ref is not None:
                    raise Forbidden(
                        "a provider key may not read a subject's cases; GET /v1/cases lists "
                        "the cases about its records"
                    )
            else:
                raise Forbidden(f"{actor.role.with_article} key may not read cases")
            active = reg._policy(conn)
            total, rows = case_store.list_cases(
                conn,
                subject_id=subject_id,
                provider=provider,
                kind=kind,
                open_only=open_only,
                offset=(page - 1) * per_page,
                limit=per_page,
            )
            files = case_store.evidence_of(conn, [c.id for c in rows])
            items = [self._case_summary(active, c, now, len(files[c.id])) for c in rows]
            # One event per subject whose cases were read, so each subject's access log
            # shows it (and one for an empty page).
            by_subject: dict[int | None, list[str]] = {}
            for c in rows:
                by_subject.setdefault(c.subject_id, []).append(c.id)
            reg.audit.append(
                conn,
                actor,
                [Entry("cases.read", sid, {"cases": ids}) for sid, ids in by_subject.items()]
                or [Entry("cases.read", subject_id, {"cases": []})],
                now=now,
            )
        return {"total": total, "page": page, "per_page": per_page, "cases": items}

    def _case_summary(
        self, active: ActivePolicy, case: CaseRow, now: datetime, files: int
    ) -> dict[str, Any]:
        rt = active.policy.record_types.get(case.record_type)
        return {
            "id": case.id,
            "kind": case.kind,
            "status": case.status,
            "subject": case.subject_id,
            "record_id": case.record_id,
            "record_type": case.record_type,
            "record_title": rt.title if rt else case.record_type,
            "provider": case.provider,
            "opened_at": case.opened_at.isoformat(),
            "deadline": case.deadline.isoformat(),
            "overdue": case.is_open and case.deadline <= now,
            "assigned_to": case.assigned_to,
            "outcome": case.outcome,
            "decided_at": case.decided_at.isoformat() if case.decided_at else None,
            "files": files,
        }

    def _case_json(
        self, conn: Connection, active: ActivePolicy, case: CaseRow | None, now: datetime
    ) -> dict[str, Any]:
        assert case is not None
        files = case_store.evidence_of(conn, [case.id])[case.id]
        history = record_store.record_history(conn, case.record_id)
        return {
            **self._case_summary(active, case, now, len(files)),
            "reason": case.reason,
            "fulfilled_on": case.fulfilled_on.isoformat() if case.fulfilled_on else None,
            "opened_by": case.opened_by,
            "decided_by": case.decided_by,
            "decision_reason": case.decision_reason,
            "result_version": case.result_version,
            "record": [version_json(v) for v in history],
            "evidence": [
                {
                    "id": f.id,
                    "filename": f.filename,
                    "content_type": f.content_type,
                    "size": f.size,
                    "sha256": f.sha256,
                    "uploaded_at": f.uploaded_at.isoformat(),
                    "role": f.role,
                }
                for f in files
            ],
            "history": [
                {
                    "at": e.at.isoformat(),
                    "role": e.role,
                    "action": e.action,
                    "detail": e.detail,
                }
                for e in case_store.events_of(conn, case.id)
            ],
        }

    def evidence_file(self, actor: Actor, evidence_id: str) -> tuple[str, str, bytes]:
        """(file name, content type, bytes) of an evidence file of a case ``actor`` may read."""
        _text_id("evidence", evidence_id)
        reg = self.registry
        now = reg.clock()
        with reg._transaction() as conn:
            found = case_store.get_evidence(conn, evidence_id)
            if found is None:
                raise NotFound(f"evidence: no evidence file {evidence_id!r}")
            try:
                case = self._case(conn, actor, found.case_id)
            except NotFound:
                raise NotFound(f"evidence: no evidence file {evidence_id!r}") from None
            assert found.data is not None  # erasure deletes a case's files with the case
            reg.audit.append(
                conn,
                _reading(actor),
                [Entry("evidence.read", case.subject_id, {"case": case.id, "evidence": found.id})],
                now=now,
            )
        return found.filename, found.content_type, found.data

    # -- working a case --------------------------------------------------------------------

    def assign(self, actor: Actor, case_id: str, reviewer: str | None = None) -> dict[str, Any]:
        """Take a case (a reviewer) or give it to a reviewer's key id (an operator)."""
        actor = self._staff(actor, "assigns cases")
        reg = self.registry
        now = reg.clock()
        with reg._transaction() as conn:
            case = self._case(conn, actor, case_id, lock=True)
            active = reg._policy(conn)
            _still_open(case, active.policy.policy.zone)
            self._mine(actor, case)
            if reviewer is not None:
                _text_id("reviewer", reviewer)
                if reviewer != actor.key_id and actor.role is not Role.OPERATOR:
                    raise Forbidden("a reviewer takes cases for itself; an operator assigns others")
                key = key_store.find_key(conn, reviewer)
                if (
                    key is None
                    or key.revoked_at is not None
                    or key.principal.role not in (Role.REVIEWER, Role.OPERATOR)
                ):
                    raise FieldError(
                        "reviewer", f"{reviewer!r} is not the key id of an active reviewer key"
                    )
            to = reviewer or _who(actor)
            status = "awaiting_provider" if case.status == "awaiting_provider" else "assigned"
            case_store.update_case(conn, case.id, assigned_to=to, status=status)
            case_store.add_event(
                conn,
                case.id,
                at=now,
                actor=_who(actor),
                role=actor.role.value,
                action="assigned",
                detail={"to": to},
            )
            reg.audit.append(
                conn,
                actor,
                [Entry("case.assign", case.subject_id, {"case": case.id, "to": to})],
                now=now,
            )
            return self._case_json(conn, active, case_store.get_case(conn, case.id), now)

    def request_evidence(self, actor: Actor, case_id: str, message: str) -> dict[str, Any]:
        """Ask the record's provider for its evidence: every active key of the provider is
        notified through the outbox, and the case waits for the provider."""
        actor = self._staff(actor, "asks a provider for evidence")
        message = _clean_text("message", message)
        reg = self.registry
        now = reg.clock()
        with reg._transaction() as conn:
            case = self._case(conn, actor, case_id, lock=True)
            active = reg._policy(conn)
            _still_open(case, active.policy.policy.zone)
            self._mine(actor, case)
            keys = case_store.active_keys(conn, provider=case.provider)
            sent = [
                outbox.enqueue(
                    conn,
                    key_id=key,
                    subject_id=case.subject_id,
                    kind="evidence.requested",
                    payload={
                        "case": case.id,
                        "record_id": case.record_id,
                        "record_type": case.record_type,
                        "message": message,
                        "deadline": case.deadline.isoformat(),
                        "respond": f"POST /v1/cases/{case.id}/evidence",
                    },
                    now=now,
                )
                for key in keys
            ]
            case_store.update_case(
                conn,
                case.id,
                status="awaiting_provider",
                assigned_to=case.assigned_to or _who(actor),
            )
            case_store.add_event(
                conn,
                case.id,
                at=now,
                actor=_who(actor),
                role=actor.role.value,
                action="evidence_requested",
                detail={"message": message, "provider": case.provider, "notifications": sent},
            )
            reg.audit.append(
                conn,
                actor,
                [
                    Entry(
                        "case.evidence_request",
                        case.subject_id,
                        {"case": case.id, "provider": case.provider, "notifications": sent},
                    )
                ],
                now=now,
            )
            return self._case_json(conn, active, case_store.get_case(conn, case.id), now)

    def add_evidence(
        self, actor: Actor, case_id: str, files: Sequence[Upload], note: str = ""
    ) -> dict[str, Any]:
        """More evidence for an open case, from its subject, its provider or staff."""
        if not files:
            raise FieldError("files", "attach at least one file")
        note = _clean_text("note", note, required=False)
        reg = self.registry
        now = reg.clock()
        with reg._transaction() as conn:
            case = self._case(conn, actor, case_id, lock=True)
            active = reg._policy(conn)
            _still_open(case, active.policy.policy.zone)
            actor = _reading(actor)
            ids = self._store_files(conn, case.id, actor, files, now)
            if actor.role is Role.PROVIDER and case.status == "awaiting_provider":
                case_store.update_case(conn, case.id, status="assigned")
            case_store.add_event(
                conn,
                case.id,
                at=now,
                actor=_who(actor),
                role=actor.role.value,
                action="evidence_added",
                detail={"files": ids, "note": note},
            )
            reg.audit.append(
                conn,
                actor,
                [Entry("case.evidence_add", case.subject_id, {"case": case.id, "files": ids})],
                now=now,
            )
            return self._case_json(conn, active, case_store.get_case(conn, case.id), now)

    def decide(
        self,
        actor: Actor,
        case_id: str,
        outcome: str,
        reason: str,
        correction: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Decide a case with a written reason.

        An objection is ``upheld`` (the record stands and counts again), ``corrected``
        (``correction`` gives the new ``valid_from``, ``valid_to``, ``amount`` or ``note``)
        or ``retracted``; a repair is ``approved`` (the record stops counting and listing
        from today) or ``refused``. A new version of the record, the subject's new score,
        and the decisions made again for whoever relied on the record, all in one
        transaction.
        """
        actor = self._staff(actor, "decides cases")
        reason = _clean_text("reason", reason)
        reg = self.registry
        now = reg.clock()
        with reg._transaction() as conn:
            case = self._case(conn, actor, case_id, lock=True)
            active = reg._policy(conn)
            _still_open(case, active.policy.policy.zone)
            self._mine(actor, case)
            subject_store.lock_subjects(conn, [case.subject_id])
            allowed = OUTCOMES[case.kind]
            if outcome not in allowed:
                raise FieldError(
                    "outcome",
                    f"{outcome!r} does not decide {'an' if case.kind == 'objection' else 'a'} "
                    f"{case.kind}: {' or '.join(allowed)}",
                )
            if correction and outcome != "corrected":
                raise FieldError("correction", "only a 'corrected' outcome takes a correction")
            history = record_store.record_history(conn, case.record_id)
            current = history[-1]
            new: NewVersion | None = None
            batch = f"review:{case.id}"
            if outcome == "corrected":
                new = _corrected(current, correction or {}, batch, _today(active, now))
            elif outcome == "retracted":
                new = record_store.next_version(current, RecordAction.RETRACT, batch, amount=None)
            elif outcome == "approved":
                new = record_store.next_version(
                    current, RecordAction.CORRECT, batch, repaired_on=_today(active, now)
                )
            if new is not None and current.withdrawn:
                raise Conflict(f"case: record {case.record_id} was withdrawn meanwhile")
            if new is not None:
                record_store.insert_versions(conn, [new], now=now)
            case_store.update_case(
                conn,
                case.id,
                status="decided",
                outcome=outcome,
                decided_at=now,
                decided_by=_who(actor),
                decision_reason=reason,
                result_version=new.version if new else None,
                assigned_to=case.assigned_to or _who(actor),
            )
            entries = [
                Entry(
                    "case.decide",
                    case.subject_id,
                    {"case": case.id, "outcome": outcome, "version": new.version if new else None},
                ),
            ]
            rescore_subjects(conn, active, [case.subject_id], now=now)
            remade: list[str] = []
            if new is not None:
                entries.append(
                    Entry(
                        "records.write",
                        case.subject_id,
                        {"record_id": case.record_id, "version": new.version, "batch": batch},
                    )
                )
            if outcome != "refused":
                # A new version, or a record no longer disputed (an upheld one counts again
                # if it was set aside): whoever relied on it gets the decision made again.
                remade, more = remake_decisions(
                    conn,
                    active,
                    actor,
                    [case.record_id],
                    now=now,
                    cause={"case": case.id, "record_id": case.record_id, "outcome": outcome},
                )
                entries.extend(more)
            # The subject and the record's provider hear of the outcome.
            told = [
                outbox.enqueue(
                    conn,
                    key_id=key,
                    subject_id=case.subject_id,
                    kind="case.decided",
                    payload={
                        "case": case.id,
                        "kind": case.kind,
                        "record_id": case.record_id,
                        "outcome": outcome,
                        "reason": reason,
                        "version": new.version if new else None,
                        "decisions": remade,
                    },
                    now=now,
                )
                for key in case_store.active_keys(
                    conn, subject_id=case.subject_id, provider=case.provider
                )
            ]
            case_store.add_event(
                conn,
                case.id,
                at=now,
                actor=_who(actor),
                role=actor.role.value,
                action="decided",
                detail={
                    "outcome": outcome,
                    "reason": reason,
                    "version": new.version if new else None,
                    "decisions": remade,
                    "notifications": told,
                },
            )
            entries[0].detail["notifications"] = told
            reg.audit.append(conn, actor, entries, now=now)
            return self._case_json(conn, active, case_store.get_case(conn, case.id), now)

    # -- what a subject may know -------------------------------------------------------------

    def access_log(
        self,
        actor: Actor,
        subject_ref: str,
        *,
        page: int,
        per_page: int,
        others_only: bool = False,
    ) -> dict[str, Any]:
        """Who looked at a subject's data or changed it, when, and for which purpose: the
        audit log's events about the subject, newest first; with ``others_only``, without
        the subject's own (a subject reading its file must not push the others out of
        sight)."""
        reg = self.registry
        now = reg.clock()
        with reg._transaction() as conn:
            subject, actor = reg._reader(conn, actor, subject_ref)
            total, rows = audit_store.events_about(
                conn,
                subject.id,
                offset=(page - 1) * per_page,
                limit=per_page,
                others_only=others_only,
            )
            items = [
                {
                    "event": e.seq,
                    "at": e.at.isoformat(),
                    "action": e.action,
                    "role": e.role,
                    "who": label or ("command line" if e.request_id.startswith("cli-") else e.role),
                    "key_id": e.key_id,
                    "purpose": e.purpose,
                    "own": e.role == Role.SUBJECT.value,
                }
                for e, label in rows
            ]
            reg.audit.append(conn, actor, [Entry("subject.access_log.read", subject.id)], now=now)
        return {
            "subject": subject.id,
            "total": total,
            "page": page,
            "per_page": per_page,
            "events": items,
        }

    def provider_quality(self, actor: Actor) -> dict[str, Any]:
        """Objections per provider: received, open, upheld, corrected, retracted, and the
        median review time."""
        if actor.role not in (Role.OPERATOR, Role.REVIEWER, Role.PROVIDER):
            raise Forbidden(f"{actor.role.with_article} key may not read quality figures")
        reg = self.registry
        now = reg.clock()
        with reg._transaction() as conn:
            rows = case_store.provider_quality(conn)
            if actor.role is Role.PROVIDER:
                rows = [q for q in rows if q.provider == actor.principal.provider]
            active = reg._policy(conn)
            reg.audit.append(
                conn,
                actor.with_purpose(actor.purpose or "registry_administration"),
                [Entry("providers.quality.read", None)],
                now=now,
            )
        providers = active.policy.providers
        return {
            "providers": [
                {
                    "provider": q.provider,
                    "title": providers[q.provider].title if q.provider in providers else q.provider,
                    "received": q.received,
                    "open": q.open,
                    "upheld": q.upheld,
                    "corrected": q.corrected,
                    "retracted": q.retracted,
                    "median_review_hours": q.median_review_hours,
                }
                for q in rows
            ]
        }

    # -- erasure -----------------------------------------------------------------------------

    def erase(self, actor: Actor, subject_ref: str, legal_basis: str) -> dict[str, Any]:
        """Remove a subject's personal data where the law requires it: name, identifiers,
        records and their versions, scores and list entries, decisions, cases with their
        history and files, and the contents of notifications about it. What stays: a
        tombstone row (the id and kind) and the audit log, whose events hold ids only, so
        the log still verifies and still says who looked, pseudonymously."""
        if actor.role is not Role.OPERATOR:
            raise Forbidden("only an operator erases a subject's data")
        legal_basis = _clean_text(
            "legal_basis", legal_basis, what="name the law that requires the erasure"
        )
        reg = self.registry
        now = reg.clock()
        with reg._transaction() as conn:
            subject = reg._subject(conn, subject_ref, actor)
            # Decisions and cases refer to the records: they go first.
            counts = {
                "decisions": decision_store.erase_subject_decisions(conn, subject.id),
                "evidence_files": case_store.erase_subject_cases(conn, subject.id),
                "notifications": outbox.erase_subject(conn, subject.id),
                "quarantined_files": _forget_quarantined(conn, subject, now),
            }
            counts.update(subject_store.erase_subject(conn, subject.id, now=now))
            reg.audit.append(
                conn,
                actor.with_purpose("registry_administration"),
                [Entry("subject.erase", subject.id, {"legal_basis": legal_basis, **counts})],
                now=now,
            )
        return {
            "subject": subject.id,
            "erased_at": now.isoformat(),
            "removed": counts,
            "legal_basis": legal_basis,
        }

    def notifications(self, actor: Actor, *, after: str | None, limit: int) -> dict[str, Any]:
        """What this key was told (decisions made again, evidence requests), oldest first
        after the cursor ``after`` (a notification id)."""
        if actor.key_id is None:
            raise Forbidden("notifications belong to a key")
        if after is not None:
            _text_id("after", after)
        reg = self.registry
        now = reg.clock()
        with reg._transaction() as conn:
            rows = outbox.for_recipient(conn, actor.key_id, after=after, limit=limit)
            by_subject: dict[int | None, list[str]] = {}
            for n in rows:
                by_subject.setdefault(n.subject_id, []).append(n.id)
            reg.audit.append(
                conn,
                actor,
                [
                    Entry("notifications.read", sid, {"notifications": ids})
                    for sid, ids in by_subject.items()
                ]
                or [Entry("notifications.read", None, {"notifications": []})],
                now=now,
            )
        return {
            "notifications": [_delivery_json(n) for n in rows],
            "next": rows[-1].id if rows else after,
        }

    def told_about(
        self, actor: Actor, subject_ref: str, *, page: int, per_page: int
    ) -> dict[str, Any]:
        """What was told to whom about a subject (the subject sees that they were told)."""
        reg = self.registry
        now = reg.clock()
        with reg._transaction() as conn:
            subject, actor = reg._reader(conn, actor, subject_ref)
            total, rows = outbox.about_subject(
                conn, subject.id, offset=(page - 1) * per_page, limit=per_page
            )
            reg.audit.append(
                conn, actor, [Entry("subject.notifications.read", subject.id)], now=now
            )
        return {
            "subject": subject.id,
            "total": total,
            "page": page,
            "per_page": per_page,
            "notifications": [
                _notification_json(n.notification, n.recipient_label or n.recipient_role)
                for n in rows
            ],
        }


def _forget_quarantined(conn: Connection, subject: Subject, now: datetime) -> int:
    """Quarantined files that name the subject (an identifier, or its name) lose their
    bytes, and their reports the problems, which quote rows. A provider's refused file
    is the registry's copy of personal data too."""
    needles = [i.value for i in subject.identifiers]
    if len(subject.name) >= 2:
        needles.append(subject.name)
    if not needles:
        return 0
    forgotten = 0
    for batch_id, fmt, encoding, data in batch_store.kept_quarantine_files(conn):
        if _mentions(data, fmt, encoding, needles):
            batch_store.forget_quarantine_file(conn, batch_id, now=now)
            forgotten += 1
    return forgotten


def _mentions(data: bytes, fmt: str, encoding: str | None, needles: list[str]) -> bool:
    """Whether a kept file holds any of ``needles``: in any text column of a Parquet file,
    or anywhere in a text file read as its encoding, UTF-8 or GB18030."""
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pq.read_table(pa.BufferReader(data))
        texts = [
            str(v)
            for column in table.columns
            if pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
            for v in column.to_pylist()
            if v is not None
        ]
        return any(n in t for t in texts for n in needles)
    for codec in dict.fromkeys([encoding or "utf-8", "utf-8-sig", "gb18030"]):
        text = data.decode(codec, errors="replace")
        if any(n in text for n in needles):
            return True
    return False


def remake_decisions(
    conn: Connection,
    active: ActivePolicy,
    actor: Actor,
    record_ids: list[int],
    *,
    now: datetime,
    cause: dict[str, Any],
) -> tuple[list[str], list[Entry]]:
    """Make again every current decision resting on these records, one per (relying
    party, measure, purpose), supersede the old ones, and tell each relying party through
    the outbox. Returns the new decision ids and their audit entries."""
    groups: dict[tuple[str, str, str, int], list[str]] = {}
    for d in decision_store.resting_on(conn, record_ids):
        groups.setdefault((d.key_id, d.measure, d.purpose, d.subject_id), []).append(d.id)
    made: list[str] = []
    entries: list[Entry] = []
    for (key_id, measure, purpose, subject_id), old in groups.items():
        subject = subject_store.get_subject(conn, subject_id)
        if subject is None or measure not in active.policy.measures:
            continue  # erased, or the measure is gone from the policy in force
        decision = decide_service.decide(
            conn,
            active,
            subject,
            measure_name=measure,
            purpose=purpose,
            now=now,
            key_id=key_id,
            request_id=actor.request_id,
            supersedes=tuple(old),
        )
        decision_store.supersede(conn, old, decision.id)
        note = outbox.enqueue(
            conn,
            key_id=key_id,
            subject_id=subject_id,
            kind="decision.superseded",
            payload={"decision": decision.as_json(), "supersedes": old, "cause": cause},
            now=now,
        )
        made.append(decision.id)
        entries.append(
            Entry(
                "decision.create",
                subject_id,
                {
                    "decision_id": decision.id,
                    "measure": measure,
                    "outcome": decision.outcome,
                    "supersedes": old,
                    "notification": note,
                    "recipient": key_id,
                },
            )
        )
    return made, entries


def _reading(actor: Actor) -> Actor:
    """The purpose a case reader is logged with."""
    if actor.role is Role.SUBJECT:
        return actor.with_purpose("data_subject_access")
    return actor.with_purpose(actor.purpose or "objection_review")


def _still_open(case: CaseRow, zone: ZoneInfo) -> None:
    """Refuse to change a decided case (its decision day as the jurisdiction counts)."""
    if not case.is_open:
        assert case.decided_at is not None
        raise Conflict(
            f"case: case {case.id} was decided ({case.outcome}) on "
            f"{format_date(case.decided_at.astimezone(zone).date())}; open a new one to "
            "contest the decision"
        )


def _text_id(field: str, value: str) -> None:
    if not value or len(value) > 64 or _CONTROL.search(value):
        raise FieldError(field, "is not an id")


def version_json(v: RecordVersion) -> dict[str, Any]:
    return {
        "version": v.version,
        "action": v.action.value,
        "record_type": v.record_type,
        "provider": v.provider,
        "valid_from": v.valid_from.isoformat(),
        "valid_to": v.valid_to.isoformat() if v.valid_to else None,
        "amount": str(v.amount) if v.amount is not None else None,
        "note": v.note,
        "repaired_on": v.repaired_on.isoformat() if v.repaired_on else None,
        "recorded_at": v.recorded_at.isoformat(),
    }


def _notification_json(n: StoredNotification, recipient: str | None = None) -> dict[str, Any]:
    return {
        "id": n.id,
        "kind": n.kind,
        "subject": n.subject_id,
        "created_at": n.created_at.isoformat(),
        "status": n.status,
        "delivered_at": n.delivered_at.isoformat() if n.delivered_at else None,
        "recipient": recipient or n.key_id,
        "data": n.payload,
    }


def _delivery_json(n: StoredNotification) -> dict[str, Any]:
    """A notification as its recipient reads it: with the webhook's attempts and error."""
    return {**_notification_json(n), "attempts": n.attempts, "last_error": n.last_error}


def _corrected(
    current: RecordVersion, correction: dict[str, Any], batch: str, today: date
) -> NewVersion:
    """The record as the reviewer corrected it; a FieldError naming ``correction.FIELD``."""
    known = {"valid_from", "valid_to", "amount", "note"}
    unknown = sorted(set(correction) - known)
    if unknown:
        raise FieldError(
            f"correction.{unknown[0]}",
            f"cannot be corrected here; a correction changes {', '.join(sorted(known))} "
            "(another type of record is another fact: retract this one)",
        )
    if not correction:
        raise FieldError("correction", "a 'corrected' outcome needs the corrected fields")

    def day(name: str) -> date | None:
        value = correction.get(name)
        if value is None or value == "":
            return None
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            raise FieldError(
                f"correction.{name}", f"{value!r} is not a date (YYYY-MM-DD)"
            ) from None

    valid_from = day("valid_from") or current.valid_from
    if valid_from > today:
        raise FieldError("correction.valid_from", f"{valid_from.isoformat()} is in the future")
    valid_to = day("valid_to") if "valid_to" in correction else current.valid_to
    if valid_to is not None and valid_to <= valid_from:
        raise FieldError("correction.valid_to", "must be after valid_from")
    amount: Decimal | None = current.amount
    if "amount" in correction:
        raw = correction["amount"]
        if raw is None or raw == "":
            amount = None
        else:
            try:
                amount = Decimal(str(raw))
            except InvalidOperation:
                raise FieldError("correction.amount", f"{raw!r} is not a number") from None
            if not amount.is_finite() or abs(amount) >= Decimal("1e16"):
                raise FieldError("correction.amount", f"{raw!r} is not an amount")
            if amount < 0:
                raise FieldError("correction.amount", f"{raw!r} is negative")
            if amount != amount.quantize(Decimal("0.01")):
                raise FieldError("correction.amount", f"{raw!r} has more than two decimals")
            amount = amount.quantize(Decimal("0.01"))
    note = current.note
    if "note" in correction:
        note = _clean_text("correction.note", str(correction["note"] or ""), required=False) or None
    new = record_store.next_version(
        current,
        RecordAction.CORRECT,
        batch,
        amount=amount,
        valid_from=valid_from,
        valid_to=valid_to,
        note=note,
    )
    if (new.valid_from, new.valid_to, new.amount, new.note) == (
        current.valid_from,
        current.valid_to,
        current.amount,
        current.note,
    ):
        raise FieldError("correction", "changes nothing; decide 'upheld' if the record stands")
    return new
