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
from trustledger.web.deps import run_use_case
from trustledger.web.pages.common import (
    PostedForm,
    V,
    Viewer,
    attempt,
    check_csrf,
    field_of,
    need,
    page,
    redirect,
    registry,
)
from trustledger.web.pages.portal import uploads

router = APIRouter(include_in_schema=False)
STAFF = (Role.REVIEWER, Role.OPERATOR)
REVIEW = "objection_review"
PER_PAGE = 25
#: What a reviewer may decide, per kind of case.
OUTCOMES = {
    "objection": ("upheld", "corrected", "retracted"),
    "repair": ("approved", "refused"),
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
    found = await attempt(
        request,
        who,
        registry(request).rights.cases,
        who.actor(request, REVIEW),
        open_only=show == "open",
        page=page_no,
        per_page=PER_PAGE,
    )
    if isinstance(found, HTMLResponse):
        return found
    pages = max(1, -(-found["total"] // PER_PAGE))
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
    case = await attempt(request, who, reg.rights.case, actor, case_id)
    if isinstance(case, HTMLResponse):
        return case
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
        call = (rights.add_evidence, actor, case_id, await uploads(form), values.get("note", ""))
    elif action == "decision":
        outcome = values.get("outcome", "")
        correction = None
        if outcome == "corrected":
            correction = {
                k: values[k].strip()
                for k in ("valid_from", "valid_to", "amount", "note")
                if values.get(k, "").strip()
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
            error=str(exc),
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
    found = await attempt(
        request,
        who,
        registry(request).rights.evidence_file,
        who.actor(request, purpose),
        evidence_id[:64],
    )
    if isinstance(found, HTMLResponse):
        return found
    filename, content_type, data = found
    return Response(
        data,
        media_type=content_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
            "Cache-Control": "no-store",
        },
    )
