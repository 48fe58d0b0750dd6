"""The routes of identity review, for reviewers and operators: the queue of proposed
links, one decision with what was compared, accepting or rejecting a link, merging and
splitting subjects, a subject's identity history. Thin calls into
:class:`~trustledger.service.identity.Identity`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from trustledger.service.identity import Identity
from trustledger.web import models as m
from trustledger.web.deps import MAX_INT, Keyed, Page, PerPage, actor, run_use_case

__all__ = ["router"]

router = APIRouter()

DecisionId = Annotated[int, PathParam(ge=1, le=MAX_INT, description="The identity decision's id.")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReasonIn(_In):
    reason: str = Field(min_length=1, max_length=4000, description="Why, for the history")


class MergeIn(_In):
    survivor: str = Field(min_length=1, max_length=64, description="The subject that stays")
    absorbed: str = Field(min_length=1, max_length=64, description="The subject merged into it")
    reason: str = Field(min_length=1, max_length=4000)


class SplitIn(_In):
    subject: str = Field(min_length=1, max_length=64, description="The subject to split")
    reason: str = Field(min_length=1, max_length=4000)
    records: list[Annotated[int, Field(ge=1, le=MAX_INT)]] = Field(
        default_factory=list, max_length=1000, description="Records to split off"
    )
    to: str | None = Field(
        default=None, max_length=64, description="Move them to this subject, not a new one"
    )
    undo: int | None = Field(
        default=None, ge=1, le=MAX_INT, description="Undo this merge or accepted link instead"
    )


class IdentityDecision(BaseModel):
    """One identity decision. ``explanation`` holds the match weight's parts: the prior,
    and per compared field its level and weight; ``evidence`` the reason, the records
    moved, the review it settles."""

    id: int
    kind: str
    outcome: str | None
    record_id: int | None
    subject: int
    other_subject: int | None
    match_weight: float | None
    match_probability: float | None
    explanation: dict[str, Any]
    evidence: dict[str, Any]
    decided_at: str
    decided_by: str
    role: str
    live: bool
    ended_at: str | None
    ended_by: int | None


class IdentityDecisionDetail(IdentityDecision):
    """A decision with what a reviewer compares: both subjects, their profiles (each
    source's name, birth date, address, phone), the record, and after a change the
    subjects' new scores."""

    subjects: list[dict[str, Any] | None]
    profiles: dict[str, list[dict[str, Any]]]
    record: dict[str, Any] | None = None
    rescored: dict[str, Any] | None = None


class IdentityQueue(BaseModel):
    total: int
    page: int
    per_page: int
    decisions: list[IdentityDecisionDetail]


class IdentityHistory(BaseModel):
    subject: int
    total: int
    page: int
    per_page: int
    decisions: list[IdentityDecision]


def _identity(request: Request) -> Identity:
    return Identity(request.app.state.registry)


@router.get(
    "/v1/identity/queue", tags=["identity"], response_model=IdentityQueue, responses=m.ERRORS
)
async def get_queue(
    request: Request, who: Keyed, page: Page = 1, per_page: PerPage = 50
) -> dict[str, Any]:
    """Records waiting for a reviewer to accept or reject a proposed link to a subject,
    oldest first. A queued record counts only for the subject proposed for it."""
    return await run_use_case(
        request, _identity(request).queue, actor(request, who), page=page, per_page=per_page
    )


@router.get(
    "/v1/identity/decisions/{decision_id}",
    tags=["identity"],
    response_model=IdentityDecisionDetail,
    responses=m.ERRORS,
)
async def get_decision(request: Request, decision_id: DecisionId, who: Keyed) -> dict[str, Any]:
    """One identity decision: the match weight and each compared field's part of it."""
    return await run_use_case(request, _identity(request).show, actor(request, who), decision_id)


@router.post(
    "/v1/identity/decisions/{decision_id}/accept",
    tags=["identity"],
    response_model=IdentityDecisionDetail,
    responses=m.ERRORS,
)
async def post_accept(
    request: Request, decision_id: DecisionId, body: ReasonIn, who: Keyed
) -> dict[str, Any]:
    """Accept a proposed link: the subject proposed for the record is merged into the
    candidate; both are rescored in the same transaction."""
    return await run_use_case(
        request, _identity(request).accept, actor(request, who), decision_id, body.reason
    )


@router.post(
    "/v1/identity/decisions/{decision_id}/reject",
    tags=["identity"],
    response_model=IdentityDecisionDetail,
    responses=m.ERRORS,
)
async def post_reject(
    request: Request, decision_id: DecisionId, body: ReasonIn, who: Keyed
) -> dict[str, Any]:
    """Reject a proposed link: the record stays with the subject proposed for it."""
    return await run_use_case(
        request, _identity(request).reject, actor(request, who), decision_id, body.reason
    )


@router.post(
    "/v1/identity/merges",
    tags=["identity"],
    response_model=IdentityDecisionDetail,
    status_code=201,
    responses=m.ERRORS,
)
async def post_merge(request: Request, body: MergeIn, who: Keyed) -> dict[str, Any]:
    """Merge two registrations of one subject: the absorbed one's records move to the
    survivor by new versions, it is no longer found, both are rescored."""
    return await run_use_case(
        request,
        _identity(request).merge,
        actor(request, who),
        body.survivor,
        body.absorbed,
        body.reason,
    )


@router.post(
    "/v1/identity/splits",
    tags=["identity"],
    response_model=IdentityDecisionDetail,
    status_code=201,
    responses=m.ERRORS,
)
async def post_split(request: Request, body: SplitIn, who: Keyed) -> dict[str, Any]:
    """Split records off a subject (to a new subject, or ``to`` another), or ``undo`` a
    merge or an accepted link; both subjects are rescored."""
    return await run_use_case(
        request,
        _identity(request).split,
        actor(request, who),
        body.subject,
        body.reason,
        records=body.records,
        undo=body.undo,
        to=body.to,
    )


@router.get(
    "/v1/identity/subjects/{subject}/history",
    tags=["identity"],
    response_model=IdentityHistory,
    responses=m.ERRORS,
)
async def get_history(
    request: Request, subject: str, who: Keyed, page: Page = 1, per_page: PerPage = 50
) -> dict[str, Any]:
    """Every identity decision naming the subject (attached, queued, merged, split),
    newest first."""
    return await run_use_case(
        request,
        _identity(request).history,
        actor(request, who),
        subject,
        page=page,
        per_page=per_page,
    )
