"""The subject portal: the own file with the score as a waterfall of its contributions,
list entries with their paths to repair, decisions and who looked; objections and repair
requests with evidence; the progress of each review."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from trustledger.domain.principal import Role
from trustledger.errors import FieldError, TrustledgerError
from trustledger.service.policies import current_policy
from trustledger.web import charts
from trustledger.web.deps import MAX_INT, read_uploads, run_use_case
from trustledger.web.pages.common import (
    PostedForm,
    V,
    Viewer,
    check_csrf,
    error_page,
    field_of,
    message_of,
    need,
    page,
    pages_of,
    redirect,
    registry,
)
from trustledger.web.pages.i18n import Lang

router = APIRouter(include_in_schema=False)
RecordId = Annotated[int, Path(ge=1, le=MAX_INT)]
#: Events a page of the access log.
LOG_PAGE = 50
#: The waterfall shows every contribution up to this many; beyond, one bar per domain.
WATERFALL_LINES = 12


def waterfall_svg(
    explanation: dict[str, Any], domains: dict[str, str], L: Lang, floor: float | None
) -> str:
    """The score from the base to the total, one step per contribution (or per domain when
    there are many), caps and the floor as steps of their own."""
    lines = explanation["contributions"]
    steps: list[tuple[str, float]] = []
    records = [c for c in lines if c["kind"] == "record"]
    if len(records) <= WATERFALL_LINES:
        for c in records:
            steps.append((f"{c['title'] if 'title' in c else c['record_type']}", c["points"]))
    else:
        by_domain: dict[str, float] = {}
        for c in records:
            by_domain[c["domain"]] = by_domain.get(c["domain"], 0.0) + c["points"]
        steps.extend((domains.get(d, d), round(v, 2)) for d, v in by_domain.items())
    for c in lines:
        if c["kind"] == "cap":
            name = domains.get(c.get("domain") or "", c.get("domain") or "")
            steps.append((L.gettext("Cap: %(domain)s", domain=name), c["points"]))
        elif c["kind"] == "bound":
            steps.append((L.gettext("Floor or ceiling of the score"), c["points"]))
    return charts.waterfall(
        steps,
        start_label=L.gettext("Everyone starts at"),
        start=explanation["base"],
        end_label=L.gettext("Score"),
        chart_id="score-waterfall",
        floor=floor,
        title=L.gettext("How the score is made"),
        summary=L.gettext(
            "From the base of %(base)s to the score of %(score)s, one bar per step.",
            base=L.number(explanation["base"]),
            score=L.number(explanation["score"], 2),
        ),
    )


@router.get("/me", response_class=HTMLResponse)
async def my_file(request: Request, who: V) -> Response:
    refused = need(request, who, Role.SUBJECT)
    if refused is not None:
        return refused
    reg = registry(request)
    actor = who.actor(request)
    found = await run_use_case(request, reg.subject_file, actor, "me")
    explanation = await run_use_case(request, reg.subject_explanation, actor, "me")
    decisions = await run_use_case(request, reg.subject_decisions, actor, "me", page=1, per_page=20)
    looked = await run_use_case(
        request, reg.rights.access_log, actor, "me", page=1, per_page=20, others_only=True
    )
    policy = (await run_use_case(request, current_policy, reg.engine)).policy
    code = who.lang.code
    titles = {
        k: policy.text(code, f"record_types.{k}.title", v.title)
        for k, v in policy.record_types.items()
    }
    for c in explanation["contributions"]:
        if c.get("record_type"):
            c["title"] = titles.get(c["record_type"], c["record_type"])
    domains = {
        k: policy.text(code, f"domains.{k}.title", d.title) for k, d in policy.domains.items()
    }
    # The chart's axis reaches down to the lower edge of the subject's grade: how far the
    # score is from the grade below shows, and a step looks as big on every chart.
    band = next((b for b in policy.grades if b.grade == found["grade"]), None)
    grade_floor = float(band.min_score) if band and band.min_score is not None else None
    return page(
        request,
        who,
        "me.html",
        file=found,
        explanation=explanation,
        decisions=decisions,
        looked=looked,
        policy=policy,
        waterfall=waterfall_svg(explanation, domains, who.lang, grade_floor),
        paths={p["record_id"]: p for p in found["paths_to_repair"]},
    )


async def _record(request: Request, who: Viewer, record_id: int) -> dict[str, Any] | Response:
    """The subject's own record, from its file."""
    found = await run_use_case(request, registry(request).subject_file, who.actor(request), "me")
    for r in found["records"]:
        if r["record_id"] == record_id:
            r["path"] = next(
                (p for p in found["paths_to_repair"] if p["record_id"] == record_id), None
            )
            return dict(r)
    return _not_in_file(request, who, record_id)


def _not_in_file(request: Request, who: Viewer, record_id: int) -> Response:
    return error_page(
        request,
        who,
        404,
        who.lang.gettext("Record %(id)s is not in your file.", id=record_id),
    )


#: The subject's two requests about a record: the template of its form, and its fields.
FORMS = {
    "objection": ("object.html", ("reason",)),
    "repair": ("repair.html", ("reason", "fulfilled_on")),
}


@router.get("/me/records/{record_id}/{kind}", response_class=HTMLResponse)
async def request_form(request: Request, who: V, record_id: RecordId, kind: str) -> Response:
    """The form to object to a record, or to ask for its repair."""
    if kind not in FORMS:
        return error_page(request, who, 404, f"there is no page {request.url.path}")
    refused = need(request, who, Role.SUBJECT)
    if refused is not None:
        return refused
    record = await _record(request, who, record_id)
    if isinstance(record, Response):
        return record
    return page(request, who, FORMS[kind][0], record=record, error=None, field=None, form={})


@router.post("/me/records/{record_id}/{kind}", response_class=HTMLResponse)
async def file_request(
    request: Request, who: V, form: PostedForm, record_id: RecordId, kind: str
) -> Response:
    """Open the objection or the repair request; on a refusal, the form again with what was
    typed and the error beside its field (nothing is stored)."""
    if kind not in FORMS:
        return error_page(request, who, 404, f"there is no page {request.url.path}")
    refused = need(request, who, Role.SUBJECT)
    if refused is not None:
        return refused
    await check_csrf(request, who, form)
    template, fields = FORMS[kind]
    values = {f: str(form.get(f, ""))[:4000] for f in fields}
    rights = registry(request).rights
    try:
        files = await read_uploads(form.getlist("files"))
        if kind == "objection":
            call: tuple[Any, ...] = (rights.open_objection, values["reason"])
        else:
            try:
                day = date.fromisoformat(values["fulfilled_on"])
            except ValueError:
                raise FieldError(
                    "fulfilled_on", who.lang.gettext("Give the day as YYYY-MM-DD.")
                ) from None
            call = (rights.request_repair, day, values["reason"])
        fn, *args = call
        case = await run_use_case(request, fn, who.actor(request), "me", record_id, *args, files)
    except TrustledgerError as exc:
        if exc.http_status >= 500:
            raise
        record = await _record(request, who, record_id)
        if isinstance(record, Response):
            return record
        return page(
            request,
            who,
            template,
            exc.http_status,
            record=record,
            error=message_of(exc),
            field=field_of(exc),
            form=values,
        )
    return redirect(f"/me/cases/{case['id']}?opened=1")


@router.get("/me/access-log", response_class=HTMLResponse)
async def access_log(
    request: Request,
    who: V,
    page_no: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
    all_: Annotated[bool, Query(alias="all")] = False,
) -> Response:
    """Every event about the subject, 50 a page; its own reads only when asked."""
    refused = need(request, who, Role.SUBJECT)
    if refused is not None:
        return refused
    looked = await run_use_case(
        request,
        registry(request).rights.access_log,
        who.actor(request),
        "me",
        page=page_no,
        per_page=LOG_PAGE,
        others_only=not all_,
    )
    return page(
        request,
        who,
        "access_log.html",
        looked=looked,
        all=all_,
        pages=pages_of(looked["total"], LOG_PAGE),
    )


@router.post("/me/cases/{case_id}/evidence", response_class=HTMLResponse)
async def my_evidence(request: Request, who: V, form: PostedForm, case_id: str) -> Response:
    """More evidence for the subject's own open case."""
    refused = need(request, who, Role.SUBJECT)
    if refused is not None:
        return refused
    await check_csrf(request, who, form)
    note = str(form.get("evidence_note", ""))[:4000]
    try:
        await run_use_case(
            request,
            registry(request).rights.add_evidence,
            who.actor(request),
            case_id[:64],
            await read_uploads(form.getlist("files")),
            note,
        )
    except TrustledgerError as exc:
        if exc.http_status >= 500:
            raise
        return await _case_page(
            request,
            who,
            case_id[:64],
            exc.http_status,
            error=message_of(exc),
            field=field_of(exc),
            form={"evidence_note": note},
        )
    return redirect(f"/me/cases/{quote(case_id[:64])}?done=evidence")


@router.get("/me/cases/{case_id}", response_class=HTMLResponse)
async def my_case(request: Request, who: V, case_id: str) -> Response:
    refused = need(request, who, Role.SUBJECT)
    if refused is not None:
        return refused
    done = request.query_params.get("done")
    return await _case_page(
        request,
        who,
        case_id[:64],
        opened=request.query_params.get("opened") == "1",
        done=done[:20] if done else None,
    )


async def _case_page(
    request: Request,
    who: Viewer,
    case_id: str,
    status: int = 200,
    *,
    opened: bool = False,
    done: str | None = None,
    error: str | None = None,
    field: str | None = None,
    form: dict[str, str] | None = None,
) -> Response:
    case = await run_use_case(request, registry(request).rights.case, who.actor(request), case_id)
    return page(
        request,
        who,
        "case.html",
        status,
        case=case,
        staff=False,
        opened=opened,
        done=done,
        error=error,
        field=field,
        form=form or {},
        score=None,
        outcomes=(),
    )
