"""The reviewer's desk: the queue by deadline; a case with its record, evidence and
history; take it, ask the provider, add evidence, decide with a reason. Also the download
of an evidence file, for everyone who may see its case."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from trustledger.domain.principal import Role
from trustledger.errors import TrustledgerError
from trustledger.service.policies import current_policy
from trustledger.service.rights import OUTCOMES
from trustledger.web.deps import evidence_response, read_uploads, run_use_case
from trustledger.web.pages.common import (
    PostedForm,
    V,
    Viewer,
    check_csrf,
    field_of,
    message_of,
    need,
    page,
    pages_of,
    redirect,
    registry,
)

router = APIRouter(include_in_schema=False)
STAFF = (Role.REVIEWER, Role.OPERATOR)
REVIEW = "objection_review"
PER_PAGE = 25
#: The correction's fields: the service's name -> the form's (the evidence form has a
#: note of its own).
CORRECTION_FIELDS = {
    "valid_from": "valid_from",
    "valid_to": "valid_to",
    "amount": "amount",
    "note": "correction_note",
}


@router.get("/desk", response_class=HTMLResponse)
async def queue(
    request: Request,
    who: V,
    show: Annotated[str, Query(pattern="^(open|all)$")] = "open",
    page_no: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
) -> Response:
    refused = need(request, who, *STAFF)
    if refused is not None:
        return refused
    found = await run_use_case(
        request,
        registry(request).rights.cases,
        who.actor(request, REVIEW),
        open_only=show == "open",
        page=page_no,
        per_page=PER_PAGE,
    )
    pages = pages_of(found["total"], PER_PAGE)
    active = await run_use_case(request, current_policy, registry(request).engine)
    providers = {name: p.title for name, p in active.policy.providers.items()}
    return page(request, who, "desk.html", found=found, show=show, pages=pages, providers=providers)


async def _case_page(
    request: Request,
    who: Viewer,
    case_id: str,
    status: int = 200,
    *,
    done: str | None = None,
    error: str | None = None,
    field: str | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    reg = registry(request)
    actor = who.actor(request, REVIEW)
    case = await run_use_case(request, reg.rights.case, actor, case_id)
    score = await run_use_case(request, reg.subject_score, actor, str(case["subject"]))
    return page(
        request,
        who,
        "case.html",
        status,
        case=case,
        staff=True,
        score=score,
        outcomes=OUTCOMES.get(case["kind"], ()),
        done=done,
        error=error,
        field=field,
        form=form or {},
        opened=False,
    )


@router.get("/desk/cases/{case_id}", response_class=HTMLResponse)
async def case(request: Request, who: V, case_id: str) -> Response:
    refused = need(request, who, *STAFF)
    if refused is not None:
        return refused
    done = request.query_params.get("done")
    return await _case_page(request, who, case_id[:64], done=done[:20] if done else None)


@router.get("/desk/cases/{case_id}/{action}")
async def act_reloaded(request: Request, case_id: str, action: str) -> Response:
    """A step's address reloaded or bookmarked (after an error was shown there): the case."""
    query = f"?{request.url.query}" if request.url.query else ""
    return redirect(f"/desk/cases/{quote(case_id[:64])}{query}")


@router.post("/desk/cases/{case_id}/{action}", response_class=HTMLResponse)
async def act(request: Request, who: V, form: PostedForm, case_id: str, action: str) -> Response:
    """One step on a case: ``take``, ``ask-provider``, ``evidence`` or ``decision``."""
    refused = need(request, who, *STAFF)
    if refused is not None:
        return refused
    case_id = case_id[:64]
    await check_csrf(request, who, form)
    values = {k: str(v)[:4000] for k, v in form.items() if isinstance(v, str) and k != "csrf"}
    rights = registry(request).rights
    actor = who.actor(request, REVIEW)
    call: tuple[Any, ...]
    if action == "take":
        call = (rights.assign, actor, case_id, who.principal.key_id)
    elif action == "ask-provider":
        call = (rights.request_evidence, actor, case_id, values.get("message", ""))
    elif action == "evidence":
        call = (
            rights.add_evidence,
            actor,
            case_id,
            await read_uploads(form.getlist("files")),
            values.get("note", ""),
        )
    elif action == "decision":
        outcome = values.get("outcome", "")
        correction = None
        if outcome == "corrected":
            correction = {
                k: v
                for k, field in CORRECTION_FIELDS.items()
                if (v := values.get(field, "").strip())
            }
        call = (rights.decide, actor, case_id, outcome, values.get("reason", ""), correction)
    else:
        return await _case_page(request, who, case_id, 404, error=f"no action {action!r}")
    try:
        await run_use_case(request, *call)
    except TrustledgerError as exc:
        if exc.http_status >= 500:
            raise
        return await _case_page(
            request,
            who,
            case_id,
            exc.http_status,
            error=message_of(exc),
            field=field_of(exc),
            form=values,
        )
    return redirect(f"/desk/cases/{quote(case_id)}?done={action}")


@router.get("/evidence/{evidence_id}")
async def evidence(request: Request, who: V, evidence_id: str) -> Response:
    """An evidence file, as an attachment (never shown inline: it came from outside)."""
    refused = need(request, who, Role.SUBJECT, Role.REVIEWER, Role.OPERATOR, Role.PROVIDER)
    if refused is not None:
        return refused
    purpose = REVIEW if who.is_(*STAFF) else None
    found = await run_use_case(
        request,
        registry(request).rights.evidence_file,
        who.actor(request, purpose),
        evidence_id[:64],
    )
    return evidence_response(*found)
