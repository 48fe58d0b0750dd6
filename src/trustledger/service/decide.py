"""Purpose-bound decisions: may this subject get measure M, for purpose P?

A decision reads the subject's records as known at the moment it is made (so a record
stored a moment ago counts), scores them, and looks only at the domains the policy's
``affected_by`` allows for the measure:

- a ``record_types`` condition holds when a counting record of one of those types (in an
  allowed domain) is in the file;
- ``grade_at_most`` / ``grade_at_least`` compare the grade of the measure's own score
  (base plus the allowed domains' lines, see :func:`~trustledger.policy.evaluate.measure_score`);
- a ``lists`` condition holds when the subject is on the list by an entry that rests only
  on records of allowed domains. An entry that rests on the whole score (a threshold
  rule) counts only when the measure allows every domain of the policy.

A triggered sanction has the measure's effect (deny, or allow with conditions); an
untriggered one allows. A triggered incentive has its effect (allow, perhaps with
conditions); an untriggered one is denied. Reasons are at most four, most important
first, like an adverse-action notice: each has a stable code, a sentence, and the ids of
the records it rests on.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection

from trustledger.domain.record import RecordVersion
from trustledger.domain.score import Contribution, LineKind, ScoreResult, cents_to_points
from trustledger.domain.subject import Subject
from trustledger.policy.evaluate import measure_score
from trustledger.policy.explain import describe_line, describe_membership, format_points
from trustledger.policy.schema import Measure, Policy
from trustledger.service.policies import ActivePolicy
from trustledger.service.scoring import score_subject
from trustledger.store import decisions as decision_store

__all__ = ["MAX_REASONS", "Decision", "Reason", "decide"]

MAX_REASONS = 4


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    text: str
    record_ids: tuple[int, ...] = ()
    #: Some record it rests on is under objection.
    disputed: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "text": self.text,
            "record_ids": list(self.record_ids),
            "disputed": self.disputed,
        }


@dataclass(frozen=True, slots=True)
class Decision:
    id: str
    made_at: datetime
    as_of: date
    subject_id: int
    measure: str
    measure_kind: str
    purpose: str
    outcome: str
    triggered: bool
    conditions: tuple[str, ...]
    reasons: tuple[Reason, ...]
    measure_score_cents: int
    measure_grade: str
    policy_version: str
    #: Every (record id, version) a reason rests on.
    record_versions: tuple[tuple[int, int], ...]
    #: The earlier decisions this one makes again, after a record they rested on changed.
    supersedes: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "decision_id": self.id,
            "made_at": self.made_at.isoformat(),
            "as_of": self.as_of.isoformat(),
            "subject": self.subject_id,
            "measure": self.measure,
            "measure_kind": self.measure_kind,
            "purpose": self.purpose,
            "outcome": self.outcome,
            "triggered": self.triggered,
            "conditions": list(self.conditions),
            "reasons": [r.as_json() for r in self.reasons],
            "measure_score": float(cents_to_points(self.measure_score_cents)),
            "measure_grade": self.measure_grade,
            "policy_version": self.policy_version,
            "supersedes": list(self.supersedes),
        }


@dataclass(slots=True)
class _Found:
    importance: int
    reason: Reason
    lines: list[Contribution]


def _domains_title(policy: Policy, measure: Measure) -> str:
    titles = [
        f"“{policy.domains[d].title}”" if d in policy.domains else d for d in measure.affected_by
    ]
    if len(titles) == 1:
        return f"the domain {titles[0]}"
    return "the domains " + ", ".join(titles[:-1]) + " and " + titles[-1]


def _reason(code: str, text: str, lines: list[Contribution], importance: int) -> _Found:
    ids = tuple(dict.fromkeys(line.record_id for line in lines if line.record_id is not None))
    disputed = any(line.disputed for line in lines)
    if disputed:
        text += " A record this rests on is under objection and may change."
    return _Found(importance, Reason(code, text, ids, disputed), lines)


def _conditions(
    policy: Policy,
    measure: Measure,
    result: ScoreResult,
    records: list[RecordVersion],
    score_cents: int,
    grade: str,
) -> tuple[list[_Found], list[_Found]]:
    """(conditions that hold, conditions that do not), each with its reason."""
    allowed = set(measure.affected_by)
    lines = [
        line for line in result.lines if line.kind is LineKind.RECORD and line.domain in allowed
    ]
    negative = sorted((ln for ln in lines if ln.cents < 0), key=lambda ln: ln.cents)
    positive = sorted((ln for ln in lines if ln.cents > 0), key=lambda ln: -ln.cents)
    held: list[_Found] = []
    missed: list[_Found] = []
    as_of = result.as_of
    scope = _domains_title(policy, measure)
    score_text = (
        f"The score on {scope} records only is {format_points(score_cents)} (grade {grade})"
    )
    when = measure.when

    for rtype in when.record_types:
        matching = sorted(
            (ln for ln in lines if ln.record_type == rtype),
            key=lambda ln: ln.valid_from or as_of,
            reverse=True,
        )
        title = policy.record_types[rtype].title if rtype in policy.record_types else rtype
        if matching:
            first = describe_line(matching[0], policy, as_of=as_of)
            more = f" ({len(matching) - 1} more of this type)" if len(matching) > 1 else ""
            held.append(
                _reason(
                    f"record_type.{rtype}",
                    f"{first}{more}.",
                    matching,
                    10**12 + sum(abs(ln.full_cents or ln.cents) for ln in matching),
                )
            )
        else:
            missed.append(
                _reason(
                    f"record_type.{rtype}.absent",
                    f"No counting record of type “{title}” is in the file.",
                    [],
                    0,
                )
            )

    rank = policy.grade_rank
    if when.grade_at_most is not None:
        holds = rank(grade) >= rank(when.grade_at_most)
        text = f"{score_text}; the measure applies at grade {when.grade_at_most} or worse."
        if holds:
            held.append(
                _reason("grade.at_most", text, negative, 10**11 + sum(-ln.cents for ln in negative))
            )
        else:
            missed.append(_reason("grade.above", text, [], 0))
    if when.grade_at_least is not None:
        holds = rank(grade) <= rank(when.grade_at_least)
        text = f"{score_text}; the measure needs grade {when.grade_at_least} or better."
        if holds:
            held.append(_reason("grade.at_least", text, positive, 10**11))
        else:
            missed.append(
                _reason("grade.below", text, negative, 10**11 + sum(-ln.cents for ln in negative))
            )

    domain_of = {
        r.record_id: policy.record_types[r.record_type].domain
        for r in records
        if r.record_type in policy.record_types
    }
    by_id = {ln.record_id: ln for ln in result.lines if ln.record_id is not None}
    every_domain = allowed >= set(policy.domains)
    for list_name in when.lists:
        entries = [m for m in result.lists if m.list == list_name]
        usable = [
            m
            for m in entries
            if (m.record_ids and all(domain_of.get(i) in allowed for i in m.record_ids))
            or (not m.record_ids and every_domain)
        ]
        title = policy.lists[list_name].title if list_name in policy.lists else list_name
        if usable:
            m = usable[0]
            rested = [by_id[i] for i in m.record_ids if i in by_id]
            held.append(
                _reason(
                    f"list.{list_name}",
                    describe_membership(m, policy) + ".",
                    rested,
                    10**12 + sum(abs(ln.cents) for ln in rested),
                )
            )
        elif entries:
            missed.append(
                _reason(
                    f"list.{list_name}.other_domains",
                    f"The subject is on “{title}”, but by an entry that rests on records "
                    f"this measure may not consider; the entry is not used.",
                    [],
                    0,
                )
            )
        else:
            missed.append(
                _reason(f"list.{list_name}.absent", f"The subject is not on “{title}”.", [], 0)
            )
    return held, missed


def decide(
    conn: Connection,
    active: ActivePolicy,
    subject: Subject,
    *,
    measure_name: str,
    purpose: str,
    now: datetime,
    key_id: str,
    request_id: str,
    supersedes: tuple[str, ...] = (),
) -> Decision:
    """Decide and store the decision in ``conn``'s transaction (the caller audits it).

    The measure and purpose must already be checked against the policy and the caller's
    registration.
    """
    policy = active.policy
    measure = policy.measures[measure_name]
    result, records = score_subject(conn, active, subject, known_at=now)
    score_cents, grade = measure_score(result, policy, measure_name)
    held, missed = _conditions(policy, measure, result, records, score_cents, grade)
    triggered = bool(held)
    if triggered:
        outcome = measure.effect
        found = sorted(held, key=lambda f: -f.importance)
    else:
        outcome = "allow" if measure.kind == "sanction" else "deny"
        found = sorted(missed, key=lambda f: -f.importance)
        if measure.kind == "sanction":
            found = [
                _reason(
                    "not_triggered",
                    f"None of the conditions of “{measure.title}” holds. "
                    + " ".join(f.reason.text for f in found[: MAX_REASONS - 1]),
                    [],
                    0,
                )
            ]
    chosen = found[:MAX_REASONS]
    conditions = measure.conditions if outcome == "allow_with_conditions" else ()
    versions = tuple(
        dict.fromkeys(
            (ln.record_id, ln.record_version)
            for f in chosen
            for ln in f.lines
            if ln.record_id is not None and ln.record_version is not None
        )
    )
    decision = Decision(
        id=f"dec_{uuid.uuid4().hex}",
        made_at=now,
        as_of=result.as_of,
        subject_id=subject.id,
        measure=measure_name,
        measure_kind=measure.kind,
        purpose=purpose,
        outcome=outcome,
        triggered=triggered,
        conditions=tuple(conditions),
        reasons=tuple(f.reason for f in chosen),
        measure_score_cents=score_cents,
        measure_grade=grade,
        policy_version=active.label,
        record_versions=versions,
        supersedes=supersedes,
    )
    decision_store.insert_decision(
        conn,
        id=decision.id,
        made_at=now,
        as_of=decision.as_of,
        subject_id=subject.id,
        measure=measure_name,
        purpose=purpose,
        outcome=outcome,
        measure_score_cents=score_cents,
        measure_grade=grade,
        body=decision.as_json(),
        record_versions=list(versions),
        # What it rests on, for who must hear of a change: every record of the measure's
        # domains in the file, counting or not (one set aside while disputed counts
        # again after the review and can change the outcome).
        rests_on=[
            (r.record_id, r.version)
            for r in records
            if not r.withdrawn
            and (rt := policy.record_types.get(r.record_type)) is not None
            and rt.domain in measure.affected_by
        ],
        policy_version_id=active.stored.id,
        key_id=key_id,
        request_id=request_id,
    )
    return decision
