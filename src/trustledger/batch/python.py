"""The reference engine: the per-subject evaluator over every subject.

Slow (a Python loop over subjects) and exact by definition: the other engines are tested
against it. Loads the whole population into memory; use it for tests and small runs.
"""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import UTC, date, datetime

import pyarrow as pa

from trustledger.batch.engine import BatchEngine, Source
from trustledger.batch.job import (
    CONTRIBUTIONS,
    DOMAIN_TOTALS,
    LISTS,
    NOT_COUNTED,
    SCORES,
    BatchResult,
)
from trustledger.domain.record import RecordAction, RecordVersion
from trustledger.domain.score import LineKind
from trustledger.domain.subject import SubjectKind
from trustledger.policy.evaluate import evaluate
from trustledger.policy.schema import Policy

__all__ = ["PythonEngine"]

_ACTIONS = {a.value: a for a in RecordAction}
#: Not used by the evaluator; the source already chose the version current as known.
_RECORDED = datetime(1970, 1, 1, tzinfo=UTC)


class PythonEngine(BatchEngine):
    name = "python"

    def score(
        self,
        source: Source,
        policy: Policy,
        *,
        as_of: date,
        policy_version: str,
        contributions: bool = False,
    ) -> BatchResult:
        started = time.perf_counter()
        subjects = pa.Table.from_batches(list(source.subject_batches()))
        by_subject: dict[int, list[RecordVersion]] = defaultdict(list)
        n_records = 0
        for batch in source.record_batches():
            for row in batch.to_pylist():
                by_subject[row["subject_id"]].append(
                    RecordVersion(
                        record_id=row["record_id"],
                        version=row["version"],
                        subject_id=row["subject_id"],
                        record_type=row["record_type"],
                        provider=row["provider"],
                        valid_from=row["valid_from"],
                        recorded_at=_RECORDED,
                        action=_ACTIONS[row["action"]],
                        valid_to=row["valid_to"],
                        disputed=row["disputed"],
                        review_overdue=row["review_overdue"],
                        repaired_on=row["repaired_on"],
                        dispute_settled=row["dispute_settled"],
                    )
                )
        scores: list[dict[str, object]] = []
        lists: list[dict[str, object]] = []
        totals: list[dict[str, object]] = []
        lines: list[dict[str, object]] = []
        not_counted: list[dict[str, object]] = []
        ids = subjects.column("subject_id").to_pylist()
        kinds = subjects.column("kind").to_pylist()
        for sid, kind in sorted(zip(ids, kinds, strict=True)):
            records = by_subject.get(sid, [])
            n_records += len(records)
            result = evaluate(
                policy,
                records,
                subject_id=sid,
                subject_kind=SubjectKind(kind),
                as_of=as_of,
                policy_version=policy_version,
            )
            scores.append(
                {"subject_id": sid, "score_cents": result.score_cents, "grade": result.grade}
            )
            for m in result.lists:
                lists.append(
                    {
                        "subject_id": sid,
                        "list": m.list,
                        "kind": m.kind,
                        "rule": m.rule,
                        "since": m.since,
                        "until": m.until,
                        "public": m.public,
                        "reason": m.reason,
                        "record_ids": list(m.record_ids),
                    }
                )
            by_domain: dict[str, int] = {}
            for line in result.lines:
                if line.kind is not LineKind.BOUND and line.domain is not None:
                    by_domain[line.domain] = by_domain.get(line.domain, 0) + line.cents
            totals.extend(
                {"subject_id": sid, "domain": d, "cents": c} for d, c in sorted(by_domain.items())
            )
            if contributions:
                lines.extend(
                    {
                        "subject_id": sid,
                        "kind": line.kind.value,
                        "rule": line.rule,
                        "cents": line.cents,
                        "domain": line.domain,
                        "record_id": line.record_id,
                        "record_version": line.record_version,
                        "record_type": line.record_type,
                        "provider": line.provider,
                        "valid_from": line.valid_from,
                        "full_cents": line.full_cents,
                        "stops_counting": line.stops_counting,
                        "disputed": line.disputed,
                        "dispute_settled": line.dispute_settled,
                    }
                    for line in result.lines
                )
                not_counted.extend(
                    {
                        "subject_id": sid,
                        "record_id": n.record_id,
                        "record_type": n.record_type,
                        "reason": n.reason,
                    }
                    for n in result.not_counted
                )
        return BatchResult(
            engine=self.name,
            as_of=as_of,
            policy_version=policy_version,
            scores=pa.Table.from_pylist(scores, SCORES),
            lists=pa.Table.from_pylist(lists, LISTS),
            domain_totals=pa.Table.from_pylist(totals, DOMAIN_TOTALS),
            contributions=pa.Table.from_pylist(lines, CONTRIBUTIONS) if contributions else None,
            not_counted=pa.Table.from_pylist(not_counted, NOT_COUNTED) if contributions else None,
            record_count=n_records,
            subject_count=len(ids),
            seconds=time.perf_counter() - started,
        )
