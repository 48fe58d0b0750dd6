"""SQL of review cases (objections and repair requests), their history and evidence.

A case row holds the current state; ``case_events`` holds every change in order and is
never updated. The one question scoring asks of this module is :func:`disputes_as_of`:
which records were under objection as known at time K, and was the review overdue then.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, case, delete, func, insert, or_, select, update

from trustledger.store.tables import UTCDateTime, api_keys, case_events, cases, evidence

__all__ = [
    "CaseEvent",
    "CaseRow",
    "EvidenceRow",
    "ProviderQuality",
    "add_event",
    "Dispute",
    "disputes_as_of",
    "erase_subject_cases",
    "events_of",
    "evidence_of",
    "get_case",
    "get_evidence",
    "insert_case",
    "insert_evidence",
    "list_cases",
    "open_case_of_record",
    "overdue_cases",
    "active_keys",
    "provider_quality",
    "update_case",
]

OPEN_STATUSES = ("open", "assigned", "awaiting_provider")


@dataclass(frozen=True, slots=True)
class CaseRow:
    id: str
    kind: str
    subject_id: int
    record_id: int
    record_version: int
    provider: str
    record_type: str
    reason: str
    fulfilled_on: date | None
    opened_at: datetime
    opened_by: str
    deadline: datetime
    status: str
    assigned_to: str | None
    outcome: str | None
    decided_at: datetime | None
    decided_by: str | None
    decision_reason: str | None
    result_version: int | None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass(frozen=True, slots=True)
class CaseEvent:
    at: datetime
    actor: str
    role: str
    action: str
    detail: dict[str, Any]


@dataclass(frozen=True, slots=True)
class EvidenceRow:
    id: str
    case_id: str
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_at: datetime
    uploaded_by: str
    role: str
    data: bytes | None = None


def _case(row: Any) -> CaseRow:
    return CaseRow(**{c.name: getattr(row, c.name) for c in cases.columns})


def insert_case(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(cases), values)


def get_case(conn: Connection, case_id: str, *, for_update: bool = False) -> CaseRow | None:
    """A case; ``for_update`` locks its row (PostgreSQL) so state changes form a sequence."""
    query = select(cases).where(cases.c.id == case_id)
    if for_update:
        query = query.with_for_update()
    row = conn.execute(query).first()
    return None if row is None else _case(row)


def update_case(conn: Connection, case_id: str, **values: Any) -> None:
    conn.execute(update(cases).where(cases.c.id == case_id).values(**values))


def open_case_of_record(conn: Connection, record_id: int, kind: str) -> CaseRow | None:
    row = conn.execute(
        select(cases).where(
            cases.c.record_id == record_id,
            cases.c.kind == kind,
            cases.c.status.in_(OPEN_STATUSES),
        )
    ).first()
    return None if row is None else _case(row)


def list_cases(
    conn: Connection,
    *,
    subject_id: int | None = None,
    provider: str | None = None,
    kind: str | None = None,
    open_only: bool = False,
    assigned_to: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[int, list[CaseRow]]:
    """Cases, open ones by deadline first (the queue's order), then decided ones newest
    first; with the total before paging."""
    conditions = []
    if subject_id is not None:
        conditions.append(cases.c.subject_id == subject_id)
    if provider is not None:
        conditions.append(cases.c.provider == provider)
    if kind is not None:
        conditions.append(cases.c.kind == kind)
    if open_only:
        conditions.append(cases.c.status.in_(OPEN_STATUSES))
    if assigned_to is not None:
        conditions.append(cases.c.assigned_to == assigned_to)
    total = conn.execute(select(func.count()).select_from(cases).where(*conditions)).scalar_one()
    decided = cases.c.decided_at.is_not(None)
    rows = conn.execute(
        select(cases)
        .where(*conditions)
        .order_by(
            decided,
            case((decided, None), else_=cases.c.deadline),  # open: nearest deadline first
            cases.c.decided_at.desc(),  # decided: newest first
            cases.c.id,
        )
        .offset(offset)
        .limit(limit)
    )
    return int(total), [_case(r) for r in rows]


_K = bindparam("known_at", type_=UTCDateTime())
_UPHELD = cases.alias("upheld")
# An earlier objection to the same version of the record, upheld by then.
_SETTLED = (
    select(_UPHELD.c.id)
    .where(
        _UPHELD.c.record_id == cases.c.record_id,
        _UPHELD.c.record_version == cases.c.record_version,
        _UPHELD.c.kind == "objection",
        _UPHELD.c.outcome == "upheld",
        _UPHELD.c.decided_at <= _K,
    )
    .exists()
)
_DISPUTES = select(cases.c.record_id, cases.c.deadline, _SETTLED).where(
    cases.c.kind == "objection",
    cases.c.opened_at <= _K,
    or_(cases.c.decided_at.is_(None), cases.c.decided_at > _K),
)
_DISPUTES_OF_SUBJECT = _DISPUTES.where(cases.c.subject_id == bindparam("subject_id"))


@dataclass(frozen=True, slots=True)
class Dispute:
    """A record under objection as known at some time."""

    #: The review deadline passed without a decision.
    overdue: bool
    #: An earlier objection to the same version was upheld: the facts were settled once.
    settled: bool


def disputes_as_of(
    conn: Connection, known_at: datetime, subject_id: int | None = None
) -> dict[int, Dispute]:
    """Record id -> its dispute, for every record under objection as known at
    ``known_at`` (opened by then and not yet decided then)."""
    params: dict[str, Any] = {"known_at": known_at}
    query = _DISPUTES
    if subject_id is not None:
        query, params["subject_id"] = _DISPUTES_OF_SUBJECT, subject_id
    out: dict[int, Dispute] = {}
    for record_id, deadline, settled in conn.execute(query, params):
        seen = out.get(record_id)
        out[record_id] = Dispute(
            overdue=(seen is not None and seen.overdue) or deadline <= known_at,
            settled=(seen is not None and seen.settled) or bool(settled),
        )
    return out


def overdue_cases(conn: Connection, now: datetime) -> list[CaseRow]:
    """Open cases whose deadline has passed and that were not yet flagged overdue."""
    flagged = select(case_events.c.case_id).where(case_events.c.action == "overdue")
    rows = conn.execute(
        select(cases)
        .where(
            cases.c.status.in_(OPEN_STATUSES),
            cases.c.deadline <= now,
            cases.c.id.not_in(flagged),
        )
        .order_by(cases.c.deadline)
    )
    return [_case(r) for r in rows]


def add_event(
    conn: Connection,
    case_id: str,
    *,
    at: datetime,
    actor: str,
    role: str,
    action: str,
    detail: dict[str, Any] | None = None,
) -> None:
    conn.execute(
        insert(case_events),
        {
            "case_id": case_id,
            "at": at,
            "actor": actor,
            "role": role,
            "action": action,
            "detail": json.dumps(detail or {}, ensure_ascii=False, sort_keys=True),
        },
    )


def events_of(conn: Connection, case_id: str) -> list[CaseEvent]:
    rows = conn.execute(
        select(case_events).where(case_events.c.case_id == case_id).order_by(case_events.c.id)
    )
    return [CaseEvent(r.at, r.actor, r.role, r.action, json.loads(r.detail)) for r in rows]


def insert_evidence(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(evidence), values)


_EVIDENCE_META = [c for c in evidence.columns if c.name != "data"]


def evidence_of(conn: Connection, case_ids: Sequence[str]) -> dict[str, list[EvidenceRow]]:
    """Evidence files (without their bytes) of these cases, oldest first."""
    out: dict[str, list[EvidenceRow]] = {cid: [] for cid in case_ids}
    if not case_ids:
        return out
    rows = conn.execute(
        select(*_EVIDENCE_META)
        .where(evidence.c.case_id.in_(list(case_ids)))
        .order_by(evidence.c.uploaded_at, evidence.c.id)
    )
    for r in rows:
        out[r.case_id].append(_evidence(r))
    return out


def _evidence(r: Any) -> EvidenceRow:
    """An evidence row, with its bytes when they were selected."""
    return EvidenceRow(**{name: getattr(r, name) for name in _EVIDENCE_FIELDS if name in r._fields})


_EVIDENCE_FIELDS = tuple(EvidenceRow.__dataclass_fields__)


def get_evidence(conn: Connection, evidence_id: str) -> EvidenceRow | None:
    r = conn.execute(select(evidence).where(evidence.c.id == evidence_id)).first()
    return None if r is None else _evidence(r)


@dataclass(frozen=True, slots=True)
class ProviderQuality:
    provider: str
    received: int
    open: int
    upheld: int
    corrected: int
    retracted: int
    #: Median time from objection to decision, in hours; None before any decision.
    median_review_hours: float | None


def provider_quality(conn: Connection) -> list[ProviderQuality]:
    """Objections per provider: received, still open, and how the decided ones ended."""
    rows = conn.execute(
        select(
            cases.c.provider, cases.c.status, cases.c.outcome, cases.c.opened_at, cases.c.decided_at
        ).where(cases.c.kind == "objection")
    )
    by: dict[str, dict[str, Any]] = {}
    for provider, status, outcome, opened_at, decided_at in rows:
        q = by.setdefault(
            provider,
            {"received": 0, "open": 0, "upheld": 0, "corrected": 0, "retracted": 0, "hours": []},
        )
        q["received"] += 1
        if status != "decided":
            q["open"] += 1
            continue
        if outcome in ("upheld", "corrected", "retracted"):
            q[outcome] += 1
        q["hours"].append((decided_at - opened_at).total_seconds() / 3600)
    return [
        ProviderQuality(
            provider=name,
            received=q["received"],
            open=q["open"],
            upheld=q["upheld"],
            corrected=q["corrected"],
            retracted=q["retracted"],
            median_review_hours=round(statistics.median(q["hours"]), 2) if q["hours"] else None,
        )
        for name, q in sorted(by.items())
    ]


def erase_subject_cases(conn: Connection, subject_id: int) -> int:
    """Erasure: a subject's cases go with their history and files (they quote its words
    and records). Returns the number of evidence files removed."""
    ids = select(cases.c.id).where(cases.c.subject_id == subject_id)
    files = conn.execute(delete(evidence).where(evidence.c.case_id.in_(ids))).rowcount
    conn.execute(delete(case_events).where(case_events.c.case_id.in_(ids)))
    conn.execute(delete(cases).where(cases.c.subject_id == subject_id))
    return int(files or 0)


def active_keys(
    conn: Connection, *, provider: str | None = None, subject_id: int | None = None
) -> list[str]:
    """The key ids, not revoked, of a provider and (or) of a subject: who is asked for
    evidence, and who hears a case's outcome."""
    bound = []
    if provider is not None:
        bound.append(api_keys.c.provider == provider)
    if subject_id is not None:
        bound.append(api_keys.c.subject_id == subject_id)
    if not bound:
        return []
    rows = conn.execute(
        select(api_keys.c.key_id)
        .where(or_(*bound), api_keys.c.revoked_at.is_(None))
        .order_by(api_keys.c.id)
    )
    return [r for (r,) in rows]
