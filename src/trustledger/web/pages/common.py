"""What every page shares: the templates in two languages, who is signed in, the CSRF
check, and HTML error pages."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode, urlsplit

from fastapi import Depends, Request
from fastapi.datastructures import FormData
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from jinja2_fragments import render_block
from starlette.formparsers import MultiPartException

from trustledger import __version__
from trustledger.domain.principal import ANONYMOUS, Actor, Principal, Role
from trustledger.errors import FieldError, Forbidden, NotFound
from trustledger.policy.schema import Policy
from trustledger.service.policies import current_policy
from trustledger.service.registry import Registry
from trustledger.service.rights import MAX_EVIDENCE_BYTES, MAX_FILES
from trustledger.service.sessions import WebSession, csrf_matches, session_principal
from trustledger.web.deps import Settings, request_id, run_use_case
from trustledger.web.pages.i18n import LANGUAGES, Lang, choose, lang
from trustledger.web.ratelimit import RateLimiter

__all__ = [
    "SESSION_COOKIE",
    "PostedForm",
    "V",
    "Viewer",
    "check_csrf",
    "field_of",
    "htmx_block",
    "message_of",
    "same_site",
    "error_page",
    "http_error_page",
    "is_page",
    "page",
    "pages_of",
    "policy_texts",
    "redirect",
    "registry",
    "safe_next",
    "viewer",
]

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
SESSION_COOKIE = "tl_session"
LANG_COOKIE = "tl_lang"
#: Each role's home page after signing in.
HOME: Mapping[Role, str] = {
    Role.SUBJECT: "/me",
    Role.REVIEWER: "/desk",
    Role.OPERATOR: "/dashboard",
    Role.PROVIDER: "/account",
    Role.RELYING_PARTY: "/account",
    Role.PUBLIC: "/",
}

#: The API's paths, this version's and any other (``/v2/...`` is an unknown endpoint, not
#: an unknown page).
_API_PATH = re.compile(r"^/v[0-9]+(/|$)")


@cache
def environment(code: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        lstrip_blocks=True,
    )
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(lang(code).translations, newstyle=True)  # type: ignore[attr-defined]
    return env


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking: a signed-in key holder, or nobody."""

    principal: Principal
    session: WebSession | None
    lang: Lang

    @property
    def signed_in(self) -> bool:
        return self.session is not None

    @property
    def role(self) -> Role | None:
        return self.principal.role if self.session is not None else None

    def actor(self, request: Request, purpose: str | None = None) -> Actor:
        return Actor(self.principal, request_id(request), purpose)

    def is_(self, *roles: Role) -> bool:
        return self.session is not None and self.principal.role in roles


def field_of(exc: Exception) -> str | None:
    """The form field an error is about: ``files[2]`` is the file input ``files``,
    ``correction.amount`` the correction's fieldset."""
    field = getattr(exc, "field", None)
    if not isinstance(field, str):
        return None
    return field.split("[")[0].split(".")[0]


def is_page(request: Request) -> bool:
    """Whether a path is a page (not the API, the docs or a static file)."""
    path = request.url.path
    return not (
        path.startswith(("/docs", "/redoc", "/openapi.json", "/static/"))
        or _API_PATH.match(path) is not None
    )


def _code(request: Request) -> str:
    return choose(
        request.query_params.get("lang"),
        request.cookies.get(LANG_COOKIE),
        request.headers.get("accept-language"),
    )


async def viewer(request: Request) -> Viewer:
    """The signed-in key holder from the session cookie (after the rate limit), in the
    page's language."""
    settings: Settings = request.app.state.settings
    limiter: RateLimiter = request.app.state.limiter
    code = _code(request)
    token = request.cookies.get(SESSION_COOKIE, "")
    session = None
    if token:
        session = await run_use_case(
            request, session_principal, settings.engine, token, now=settings.clock()
        )
    if session is None:
        client = request.client.host if request.client else "unknown"
        limiter.check(f"ip:{client}")
        who = Viewer(ANONYMOUS, None, lang(code))
    else:
        limiter.check(f"key:{session.principal.key_id}", session.principal.rate_per_second)
        who = Viewer(session.principal, session, lang(code))
    # An error page shown later in this request knows who is looking.
    request.state.viewer = who
    return who


V = Annotated[Viewer, Depends(viewer)]

#: The largest form the pages take: 5 evidence files of 5 MiB and the fields around them.
MAX_FORM_BYTES = MAX_FILES * MAX_EVIDENCE_BYTES + 1024 * 1024


async def form_data(request: Request, who: V) -> AsyncIterator[FormData]:
    """A posted form, its uploaded files closed afterwards. Nobody's upload is read before
    they are signed in (an anonymous post gets an empty form, and the page sends them to
    sign in), nor one larger than :data:`MAX_FORM_BYTES`."""
    if who.session is None and request.url.path != "/signin":
        yield FormData()
        return
    length = request.headers.get("content-length", "")
    if length.isascii() and length.isdigit() and int(length) > MAX_FORM_BYTES:
        raise FieldError(
            "files",
            who.lang.gettext("At most %(n)s files of 5 MiB each can be sent at once.", n=MAX_FILES),
        )
    try:
        form = await request.form(max_files=MAX_FILES, max_fields=30)
    except MultiPartException:
        raise FieldError(
            "files",
            who.lang.gettext("At most %(n)s files of 5 MiB each can be sent at once.", n=MAX_FILES),
        ) from None
    try:
        yield form
    finally:
        await form.close()


PostedForm = Annotated[FormData, Depends(form_data)]


def registry(request: Request) -> Registry:
    """The app's registry, whose use cases every page calls."""
    found: Registry = request.app.state.registry
    return found


def need(request: Request, who: Viewer, *roles: Role) -> Response | None:
    """None if ``who`` holds one of ``roles``; else the answer: sign in first (a redirect
    back here afterwards) or a 403 page."""
    if not who.signed_in:
        if request.method == "GET":
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return redirect(f"/signin?next={quote(target, safe='')}")
        # A form sent after the session ended: back to the page it came from, after signing
        # in, and say that it was not sent.
        referer = urlsplit(request.headers.get("referer", ""))
        back = safe_next(referer.path, "") if referer.netloc == request.url.netloc else ""
        return redirect(f"/signin?ended=1&next={quote(back, safe='')}")
    if who.principal.role not in roles:
        home = HOME[who.principal.role]
        return error_page(
            request,
            who,
            403,
            who.lang.gettext(
                "This page is not for your role (%(role)s); your pages start at %(home)s.",
                role=who.lang.gettext(ROLE_NAMES[who.principal.role]),
                home=home,
            ),
        )
    return None


async def check_csrf(request: Request, who: Viewer, form: Mapping[str, Any]) -> None:
    """Refuse a form or htmx post that does not carry the session's CSRF token."""
    if who.session is None:
        return
    given = request.headers.get("x-csrf-token") or form.get("csrf")
    if not csrf_matches(who.session.csrf, given if isinstance(given, str) else None):
        raise Forbidden(
            who.lang.gettext(
                "The form is out of date or came from another site: reload the page and "
                "send it again."
            )
        )


def same_site(request: Request) -> bool:
    """Whether a post comes from one of our own pages: what the browser says of it
    (``Sec-Fetch-Site``, ``Origin``), when it says anything. The sign-in form has no
    session to carry a CSRF token yet; this keeps other sites from signing a visitor in
    to an account of theirs."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        return urlsplit(origin).netloc == request.url.netloc
    return origin != "null"


def message_of(exc: Exception) -> str:
    """An error's message without the ``field: `` prefix the API uses: on a page the
    message stands beside its field."""
    text = str(exc)
    field = getattr(exc, "field", None)
    if isinstance(field, str) and text.startswith(f"{field}: "):
        return text[len(field) + 2 :]
    return text


def pages_of(total: int, per_page: int) -> int:
    """How many pages ``total`` items fill (at least one)."""
    return max(1, -(-total // per_page))


def htmx_block(request: Request, target: str) -> bool:
    """Whether to answer only the block an htmx request swaps into ``#target`` (not a
    history restore, which needs the whole page)."""
    return (
        request.headers.get("hx-request") == "true"
        and request.headers.get("hx-target") == target
        and request.headers.get("hx-history-restore-request") != "true"
    )


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go to after signing in; anything else (another site) is refused."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    if "\\" in target or any(ord(c) < 32 for c in target):
        return default
    return target


def redirect(url: str, status: int = 303) -> RedirectResponse:
    return RedirectResponse(url, status_code=status)


def N_(message: str) -> str:
    """Marks a text for translation where it is defined (``babel.cfg`` extracts ``N_``);
    it is translated where it is shown."""
    return message


#: Each role in words (translated where shown).
ROLE_NAMES: Mapping[Role, str] = {
    Role.OPERATOR: N_("operator"),
    Role.PROVIDER: N_("provider"),
    Role.RELYING_PARTY: N_("relying party"),
    Role.REVIEWER: N_("reviewer"),
    Role.SUBJECT: N_("subject"),
    Role.PUBLIC: N_("member of the public"),
}

NAV: Mapping[Role | None, tuple[tuple[str, str], ...]] = {
    None: (),
    Role.SUBJECT: (("/me", N_("My file")),),
    Role.REVIEWER: (("/desk", N_("Review desk")),),
    Role.OPERATOR: (("/dashboard", N_("Dashboard")), ("/desk", N_("Review desk"))),
    Role.PROVIDER: (("/account", N_("Account")),),
    Role.RELYING_PARTY: (("/account", N_("Account")),),
    Role.PUBLIC: (("/account", N_("Account")),),
}


def _context(request: Request, who: Viewer, values: Mapping[str, Any]) -> dict[str, Any]:
    L = who.lang
    here = request.url.path
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
    # Query-only links: the same page in another language, whatever its path looks like.
    other = {code: "?" + urlencode([*query, ("lang", code)]) for code in LANGUAGES}
    return {
        "request": request,
        "who": who,
        "L": L,
        "_": L.gettext,
        "languages": LANGUAGES,
        "lang_links": other,
        "nav": NAV[who.role],
        "here": here,
        "csrf": who.session.csrf if who.session else "",
        "version": __version__,
        "Role": Role,
        **values,
    }


def page(
    request: Request,
    who: Viewer,
    template: str,
    status: int = 200,
    *,
    block: str | None = None,
    **values: Any,
) -> HTMLResponse:
    """Render ``template`` (or one ``block`` of it, for an htmx request) in the viewer's
    language."""
    env = environment(who.lang.code)
    policy = _policy(request)
    who = replace(who, lang=who.lang.at(policy.policy.zone if policy else UTC))
    context = _context(request, who, values)
    context["pt"] = policy_texts(request, who)
    if block is not None:
        html = render_block(env, template, block, context)
    else:
        html = env.get_template(template).render(context)
    if who.lang.code == "zh":
        html = tighten_cjk(html)
    response = HTMLResponse(html, status_code=status)
    _page_headers(request, who, response)
    return response


#: How long the pages keep the policy in force (its time zone and its translated texts)
#: before reading it again.
POLICY_TTL = 60.0


#: Chinese punctuation, which takes no space after it.
_CJK_PUNCTUATION = re.compile(r"([。；：，、！？）」』])[ \t\r\n]+")
_KEEP_AS_TYPED = re.compile(r"(<textarea\b.*?</textarea>|<pre\b.*?</pre>)", re.S)


def tighten_cjk(html: str) -> str:
    r"""Drop the whitespace that joins template lines after Chinese punctuation (a browser
    shows it as a space: "核验。 时间"), except in what a person typed (text areas).

    >>> tighten_cjk("<p>核验。\n  时间</p><textarea>一。\n二</textarea>")
    '<p>核验。时间</p><textarea>一。\n二</textarea>'
    """
    parts = _KEEP_AS_TYPED.split(html)
    return "".join(
        part if i % 2 else _CJK_PUNCTUATION.sub(r"\1", part) for i, part in enumerate(parts)
    )


def policy_texts(request: Request, who: Viewer) -> Callable[[str, str], str]:
    """``pt(path, default)``: the policy's text at ``path`` in the page's language, or
    ``default`` (the policy's own text) when it has no translation."""
    policy = _policy(request)
    code = who.lang.code

    def pt(path: str, default: str) -> str:
        return policy.text(code, path, default) if policy is not None else default

    return pt


def _policy(request: Request) -> Policy | None:
    """The policy in force (None before any is loaded), read at most once a minute: what
    every page frames itself with, its time zone and its texts in the page's language. A
    page that shows the policy's rules reads it afresh through the service."""
    state = request.app.state
    cached: tuple[float, Policy | None] | None = getattr(state, "page_policy", None)
    now = time.monotonic()
    if cached is not None and now - cached[0] < POLICY_TTL:
        return cached[1]
    try:
        policy: Policy | None = current_policy(registry(request).engine).policy
    except NotFound:
        policy = None
    state.page_policy = (now, policy)
    return policy


def _page_headers(request: Request, who: Viewer, response: Response) -> None:
    asked = request.query_params.get("lang")
    if asked in LANGUAGES and request.cookies.get(LANG_COOKIE) != asked:
        response.set_cookie(LANG_COOKIE, asked, max_age=365 * 86400, samesite="lax", httponly=True)
    response.headers["Content-Language"] = who.lang.html
    response.headers["Vary"] = "Cookie, Accept-Language, HX-Request"
    response.headers["Cache-Control"] = "no-store" if who.signed_in else "no-cache"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    # Scripts only from here (htmx); inline styles for the SVG charts matplotlib draws.
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )


def error_page(request: Request, who: Viewer | None, status: int, detail: str) -> HTMLResponse:
    """An error as a page: what went wrong in words, and the request id to quote."""
    return page(
        request, who or _known_viewer(request), "error.html", status, code=status, detail=detail
    )


def _known_viewer(request: Request) -> Viewer:
    """Who this request's pages were for (the error handlers are not given it), or an
    anonymous reader in the request's language when it failed before that was known."""
    known = getattr(request.state, "viewer", None)
    return known if isinstance(known, Viewer) else Viewer(ANONYMOUS, None, lang(_code(request)))


def http_error_page(request: Request, status: int, allowed: str = "") -> HTMLResponse:
    """The page for an unknown page (404), a method it does not take (405), or a failure
    of ours (500, with the request id to quote), in the viewer's language."""
    who = _known_viewer(request)
    L = who.lang
    if status == 404:
        detail = L.gettext("There is no page %(path)s.", path=request.url.path)
    elif status == 405:
        detail = L.gettext(
            "%(method)s is not allowed on %(path)s; use %(allowed)s.",
            method=request.method,
            path=request.url.path,
            allowed=allowed,
        )
    else:
        detail = L.gettext(
            "The registry could not answer. The operator can find what went wrong in the "
            "server's log under the request id below."
        )
    return error_page(request, who, status, detail)
