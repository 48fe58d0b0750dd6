"""Signing in and out of the pages, and the account page every key holder has."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from trustledger.domain.principal import Role
from trustledger.errors import FieldError, Forbidden, TrustledgerError
from trustledger.service.policies import current_policy
from trustledger.service.sessions import SESSION_TTL, end_session, start_session
from trustledger.web.deps import Settings, request_id, run_use_case
from trustledger.web.pages.common import (
    HOME,
    SESSION_COOKIE,
    PostedForm,
    V,
    Viewer,
    check_csrf,
    message_of,
    need,
    page,
    redirect,
    registry,
    safe_next,
    same_site,
)

router = APIRouter(include_in_schema=False)


@router.get("/signin", response_class=HTMLResponse)
async def signin_form(
    request: Request,
    who: V,
    code: Annotated[str, Query(max_length=40)] = "",
    next_: Annotated[str, Query(alias="next", max_length=2000)] = "",
    ended: Annotated[bool, Query()] = False,
) -> Response:
    """The form; a sign-in link (``?code=``) fills it in but does not use the code: only
    pressing the button does (a link preview must not spend a one-time code)."""
    response = page(
        request,
        who,
        "signin.html",
        code=code,
        next=safe_next(next_, ""),
        error=None,
        ended=ended,
    )
    # The code is in the page: no cache may keep it.
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/signin", response_class=HTMLResponse)
async def signin(request: Request, who: V, form: PostedForm) -> Response:
    secret = str(form.get("secret", "")).strip()
    target = safe_next(str(form.get("next", "")), "")
    settings: Settings = request.app.state.settings
    reg = registry(request)
    kind: dict[str, Any] = (
        {"token": secret} if secret.lower().startswith("tlk_") else {"code": secret}
    )
    try:
        if not same_site(request):
            raise Forbidden(who.lang.gettext("Sign in from this registry's own sign-in page."))
        if not secret:
            raise FieldError("secret", who.lang.gettext("Enter a sign-in code or an API key."))
        signed = await run_use_case(
            request,
            start_session,
            settings.engine,
            reg.audit,
            now=settings.clock(),
            request_id=request_id(request),
            **kind,
        )
    except TrustledgerError as exc:
        if exc.http_status >= 500:
            raise
        return page(
            request,
            who,
            "signin.html",
            400 if exc.http_status == 422 else exc.http_status,
            code="" if "token" in kind else secret,
            next=target,
            error=message_of(exc),
            ended=False,
        )
    # Signing in again ends the session the browser had (one cookie, one live session).
    await _end_session(request)
    role = signed.session.principal.role
    response = redirect(safe_next(target, HOME[role]))
    response.set_cookie(
        SESSION_COOKIE,
        signed.token,
        max_age=int(SESSION_TTL.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/signout")
async def signout(request: Request, who: V, form: PostedForm) -> Response:
    await check_csrf(request, who, form)
    await _end_session(request)
    response = redirect("/")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


async def _end_session(request: Request) -> None:
    """End the session of the browser's cookie, if it has a live one."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if token:
        settings: Settings = request.app.state.settings
        await run_use_case(
            request,
            end_session,
            settings.engine,
            registry(request).audit,
            token,
            now=settings.clock(),
            request_id=request_id(request),
        )


@router.get("/account", response_class=HTMLResponse)
async def account(request: Request, who: V) -> Response:
    """Who this key is, what it was told, and what its role does here."""
    refused = need(request, who, *Role)
    if refused is not None:
        return refused
    reg = registry(request)
    told = await run_use_case(
        request, reg.rights.notifications, who.actor(request), after=None, limit=50
    )
    quality = None
    if who.is_(Role.PROVIDER):
        quality = await run_use_case(request, reg.rights.provider_quality, who.actor(request))
    measures, provider_title = await _key_texts(request, who)
    return page(
        request,
        who,
        "account.html",
        told=told,
        quality=quality,
        measures=measures,
        measure_titles=dict(measures),
        provider_title=provider_title,
        decision=None,
        error=None,
        form={},
    )


async def _key_texts(request: Request, who: Viewer) -> tuple[list[tuple[str, str]], str | None]:
    """What the account page names from the policy, read once: the measures a relying
    party may ask about (key, title) and a provider's title."""
    if not who.is_(Role.RELYING_PARTY, Role.PROVIDER):
        return [], None
    policy = (await run_use_case(request, current_policy, registry(request).engine)).policy
    code = who.lang.code
    measures = [
        (m, policy.text(code, f"measures.{m}.title", policy.measures[m].title))
        for m in who.principal.measures
        if m in policy.measures
    ]
    known = policy.providers.get(who.principal.provider or "")
    return measures, known.title if known else None


@router.get("/account/decision")
async def decision_reloaded(request: Request) -> Response:
    """The decision form's address reloaded: the account page."""
    return redirect("/account" + (f"?{request.url.query}" if request.url.query else ""))


@router.post("/account/decision", response_class=HTMLResponse)
async def decision(request: Request, who: V, form: PostedForm) -> Response:
    """A relying party asks "may this subject get this measure, for this purpose?"."""
    refused = need(request, who, Role.RELYING_PARTY)
    if refused is not None:
        return refused
    await check_csrf(request, who, form)
    values = {k: str(form.get(k, "")).strip()[:200] for k in ("subject", "measure", "purpose")}
    reg = registry(request)
    made, error = None, None
    try:
        made = await run_use_case(
            request,
            reg.decide,
            who.actor(request, values["purpose"] or None),
            values["subject"],
            values["measure"],
            values["purpose"],
        )
    except TrustledgerError as exc:
        if exc.http_status >= 500:
            raise
        error = message_of(exc)
    told = await run_use_case(
        request, reg.rights.notifications, who.actor(request), after=None, limit=50
    )
    measures, provider_title = await _key_texts(request, who)
    return page(
        request,
        who,
        "account.html",
        200 if made else 422,
        told=told,
        quality=None,
        measures=measures,
        measure_titles=dict(measures),
        provider_title=provider_title,
        decision=made,
        error=error,
        form=values,
    )
