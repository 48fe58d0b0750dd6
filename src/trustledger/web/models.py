"""Request and response bodies of the HTTP API, as the OpenAPI schema shows them."""

from __future__ import annotations

import builtins
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

__all__ = [
    "ERRORS",
    "AuditEvent",
    "BatchReport",
    "ConsistencyProof",
    "Decision",
    "DecisionRequest",
    "Error",
    "Explanation",
    "Health",
    "InclusionProof",
    "PublicList",
    "PublicOrganisation",
    "RecordBatch",
    "RecordIn",
    "SignedTreeHead",
    "SubjectDecisions",
    "SubjectFile",
    "SubjectScore",
    "WhoAmI",
]

Scalar = str | int | float


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RecordIn(_In):
    """One record, with the fields of a batch file (see docs/cli.md, "ingest"). A
    retraction needs only ``reference`` and ``action``; the others are checked by the
    registry, which names every missing one as ``records[I].FIELD``."""

    reference: str = Field(min_length=1, max_length=200, description="The provider's own id.")
    action: Literal["create", "correct", "retract"] | None = None
    subject_id_kind: str | None = Field(default=None, max_length=40, examples=["uscc"])
    subject_id: str | None = Field(default=None, max_length=64)
    subject_name: str | None = Field(default=None, max_length=500)
    record_type: str | None = Field(default=None, max_length=100)
    valid_from: str | None = Field(default=None, max_length=10, examples=["2026-03-12"])
    valid_to: str | None = Field(default=None, max_length=10)
    amount: Scalar | None = None
    note: str | None = Field(default=None, max_length=2000)


class RecordBatch(_In):
    records: list[RecordIn] = Field(min_length=1, max_length=10_000)


class DecisionRequest(_In):
    subject: StrictInt | Annotated[StrictStr, Field(min_length=1, max_length=64)] = Field(
        description="Subject id or identifier (USCC, resident identity number)."
    )
    measure: str = Field(min_length=1, max_length=100, examples=["loan_rate_review"])
    purpose: str = Field(min_length=1, max_length=100, examples=["credit_assessment"])


class Health(BaseModel):
    status: str
    version: str


class WhoAmI(BaseModel):
    key_id: str | None
    role: str
    label: str
    provider: str | None
    measures: list[str]
    subject: int | None


class Error(BaseModel):
    error: str = Field(description="A stable code: unauthenticated, forbidden, not_found, ...")
    detail: str
    request_id: str
    field: str | None = None
    problems: list[dict[str, Any]] | None = None


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Error, "description": "No key, or an unknown or revoked one"},
    403: {"model": Error, "description": "This key may not do this; the detail says why"},
    404: {"model": Error, "description": "Not found"},
    409: {"model": Error, "description": "Conflicts with what is stored"},
    422: {"model": Error, "description": "Bad input; names the field"},
    429: {"model": Error, "description": "Rate limit; see Retry-After"},
}


class BatchReport(BaseModel):
    batch: str
    provider: str
    rows: int
    created: int
    corrected: int
    retracted: int
    unchanged: int
    new_subjects: int
    policy_version: str


class Identifier(BaseModel):
    kind: str
    value: str


class SubjectRef(BaseModel):
    id: int
    kind: str
    name: str
    identifiers: list[Identifier]


class FileRecord(BaseModel):
    record_id: int
    version: int
    reference: str | None
    provider: str
    provider_title: str
    record_type: str
    title: str
    domain: str | None
    legal_basis: str | None
    action: str
    valid_from: str
    valid_to: str | None
    recorded_at: str
    amount: str | None
    note: str | None
    disputed: bool
    status: str = Field(description='"counting", or why the record does not count')
    points: float
    text: str
    repaired_on: str | None
    open_cases: list[str] = Field(description="Open objections or repair requests about it")
    versions: list[RecordVersionOut] = Field(description="Every version known now, oldest first")


class RecordVersionOut(BaseModel):
    version: int
    action: str = Field(description="create, correct, retract or expire")
    record_type: str
    provider: str
    valid_from: str
    valid_to: str | None
    amount: str | None
    note: str | None
    repaired_on: str | None
    recorded_at: str


class OutlookOut(BaseModel):
    day: str
    score: float
    grade: str
    lists: list[str] = Field(description='"list:rule" of every entry on that day')


class ListEffectOut(BaseModel):
    list: str
    rule: str
    until: str | None


class RepairPathOut(BaseModel):
    record_id: int
    record_type: str
    text: str = Field(description="The path in plain words")
    stops_counting: str
    lists: list[ListEffectOut]
    repairable: bool
    cure: str
    repair_from: str | None = Field(description="The earliest day repair may be asked")
    next_change: OutlookOut | None = Field(
        description="The first day the grade or the list entries change with no action"
    )
    after_repair: OutlookOut | None = Field(description="The status if repaired on repair_from")


class FileCase(BaseModel):
    id: str
    kind: str
    record_id: int
    status: str
    deadline: str
    outcome: str | None


class SubjectFile(BaseModel):
    subject: SubjectRef
    as_of: str
    policy_version: str
    score: float
    grade: str
    grade_meaning: str
    explanation: list[str] = Field(description="The score in plain sentences, line by line")
    lists: list[ListEntry]
    records: list[FileRecord]
    paths_to_repair: list[RepairPathOut] = Field(
        description="For each negative counting record: what cures it and when things change"
    )
    cases: list[FileCase]


class ListEntry(BaseModel):
    list: str
    kind: str
    rule: str
    since: str
    until: str | None
    public: bool
    record_ids: builtins.list[int]
    reason: str
    disputed: bool = Field(description="A record the entry rests on is under objection")
    text: str


class SubjectScore(BaseModel):
    subject: int
    as_of: str
    policy_version: str
    score: float
    base: float
    grade: str
    grade_meaning: str
    lists: list[ListEntry]


class Explanation(BaseModel):
    """The shape of ``trustledger explain --json`` (docs/cli.md)."""

    model_config = ConfigDict(extra="allow")

    subject: SubjectRef
    policy_version: str
    as_of: str
    known_at: str
    base: float
    score: float
    grade: str
    contributions: list[dict[str, Any]]
    lists: list[dict[str, Any]]
    not_counted: list[dict[str, Any]]


class Reason(BaseModel):
    code: str = Field(description="Stable: record_type.TYPE, grade.at_most, list.NAME, ...")
    text: str
    record_ids: list[int]
    disputed: bool


class Decision(BaseModel):
    decision_id: str
    made_at: str
    as_of: str
    subject: int
    measure: str
    measure_kind: Literal["incentive", "sanction"]
    purpose: str
    outcome: Literal["allow", "deny", "allow_with_conditions"]
    triggered: bool
    conditions: list[str]
    reasons: list[Reason] = Field(max_length=4)
    measure_score: float
    measure_grade: str
    policy_version: str
    supersedes: list[str] = Field(
        default_factory=list,
        description="Earlier decisions this one makes again after a record they rested on "
        "was corrected, retracted or repaired",
    )
    superseded_by: str | None = Field(
        default=None,
        description="When reading a decision: the decision made again after a record it "
        "rested on changed (the relying party was sent it)",
    )


class DecisionAbout(Decision):
    key_id: str = Field(description="The key of the relying party that asked.")
    asked_by: str | None = Field(
        description="Who holds that key, as its label says (None if it has none)."
    )


class SubjectDecisions(BaseModel):
    subject: int
    total: int
    page: int
    per_page: int
    decisions: list[DecisionAbout]


class AuditEvent(BaseModel):
    event: int
    at: str
    request_id: str
    key_id: str | None
    role: str
    purpose: str | None
    action: str
    subject_id: int | None
    detail: dict[str, Any]
    leaf_data: str = Field(
        description="The exact UTF-8 text whose RFC 6962 leaf hash is in the tree: the "
        "event's columns as JSON with sorted keys, no spaces, detail as a string"
    )
    leaf_hash: str = Field(description="base64 SHA-256(0x00 || leaf_data)")


class PublicRecord(BaseModel):
    record_type: str
    title: str
    domain: str
    valid_from: str | None
    valid_to: str | None
    provider: str | None
    points: float
    legal_basis: str
    disputed: bool


class PublicListEntry(BaseModel):
    list: str
    kind: str
    title: str
    rule: str
    since: str
    until: str | None
    text: str


class PublicSearchHit(BaseModel):
    name: str
    uscc: str
    grade: str | None = Field(description="None until the organisation is first scored.")
    grade_meaning: str | None
    public_lists: list[str] = Field(description="The public lists it is on today, by name.")


class PublicSearch(BaseModel):
    q: str
    total: int
    page: int
    per_page: int
    results: list[PublicSearchHit]


class PublicRating(BaseModel):
    """The latest rated record of a domain (an inspection), as the door sign shows it."""

    domain: str
    domain_title: str
    rating: Literal["excellent", "good", "fair", "poor"]
    record_type: str
    title: str
    inspected_on: str
    provider: str
    disputed: bool


class PublicOrganisation(BaseModel):
    uscc: str
    name: str
    as_of: str
    policy_version: str
    grade: str
    grade_meaning: str
    lists: list[PublicListEntry]
    records: list[PublicRecord]
    ratings: list[PublicRating] = Field(
        description="Per domain, the latest public record whose type carries a rating "
        "(a food-safety inspection), whether or not it still counts."
    )


class PublicListRow(BaseModel):
    name: str
    kind: str
    identifiers: list[Identifier]
    rule: str
    since: str
    until: str | None


class PublicList(BaseModel):
    list: str
    kind: str
    title: str
    description: str
    legal_basis: str
    persons_published: bool
    as_of: str | None = Field(
        description="The newest day the entries were computed for (a score run, or a "
        "rescore after a review, repair or maintenance); null before any scoring"
    )
    updated_at: str | None
    total: int
    page: int
    per_page: int
    entries: builtins.list[PublicListRow]


class SignedTreeHead(BaseModel):
    tree_size: int
    timestamp_ms: int
    timestamp: str | None
    root: str = Field(description="base64 SHA-256 root (RFC 6962 MTH)")
    signature: str = Field(description="base64 Ed25519 signature over the RFC 6962 §3.5 bytes")
    public_key: str = Field(description="base64 raw Ed25519 public key")
    key_fingerprint: str


class InclusionProof(BaseModel):
    event: int
    leaf_hash: str
    tree_size: int
    proof: list[str]
    tree_head: SignedTreeHead


class ConsistencyProof(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: int = Field(alias="from")
    to: int
    proof: list[str]
    from_head: SignedTreeHead
    to_head: SignedTreeHead


# -- subject rights (issue 6) -----------------------------------------------------------------


class CaseSummary(BaseModel):
    id: str = Field(description="obj_... (an objection) or rep_... (a repair request)")
    kind: str = Field(description="objection or repair")
    status: str = Field(description="open, assigned, awaiting_provider or decided")
    subject: int
    record_id: int
    record_type: str
    record_title: str
    provider: str
    opened_at: str
    deadline: str
    overdue: bool = Field(
        description="Open past its deadline (an objection's record then does not count)"
    )
    assigned_to: str | None
    outcome: str | None = Field(description="upheld, corrected, retracted, approved, refused")
    decided_at: str | None
    files: int


class EvidenceOut(BaseModel):
    id: str
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_at: str
    role: str


class CaseEventOut(BaseModel):
    at: str
    role: str
    action: str
    detail: dict[str, Any]


class Case(CaseSummary):
    reason: str
    fulfilled_on: str | None
    opened_by: str
    decided_by: str | None
    decision_reason: str | None
    result_version: int | None = Field(description="The record version the decision wrote")
    record: list[RecordVersionOut] = Field(description="The record's versions, oldest first")
    evidence: list[EvidenceOut]
    history: list[CaseEventOut]


class CaseList(BaseModel):
    total: int
    page: int
    per_page: int
    cases: list[CaseSummary]


class AssignIn(_In):
    reviewer: str | None = Field(
        default=None,
        max_length=32,
        description="An operator gives the case to this reviewer key id; "
        "a reviewer leaves it out to take the case",
    )


class EvidenceRequestIn(_In):
    message: str = Field(min_length=1, max_length=4000, description="What the provider should send")


class CaseDecisionIn(_In):
    outcome: Literal["upheld", "corrected", "retracted", "approved", "refused"]
    reason: str = Field(
        min_length=1, max_length=4000, description="Why, in words the subject reads"
    )
    correction: dict[str, StrictStr | None] | None = Field(
        default=None,
        description="For 'corrected': the new valid_from, valid_to, amount or note",
        examples=[{"amount": "1200.00"}],
    )


class EraseIn(_In):
    legal_basis: str = Field(
        min_length=1, max_length=4000, description="The law that requires the erasure"
    )


class Erasure(BaseModel):
    subject: int
    erased_at: str
    legal_basis: str
    removed: dict[str, int]


class AccessEvent(BaseModel):
    event: int = Field(description="The audit event (its proof: /v1/audit/proof/inclusion/N)")
    at: str
    action: str
    role: str
    who: str = Field(description="The label of the key, or 'command line'")
    key_id: str | None
    purpose: str | None
    own: bool = Field(description="The subject's own look")


class AccessLog(BaseModel):
    subject: int
    total: int
    page: int
    per_page: int
    events: list[AccessEvent]


class ProviderQualityRow(BaseModel):
    provider: str
    title: str
    received: int
    open: int
    upheld: int
    corrected: int
    retracted: int
    median_review_hours: float | None


class ProviderQuality(BaseModel):
    providers: list[ProviderQualityRow]


class NotificationOut(BaseModel):
    id: str
    kind: str = Field(description="decision.superseded, evidence.requested, ...")
    subject: int | None
    created_at: str
    status: str = Field(description="pending, delivered, failed, or none (no webhook)")
    delivered_at: str | None
    recipient: str
    data: dict[str, Any]
    attempts: int | None = Field(
        default=None, description="The recipient's own view: webhook attempts so far"
    )
    last_error: str | None = Field(
        default=None, description="The recipient's own view: why the last attempt failed"
    )


class Notifications(BaseModel):
    notifications: list[NotificationOut]
    next: str | None = Field(description="Pass as ?after= to read the next ones")


class ToldAbout(BaseModel):
    subject: int
    total: int
    page: int
    per_page: int
    notifications: list[NotificationOut]
