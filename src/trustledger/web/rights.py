"""The routes of subject rights: objections and repair requests with evidence files, the
reviewers' queue and decisions, who looked, what recipients were told, provider quality,
erasure. Thin calls into :class:`~trustledger.service.rights.Rights`."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile

from trustledger.service.rights import MAX_EVIDENCE_BYTES, MAX_FILES, Rights
from trustledger.web import models as m
from trustledger.web.deps import (
    Keyed,
    Page,
    PerPage,
    Purpose,
    actor,
    evidence_response,
    read_uploads,
    run_use_case,
)

__all__ = ["router"]

router = APIRouter()

Files = Annotated[
    list[UploadFile] | None,
    File(
        description=f"Evidence: PDF, PNG, JPEG, WebP or UTF-8 text, at most "
        f"{MAX_EVIDENCE_BYTES // 1024 // 1024} MiB each and {MAX_FILES} a request",
    ),
]
RecordIdForm = Annotated[int, Form(ge=1, le=2**53, description="The record's id in the file")]
# Not required by the schema: an empty reason reaches the service, which says what to write.
ReasonForm = Annotated[str, Form(max_length=4000, description="Why, in your own words")]


def _rights(request: Request) -> Rights:
    rights: Rights = request.app.state.registry.rights
    return rights


@router.post(
    "/v1/subjects/{subject}/objections",
    tags=["rights"],
    response_model=m.Case,
    status_code=201,
    responses=m.ERRORS,
)
async def post_objection(
    request: Request,
    subject: str,
    who: Keyed,
    record_id: RecordIdForm,
    reason: ReasonForm = "",
    files: Files = None,
) -> dict[str, Any]:
    """Object to a record of the file (``multipart/form-data``). The record is disputed at
    once: the policy says per record type whether it keeps counting until the review
    decides, and it stops counting if the review deadline passes without a decision."""
    uploads = await read_uploads(files or [])
    return await run_use_case(
        request,
        _rights(request).open_objection,
        actor(request, who),
        subject,
        record_id,
        reason,
        uploads,
    )


@router.post(
    "/v1/subjects/{subject}/repairs",
    tags=["rights"],
    response_model=m.Case,
    status_code=201,
    responses=m.ERRORS,
)
async def post_repair(
    request: Request,
    subject: str,
    who: Keyed,
    record_id: RecordIdForm,
    fulfilled_on: Annotated[date, Form(description="The day the obligation was fulfilled")],
    files: Annotated[
        list[UploadFile],
        File(
            description="Proof that the obligation was fulfilled: PDF, PNG, JPEG, WebP or "
            f"UTF-8 text, at most {MAX_EVIDENCE_BYTES // 1024 // 1024} MiB each and "
            f"{MAX_FILES} a request",
        ),
    ],
    reason: ReasonForm = "",
) -> dict[str, Any]:
    """Ask for credit repair of a negative record once the obligation is fulfilled and the
    policy's waiting period has passed, with proof (``multipart/form-data``)."""
    uploads = await read_uploads(files or [])
    return await run_use_case(
        request,
        _rights(request).request_repair,
        actor(request, who),
        subject,
        record_id,
        fulfilled_on,
        reason,
        uploads,
    )


@router.get(
    "/v1/subjects/{subject}/cases", tags=["rights"], response_model=m.CaseList, responses=m.ERRORS
)
async def get_subject_cases(
    request: Request,
    subject: str,
    who: Keyed,
    purpose: Purpose = None,
    page: Page = 1,
    per_page: PerPage = 50,
) -> dict[str, Any]:
    """A subject's objections and repair requests with their progress."""
    return await run_use_case(
        request,
        _rights(request).cases,
        actor(request, who, purpose),
        subject_ref=subject,
        page=page,
        per_page=per_page,
    )


@router.get(
    "/v1/subjects/{subject}/access-log",
    tags=["rights"],
    response_model=m.AccessLog,
    responses=m.ERRORS,
)
async def get_access_log(
    request: Request,
    subject: str,
    who: Keyed,
    purpose: Purpose = None,
    page: Page = 1,
    per_page: PerPage = 50,
    others_only: Annotated[
        bool, Query(description="Leave out the subject's own reads and writes.")
    ] = False,
) -> dict[str, Any]:
    """Who looked at the file or changed it, when, and for which stated purpose: the audit
    log's events about the subject, newest first (each provable with its event number)."""
    return await run_use_case(
        request,
        _rights(request).access_log,
        actor(request, who, purpose),
        subject,
        page=page,
        per_page=per_page,
        others_only=others_only,
    )


@router.get(
    "/v1/subjects/{subject}/notifications",
    tags=["rights"],
    response_model=m.ToldAbout,
    responses=m.ERRORS,
)
async def get_told_about(
    request: Request,
    subject: str,
    who: Keyed,
    purpose: Purpose = None,
    page: Page = 1,
    per_page: PerPage = 50,
) -> dict[str, Any]:
    """What relying parties and providers were told about the subject (a decision made
    again after a correction, a request for evidence), and whether it was delivered."""
    return await run_use_case(
        request,
        _rights(request).told_about,
        actor(request, who, purpose),
        subject,
        page=page,
        per_page=per_page,
    )


@router.post(
    "/v1/subjects/{subject}/erasure",
    tags=["rights"],
    response_model=m.Erasure,
    responses=m.ERRORS,
)
async def post_erasure(
    request: Request, subject: str, body: m.EraseIn, who: Keyed
) -> dict[str, Any]:
    """Erase a subject's personal data where the law requires it (operators only). The
    audit log keeps its events, which hold ids only, and still verifies."""
    return await run_use_case(
        request, _rights(request).erase, actor(request, who), subject, body.legal_basis
    )


@router.get("/v1/cases", tags=["review"], response_model=m.CaseList, responses=m.ERRORS)
async def get_cases(
    request: Request,
    who: Keyed,
    open: Annotated[bool, Query(description="Only cases not yet decided")] = True,
    kind: Annotated[str | None, Query(max_length=20, description="objection or repair")] = None,
    page: Page = 1,
    per_page: PerPage = 50,
) -> dict[str, Any]:
    """The review queue, nearest deadline first (reviewers and operators); a provider sees
    the cases about its records; a subject its own."""
    return await run_use_case(
        request,
        _rights(request).cases,
        actor(request, who),
        open_only=open,
        kind=kind,
        page=page,
        per_page=per_page,
    )


@router.get("/v1/cases/{case_id}", tags=["review"], response_model=m.Case, responses=m.ERRORS)
async def get_case(request: Request, case_id: str, who: Keyed) -> dict[str, Any]:
    """A case with its record's versions, evidence files and history."""
    return await run_use_case(request, _rights(request).case, actor(request, who), case_id)


@router.post(
    "/v1/cases/{case_id}/assign", tags=["review"], response_model=m.Case, responses=m.ERRORS
)
async def post_assign(
    request: Request, case_id: str, who: Keyed, body: m.AssignIn | None = None
) -> dict[str, Any]:
    """A reviewer takes a case (no body, or ``{}``); an operator gives it to a reviewer."""
    return await run_use_case(
        request,
        _rights(request).assign,
        actor(request, who),
        case_id,
        body.reviewer if body is not None else None,
    )


@router.post(
    "/v1/cases/{case_id}/evidence-requests",
    tags=["review"],
    response_model=m.Case,
    responses=m.ERRORS,
)
async def post_evidence_request(
    request: Request, case_id: str, body: m.EvidenceRequestIn, who: Keyed
) -> dict[str, Any]:
    """Ask the record's provider for its evidence: each of its keys is notified."""
    return await run_use_case(
        request, _rights(request).request_evidence, actor(request, who), case_id, body.message
    )


@router.post(
    "/v1/cases/{case_id}/evidence",
    tags=["review"],
    response_model=m.Case,
    responses=m.ERRORS,
)
async def post_evidence(
    request: Request,
    case_id: str,
    who: Keyed,
    files: Files = None,
    note: Annotated[str, Form(max_length=4000, description="What the files show")] = "",
) -> dict[str, Any]:
    """More evidence for an open case: from its subject, the record's provider, or staff."""
    uploads = await read_uploads(files or [])
    return await run_use_case(
        request, _rights(request).add_evidence, actor(request, who), case_id, uploads, note
    )


@router.post(
    "/v1/cases/{case_id}/decision",
    tags=["review"],
    response_model=m.Case,
    responses=m.ERRORS,
)
async def post_case_decision(
    request: Request, case_id: str, body: m.CaseDecisionIn, who: Keyed
) -> dict[str, Any]:
    """Decide a case with a written reason: an objection is upheld, corrected or
    retracted; a repair approved or refused. A correction, retraction or repair is a new
    version of the record; the subject is rescored and whoever received a decision resting
    on the record gets it made again, in the same transaction."""
    return await run_use_case(
        request,
        _rights(request).decide,
        actor(request, who),
        case_id,
        body.outcome,
        body.reason,
        dict(body.correction) if body.correction is not None else None,
    )


@router.get(
    "/v1/evidence/{evidence_id}",
    tags=["review"],
    responses={**m.ERRORS, 200: {"content": {"application/octet-stream": {}}}},
    response_class=Response,
)
async def get_evidence(request: Request, evidence_id: str, who: Keyed) -> Response:
    """An evidence file, for whoever may read its case."""
    found = await run_use_case(
        request, _rights(request).evidence_file, actor(request, who), evidence_id
    )
    return evidence_response(*found)


@router.get(
    "/v1/providers/quality",
    tags=["review"],
    response_model=m.ProviderQuality,
    responses=m.ERRORS,
)
async def get_quality(request: Request, who: Keyed) -> dict[str, Any]:
    """Objections per provider: received, open, upheld, corrected, retracted, and the median
    review time (staff: all providers; a provider: its own)."""
    return await run_use_case(request, _rights(request).provider_quality, actor(request, who))


@router.get(
    "/v1/notifications",
    tags=["decisions"],
    response_model=m.Notifications,
    responses=m.ERRORS,
)
async def get_notifications(
    request: Request,
    who: Keyed,
    after: Annotated[str | None, Query(max_length=64, description="The last id read")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> dict[str, Any]:
    """What this key was told, oldest first: decisions made again after a record they
    rested on changed, requests for evidence. The same messages go to the key's webhook."""
    return await run_use_case(
        request, _rights(request).notifications, actor(request, who), after=after, limit=limit
    )
