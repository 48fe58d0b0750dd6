"""The result of scoring one subject: a score that is always the sum of its lines.

All points are integers in hundredths of a point ("cents") so that
``score_cents == base_cents + sum(line.cents for line in lines)`` holds exactly, on every
engine. :func:`cents_to_points` turns them into decimals for people.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from trustledger.domain.record import RecordId
from trustledger.domain.subject import SubjectId

__all__ = [
    "Contribution",
    "LineKind",
    "ListMembership",
    "NotCounted",
    "ScoreResult",
    "cents_to_points",
]


def cents_to_points(cents: int) -> Decimal:
    """>>> cents_to_points(-10607)
    Decimal('-106.07')"""
    return Decimal(cents).scaleb(-2)


class LineKind(StrEnum):
    RECORD = "record"  # one record's points after decay
    CAP = "cap"  # a per-domain cap, as an explicit adjustment
    BOUND = "bound"  # the policy's min_score / max_score


@dataclass(frozen=True, slots=True)
class Contribution:
    """One line of a score. Record lines carry the record; adjustment lines do not."""

    kind: LineKind
    rule: str  # "record_types.<type>", "domains.<domain>.cap_negative", "policy.min_score"
    cents: int
    domain: str | None = None
    record_id: RecordId | None = None
    record_version: int | None = None
    record_type: str | None = None
    provider: str | None = None
    valid_from: date | None = None
    full_cents: int | None = None  # the points before decay
    stops_counting: date | None = None
    disputed: bool = False
    #: Under objection again after an earlier objection to this version was upheld: it
    #: keeps counting until the new one is decided, whatever the deadline.
    dispute_settled: bool = False

    @property
    def points(self) -> Decimal:
        return cents_to_points(self.cents)


@dataclass(frozen=True, slots=True)
class NotCounted:
    """A record in the file that does not count as of the scoring date, and why."""

    record_id: RecordId
    record_type: str
    reason: str  # "expired", "not yet valid", "ended", "retracted", "not applicable",
    # "disputed", "review overdue", "repaired", "past retention", "unknown record type"


@dataclass(frozen=True, slots=True)
class ListMembership:
    """The subject is on a red or black list as of the scoring date."""

    list: str
    kind: str  # "red" | "black"
    rule: str
    since: date
    until: date | None  # None: while the condition holds, no end can be projected
    reason: str
    record_ids: tuple[RecordId, ...] = ()
    public: bool = False


@dataclass(frozen=True, slots=True)
class ScoreResult:
    subject_id: SubjectId
    as_of: date
    policy_version: str
    base_cents: int
    score_cents: int
    grade: str
    lines: tuple[Contribution, ...]
    lists: tuple[ListMembership, ...] = ()
    not_counted: tuple[NotCounted, ...] = ()

    @property
    def score(self) -> Decimal:
        return cents_to_points(self.score_cents)

    @property
    def base(self) -> Decimal:
        return cents_to_points(self.base_cents)

    def domain_totals(self) -> dict[str, int]:
        """Cents per domain, caps included."""
        totals: dict[str, int] = {}
        for line in self.lines:
            if line.domain is not None:
                totals[line.domain] = totals.get(line.domain, 0) + line.cents
        return totals
