"""Records: append-only, bitemporal facts about a subject.

A record has a *valid time* (``valid_from`` to ``valid_to``: when the fact holds in the
world) and a *recorded time* (``recorded_at``: when the registry learned this version).
A correction or a retraction never changes a stored row; it appends a new
:class:`RecordVersion` with the next version number. The registry therefore answers
"what did we know about subject S on day K, about the world on day D?".

A point event (a late payment, a fare evasion) is valid from the day it happened with no
end: the fact that it happened stays true; the policy decides how long it counts. A state
(an outstanding tax arrear, a revoked licence) has a ``valid_to`` once it ends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from trustledger.domain.subject import SubjectId

__all__ = ["RecordAction", "RecordId", "RecordVersion"]

RecordId = int


class RecordAction(StrEnum):
    """What a version did to its record."""

    CREATE = "create"
    CORRECT = "correct"
    RETRACT = "retract"
    #: The end of the record's retention: it leaves the subject's file (written by
    #: ``trustledger maintain``, never by a provider).
    EXPIRE = "expire"


@dataclass(frozen=True, slots=True)
class RecordVersion:
    """One stored version of a record. Never mutated; a new version supersedes it."""

    record_id: RecordId
    version: int
    subject_id: SubjectId
    record_type: str
    provider: str
    valid_from: date
    recorded_at: datetime
    action: RecordAction = RecordAction.CREATE
    valid_to: date | None = None
    reference: str | None = None
    amount: Decimal | None = None
    note: str | None = None
    #: Under objection as known at the time asked about (set from the review cases).
    disputed: bool = False
    #: Under objection and the review deadline has passed without a decision.
    review_overdue: bool = False
    #: Credit repair approved: from this day the record no longer counts or lists.
    repaired_on: date | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    # Last: store/records.py fills the fields above by position (it builds millions).
    #: Under objection again, though an earlier objection to this same version was
    #: reviewed and upheld: the facts were settled once, so the record keeps counting
    #: until the new objection is decided (a subject cannot keep a record set aside by
    #: objecting to it again and again).
    dispute_settled: bool = False

    @property
    def retracted(self) -> bool:
        return self.action is RecordAction.RETRACT

    @property
    def withdrawn(self) -> bool:
        """Retracted by its provider or expired at the end of its retention."""
        return self.action is RecordAction.RETRACT or self.action is RecordAction.EXPIRE

    def valid_on(self, day: date) -> bool:
        """True when the fact holds on ``day`` (valid time only)."""
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)
