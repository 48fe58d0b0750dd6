"""Scoring use cases: score everyone into a stored run; explain one subject.

Both call the same pure evaluator (:func:`trustledger.policy.evaluate.evaluate`); the
store only chooses which record versions were known at the time asked about.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine

from trustledger.domain.record import RecordVersion
from trustledger.domain.score import ListMembership, ScoreResult, cents_to_points
from trustledger.domain.subject import Subject
from trustledger.errors import Conflict, NotFound
from trustledger.policy.evaluate import evaluate
from trustledger.policy.explain import describe_line, describe_membership, explain_text
from trustledger.policy.schema import Policy
from trustledger.service.policies import ActivePolicy, active_policy
from trustledger.store import cases as case_store
from trustledger.store import records as record_store
from trustledger.store import scores as score_store
from trustledger.store import subjects as subject_store
from trustledger.store.scores import ListEntryRow, RunInfo, ScoreRow

__all__ = [
    "Explanation",
    "RunSummary",
    "explain_subject",
    "membership_json",
    "rescore_subjects",
    "resolve_subject",
    "score_all",
    "score_subject",
    "with_disputes",
]


@dataclass(frozen=True, slots=True)
class RunSummary:
    run: RunInfo
    grades: dict[str, int]
    lists: dict[str, int]


def score_all(
    engine: Engine,
    *,
    as_of: date,
    known_at: datetime,
    now: datetime,
    policy_ref: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    current: bool | None = None,
    begin: Callable[[], AbstractContextManager[Connection]] | None = None,
    engine_name: str = "python",
    engine_options: dict[str, Any] | None = None,
) -> RunSummary:
    """Score every subject as of ``as_of`` with the records known at ``known_at``; store
    the run. ``progress(done, total)`` is called as subjects are scored.

    The run also becomes the current state (what the public register reads) when
    ``current``, by default when it is today's view (``as_of`` is ``now``'s day in the
    policy's time zone, ``known_at`` is ``now``) under the policy in force: a run for
    another day or policy is history, not the register. ``begin`` opens the write
    transaction (default ``engine.begin``).

    ``engine_name`` chooses how: ``"python"`` evaluates subject by subject as the records
    stream from the store (memory stays flat); ``"duckdb"`` and ``"spark"`` run the
    policy compiled into a columnar job (:mod:`trustledger.batch`) with the same results.
    Either way the run is stored in one transaction.
    """
    if engine_name == "python":
        active, score_rows, list_rows, n_records = _evaluate_streaming(
            engine, as_of=as_of, known_at=known_at, policy_ref=policy_ref, progress=progress
        )
    else:
        active, score_rows, list_rows, n_records = _evaluate_batch(
            engine,
            as_of=as_of,
            known_at=known_at,
            policy_ref=policy_ref,
            engine_name=engine_name,
            engine_options=engine_options,
        )
    if progress is not None:
        progress(len(score_rows), len(score_rows))
    if current is None:
        current = (
            policy_ref is None
            and known_at == now
            and as_of == now.astimezone(active.policy.policy.zone).date()
        )
    with (begin or engine.begin)() as conn:
        run_id = score_store.save_run(
            conn,
            policy_version_id=active.stored.id,
            as_of=as_of,
            known_at=known_at,
            started_at=now,
            score_rows=score_rows,
            list_rows=list_rows,
            record_count=n_records,
        )
        if current:
            score_store.replace_current(
                conn,
                score_rows=score_rows,
                list_rows=list_rows,
                as_of=as_of,
                known_at=known_at,
                policy_version_id=active.stored.id,
                now=now,
            )
        run = score_store.latest_run(conn)
        assert run is not None and run.id == run_id
        counts = score_store.grade_counts(conn, run_id)
        # Best grade first, every grade shown (a zero is news too).
        grades = {band.grade: counts.get(band.grade, 0) for band in active.policy.grades}
        return RunSummary(run, grades, score_store.list_sizes(conn, run_id))


_Evaluated = tuple[ActivePolicy, list[ScoreRow], list[ListEntryRow], int]


def _evaluate_streaming(
    engine: Engine,
    *,
    as_of: date,
    known_at: datetime,
    policy_ref: str | None,
    progress: Callable[[int, int], None] | None,
) -> _Evaluated:
    """Every subject's score and list entries by the evaluator, subject by subject as the
    records stream from the store, in one read-only transaction."""
    score_rows: list[ScoreRow] = []
    list_rows: list[ListEntryRow] = []
    n_records = 0
    reader = engine.connect().execution_options(read_only=True)
    try:
        with reader.begin():
            active = active_policy(reader, policy_ref)
            total = subject_store.count_subjects(reader)
            policy, label = active.policy, active.label
            disputes = case_store.disputes_as_of(reader, known_at)
            for sid, kind, recs in record_store.iter_current_by_subject(reader, known_at=known_at):
                if disputes:
                    recs = with_disputes(recs, disputes)
                result = evaluate(
                    policy,
                    recs,
                    subject_id=sid,
                    subject_kind=kind,
                    as_of=as_of,
                    policy_version=label,
                )
                n_records += len(recs)
                score_rows.append(ScoreRow(sid, result.score_cents, result.grade))
                for m in result.lists:
                    list_rows.append(
                        ListEntryRow(sid, m.list, m.rule, m.since, m.until, m.public, m.reason)
                    )
                if progress is not None and len(score_rows) % 1000 == 0:
                    progress(len(score_rows), total)
    finally:
        reader.close()
    return active, score_rows, list_rows, n_records


def _evaluate_batch(
    engine: Engine,
    *,
    as_of: date,
    known_at: datetime,
    policy_ref: str | None,
    engine_name: str,
    engine_options: dict[str, Any] | None,
) -> _Evaluated:
    """The same rows from a columnar batch engine reading the store."""
    from trustledger.service.batch import run_rows, score_store

    with engine.connect() as conn:
        active = active_policy(conn, policy_ref)
    batch = score_store(
        engine,
        active.policy,
        engine_name=engine_name,
        as_of=as_of,
        known_at=known_at,
        policy_version=active.label,
        options=engine_options,
    )
    score_rows, list_rows = run_rows(batch)
    return active, score_rows, list_rows, batch.record_count


def resolve_subject(engine: Engine, ref: str) -> Subject:
    """One subject by id or identifier value; a clear error when none or several match."""
    with engine.connect() as conn:
        found = subject_store.find_subjects(conn, ref)
    if not found:
        raise NotFound(
            f"no subject {ref!r}: give a subject id or an identifier "
            "(USCC or resident identity number); see `trustledger subjects`"
        )
    if len(found) > 1:
        ids = ", ".join(f"#{s.id} ({s.name})" for s in found)
        raise Conflict(f"{ref!r} matches several subjects: {ids}; give the id")
    return found[0]


def membership_json(
    m: ListMembership, policy: Policy, result: ScoreResult | None = None
) -> dict[str, Any]:
    """A list entry as the CLI's and the API's JSON show it. With the ``result`` it comes
    from, an entry resting on a record under objection says so."""
    disputed = result is not None and any(
        line.disputed for line in result.lines if line.record_id in m.record_ids
    )
    text = describe_membership(m, policy)
    if disputed:
        text += ". A record this entry rests on is under objection and may change"
    return {
        "list": m.list,
        "kind": m.kind,
        "rule": m.rule,
        "since": m.since.isoformat(),
        "until": m.until.isoformat() if m.until else None,
        "public": m.public,
        "record_ids": list(m.record_ids),
        "reason": m.reason,
        "disputed": disputed,
        "text": text,
    }


@dataclass(frozen=True, slots=True)
class Explanation:
    subject: Subject
    result: ScoreResult
    policy: ActivePolicy
    known_at: datetime
    records: tuple[RecordVersion, ...]

    def text(self) -> list[str]:
        return explain_text(self.result, self.policy.policy)

    def as_json(self) -> dict[str, Any]:
        """The shape ``trustledger explain --json`` prints (documented in docs/cli.md)."""
        r, policy = self.result, self.policy.policy
        refs = {rec.record_id: rec.reference for rec in self.records}
        return {
            "subject": {
                "id": self.subject.id,
                "kind": self.subject.kind.value,
                "name": self.subject.name,
                "identifiers": [
                    {"kind": i.kind, "value": i.value} for i in self.subject.identifiers
                ],
            },
            "policy_version": r.policy_version,
            "as_of": r.as_of.isoformat(),
            "known_at": self.known_at.isoformat(),
            "base": float(r.base),
            "score": float(r.score),
            "grade": r.grade,
            "contributions": [
                {
                    "kind": line.kind.value,
                    "rule": line.rule,
                    "record_id": line.record_id,
                    "record_version": line.record_version,
                    "record_type": line.record_type,
                    "reference": refs.get(line.record_id) if line.record_id is not None else None,
                    "provider": line.provider,
                    "domain": line.domain,
                    "valid_from": line.valid_from.isoformat() if line.valid_from else None,
                    "points": float(line.points),
                    "full_points": float(cents_to_points(line.full_cents))
                    if line.full_cents is not None
                    else None,
                    "stops_counting": line.stops_counting.isoformat()
                    if line.stops_counting
                    else None,
                    "disputed": line.disputed,
                    "text": describe_line(line, policy, as_of=r.as_of),
                }
                for line in r.lines
            ],
            "lists": [membership_json(m, policy, r) for m in r.lists],
            "not_counted": [
                {"record_id": n.record_id, "record_type": n.record_type, "reason": n.reason}
                for n in r.not_counted
            ],
        }


def explain_subject(
    engine: Engine,
    ref: str,
    *,
    as_of: date,
    known_at: datetime,
    policy_ref: str | None = None,
) -> Explanation:
    """Score one subject afresh and keep everything needed to explain it."""
    subject = resolve_subject(engine, ref)
    with engine.connect().execution_options(read_only=True) as conn, conn.begin():
        active = active_policy(conn, policy_ref)
        result, recs = score_subject(conn, active, subject, known_at=known_at, as_of=as_of)
    return Explanation(subject, result, active, known_at, tuple(recs))


def score_subject(
    conn: Connection,
    active: ActivePolicy,
    subject: Subject,
    *,
    known_at: datetime,
    as_of: date | None = None,
) -> tuple[ScoreResult, list[RecordVersion]]:
    """Score ``subject`` from every record known at ``known_at`` (retractions included, so
    the result can say why they do not count), as of ``as_of``: by default the day
    ``known_at`` falls on in the policy's time zone."""
    records = record_store.records_as_of(
        conn, subject.id, known_at=known_at, include_retracted=True
    )
    disputes = case_store.disputes_as_of(conn, known_at, subject.id)
    if disputes:
        records = with_disputes(records, disputes)
    if as_of is None:
        as_of = known_at.astimezone(active.policy.policy.zone).date()
    result = evaluate(
        active.policy,
        records,
        subject_id=subject.id,
        subject_kind=subject.kind,
        as_of=as_of,
        policy_version=active.label,
    )
    return result, records


def with_disputes(
    records: list[RecordVersion], disputes: dict[int, case_store.Dispute]
) -> list[RecordVersion]:
    """Mark the records under objection, as the store's
    :func:`~trustledger.store.cases.disputes_as_of` found them."""
    return [
        replace(
            r,
            disputed=True,
            review_overdue=disputes[r.record_id].overdue,
            dispute_settled=disputes[r.record_id].settled,
        )
        if r.record_id in disputes
        else r
        for r in records
    ]


def rescore_subjects(
    conn: Connection,
    active: ActivePolicy,
    subject_ids: list[int],
    *,
    now: datetime,
) -> dict[int, ScoreResult]:
    """Score these subjects afresh as of ``now`` and make the results their current state
    (the public register reads it), in the caller's transaction."""
    # Two rescores of one subject at once would both replace its current rows.
    subject_store.lock_subjects(conn, subject_ids)
    results: dict[int, ScoreResult] = {}
    score_rows: list[ScoreRow] = []
    list_rows: list[ListEntryRow] = []
    for sid in sorted(set(subject_ids)):
        subject = subject_store.get_subject(conn, sid)
        if subject is None:
            continue
        result, _ = score_subject(conn, active, subject, known_at=now)
        results[sid] = result
        score_rows.append(ScoreRow(sid, result.score_cents, result.grade))
        list_rows.extend(
            ListEntryRow(sid, m.list, m.rule, m.since, m.until, m.public, m.reason)
            for m in result.lists
        )
    as_of = now.astimezone(active.policy.policy.zone).date()
    score_store.replace_current(
        conn,
        score_rows=score_rows,
        list_rows=list_rows,
        as_of=as_of,
        known_at=now,
        policy_version_id=active.stored.id,
        now=now,
        subject_ids=sorted(set(subject_ids)),
    )
    return results
