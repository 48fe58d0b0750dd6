"""The public register: search organisations, an organisation's page, the public lists,
and the policy in plain words. No sign-in needed; every read is logged like the API's."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from trustledger.errors import TrustledgerError
from trustledger.service.policies import current_policy
from trustledger.web.deps import run_use_case
from trustledger.web.pages.common import (
    V,
    htmx_block,
    message_of,
    page,
    pages_of,
    registry,
)

router = APIRouter(include_in_schema=False)

PER_PAGE = 20
PageNo = Annotated[int, Query(alias="page", ge=1, le=1_000_000)]


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, who: V) -> Response:
    active = await run_use_case(request, current_policy, registry(request).engine)
    return page(request, who, "home.html", policy=active.policy, label=active.label)


@router.get("/register", response_class=HTMLResponse)
async def search(
    request: Request,
    who: V,
    q: Annotated[str, Query(max_length=200)] = "",
    page_no: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
) -> Response:
    """Organisations by name or code; an htmx request gets the results block only."""
    q = q.strip()
    found, error = None, None
    if q:
        try:
            found = await run_use_case(
                request,
                registry(request).public_search,
                who.actor(request),
                q,
                page=page_no,
                per_page=PER_PAGE,
            )
        except TrustledgerError as exc:
            if exc.http_status >= 500:
                raise
            error = message_of(exc)
    block = "results" if htmx_block(request, "results") else None
    pages = pages_of(found["total"], PER_PAGE) if found else 1
    lists = (await run_use_case(request, current_policy, registry(request).engine)).policy.lists
    return page(
        request,
        who,
        "register.html",
        block=block,
        q=q,
        found=found,
        error=error,
        pages=pages,
        lists=lists,
    )


@router.get("/register/{uscc}", response_class=HTMLResponse)
async def organisation(request: Request, who: V, uscc: str) -> Response:
    org = await run_use_case(
        request, registry(request).public_organisation, who.actor(request), uscc[:40]
    )
    active = await run_use_case(request, current_policy, registry(request).engine)
    return page(request, who, "organisation.html", org=org, policy=active.policy)


@router.get("/lists/{name}", response_class=HTMLResponse)
async def public_list(request: Request, who: V, name: str, page_no: PageNo = 1) -> Response:
    found = await run_use_case(
        request,
        registry(request).public_list,
        who.actor(request),
        name[:100],
        page=page_no,
        per_page=PER_PAGE,
    )
    pages = pages_of(found["total"], PER_PAGE)
    active = await run_use_case(request, current_policy, registry(request).engine)
    listed = active.policy.lists.get(found["list"])
    rules = {r.id: r.description or r.id for r in listed.rules} if listed else {}
    return page(request, who, "list.html", lst=found, pages=pages, rules=rules)


@router.get("/policy", response_class=HTMLResponse)
async def policy(request: Request, who: V) -> Response:
    active = await run_use_case(request, current_policy, registry(request).engine)
    return page(request, who, "policy.html", policy=active.policy, label=active.label)
