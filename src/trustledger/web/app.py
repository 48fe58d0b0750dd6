"""The HTTP service: FastAPI over the registry's use cases.

``trustledger serve`` runs :func:`app_from_env` under uvicorn. Every route is a thin call
into :class:`~trustledger.service.registry.Registry` (or, for the key lookup,
:mod:`trustledger.service.keys`), which checks who may do what and writes the audit event
in the same transaction. Every error answers JSON
``{"error": CODE, "detail": TEXT, ...}`` with the request id; no stack trace ever reaches
a client (it goes to the server's log).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import re
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Annotated, Any

from fastapi import FastAPI, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trustledger import __version__
from trustledger.audit import AuditKey, TreeHead
from trustledger.domain.principal import Actor, Principal, Role
from trustledger.errors import (
    BatchRejected,
    RateLimited,
    TrustledgerError,
    Unauthenticated,
)
from trustledger.service.audit import AuditLog, audit_key_path, ensure_audit_key
from trustledger.service.maintain import maintain
from trustledger.service.outbox import deliver_due
from trustledger.service.registry import Registry, utc_now
from trustledger.store.engine import open_engine
from trustledger.store.migrate import check_current
from trustledger.web import models as m
from trustledger.web import pages
from trustledger.web.deps import (
    DEFAULT_CONCURRENCY,
    DEFAULT_RATE,
    MAX_INT,
    EventIndex,
    Keyed,
    Page,
    PerPage,
    Purpose,
    Settings,
    Who,
    actor,
    run_use_case,
)
from trustledger.web.deps import request_id as _request_id
from trustledger.web.identity import router as identity_router
from trustledger.web.ratelimit import RateLimiter
from trustledger.web.rights import router as rights_router

__all__ = ["Settings", "app_from_env", "create_app"]

log = logging.getLogger("trustledger.web")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class RequestIdMiddleware:
    """Gives every request an id (the client's ``X-Request-ID`` when it is sane) in
    ``request.state.request_id`` and echoes it in the response. Plain ASGI: Starlette's
    ``BaseHTTPMiddleware`` costs a task and a stream per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get("x-request-id", "")
        rid = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-ID"] = rid
            await send(message)

        await self.app(scope, receive, send_with_id)


def _error(status: int, code: str, detail: str, request: Request, **extra: Any) -> JSONResponse:
    body = {"error": code, "detail": detail, "request_id": _request_id(request), **extra}
    return JSONResponse(body, status_code=status)


def _internal_error(request: Request) -> JSONResponse:
    """A 500: the request id, and nothing about what went wrong (that is in the log)."""
    response = _error(
        500,
        "internal_error",
        "the registry could not answer; the operator can find this request id in the server log",
        request,
    )
    response.headers["X-Request-ID"] = _request_id(request)
    return response


#: pydantic's names for the members of a union (``subject.str``): not field names.
_TYPE_TAGS = frozenset({"str", "int", "float", "bool", "none", "constrained-str"})


def _field_name(loc: Sequence[str | int]) -> str:
    """``("body", "records", 3, "valid_from")`` -> ``records[3].valid_from``;
    ``("query", "page")`` -> ``page``; ``("header", "idempotency-key")`` ->
    ``Idempotency-Key``."""
    parts = list(loc)
    where = parts.pop(0) if parts and parts[0] in ("body", "query", "path", "header") else None
    while parts and isinstance(parts[-1], str) and parts[-1] in _TYPE_TAGS:
        parts.pop()
    if where == "header":
        return "-".join(w.capitalize() for w in str(parts[0]).split("-")) if parts else "header"
    name = ""
    for part in parts:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else str(part)
    return name or "body"


#: Routes whose body is a multipart form (evidence files), not JSON.
_FORM_ROUTES = ("/objections", "/repairs", "/evidence")


def _wants_form(request: Request) -> bool:
    """A multipart route sent something else."""
    ctype = request.headers.get("content-type", "")
    return (
        request.method == "POST"
        and request.url.path.endswith(_FORM_ROUTES)
        and not ctype.startswith("multipart/form-data")
    )


def _reason(error: Any) -> str:
    if error.get("type") == "json_invalid":
        where = error.get("loc", ())[-1]
        problem = error.get("ctx", {}).get("error", "syntax error")
        return f"not valid JSON at character {where} ({problem})"
    if error.get("type") in ("model_attributes_type", "dict_type"):
        return "expected a JSON object; send the body with 'Content-Type: application/json'"
    return str(error.get("msg", "invalid"))


_CODES = {
    400: "bad_request",
    405: "method_not_allowed",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    422: "invalid_input",
    429: "rate_limited",
}


def create_app(settings: Settings) -> FastAPI:
    registry = Registry(settings.engine, AuditLog(settings.audit_key), settings.clock)
    limiter = RateLimiter(settings.rate_per_second)
    # The API pages (/docs, /redoc) are served from local files: no CDN.
    app = FastAPIOffline(
        title="trustledger",
        version=__version__,
        summary="An accountable registry of credit records: every point explained, "
        "every record disputable, every look logged.",
        description=_DESCRIPTION,
        openapi_tags=_TAGS,
        lifespan=_lifespan,
    )
    app.state.registry = registry
    app.state.settings = settings
    app.state.limiter = limiter
    app.state.serial = settings.engine.dialect.name == "sqlite"
    # A few use cases at a time: more threads only compete for the interpreter, and the one
    # holding the audit log's lock then waits its turn to commit.
    app.state.in_flight = asyncio.Semaphore(settings.concurrency)

    # -- request ids and errors ------------------------------------------------------------

    app.add_middleware(RequestIdMiddleware)

    @app.exception_handler(TrustledgerError)
    async def trustledger_error(request: Request, exc: TrustledgerError) -> Response:
        status = exc.http_status
        if status >= 500:
            log.error("request %s failed: %s", _request_id(request), exc, exc_info=exc)
            if pages.is_page(request):
                page = pages.http_error_page(request, 500)
                page.headers["X-Request-ID"] = _request_id(request)
                return page
            return _internal_error(request)
        if pages.is_page(request):
            # A page's refusal (404, 403, 409...) is a page: the message stands alone there,
            # without the "field: " prefix the API's JSON carries beside its `field`.
            page = pages.error_page(request, None, status, pages.message_of(exc))
            if isinstance(exc, RateLimited):
                page.headers["Retry-After"] = str(exc.retry_after)
            return page
        extra: dict[str, Any] = {}
        headers: dict[str, str] = {}
        field = getattr(exc, "field", None)  # FieldError, IdentifierError, TreeHeadError
        if isinstance(field, str):
            extra["field"] = field
        if isinstance(exc, BatchRejected):
            extra["problems"] = [
                {
                    "field": f"records[{p.line - 1}].{p.field}" if p.file == "records" else p.field,
                    "row": p.line - 1 if p.file == "records" else p.line,
                    "reason": p.reason,
                }
                for p in exc.problems[:1000]
            ]
            extra["problem_count"] = len(exc.problems)
            detail = str(exc).splitlines()[0]
        else:
            detail = str(exc)
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(exc.retry_after)
        if isinstance(exc, Unauthenticated):
            headers["WWW-Authenticate"] = 'Bearer realm="trustledger"'
        response = _error(status, _CODES.get(status, "error"), detail, request, **extra)
        response.headers.update(headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        problems: list[dict[str, str]] = []
        for e in exc.errors():
            loc = e.get("loc", ())
            name = "body" if e.get("type") == "json_invalid" else _field_name(loc)
            problem = {"field": name, "reason": _reason(e)}
            if problem not in problems:
                problems.append(problem)
        detail = "; ".join(f"{p['field']}: {p['reason']}" for p in problems[:5])
        if pages.is_page(request):
            return pages.error_page(request, None, 422, detail)
        if _wants_form(request):
            detail += (
                "; this endpoint takes multipart/form-data (curl -F name=value -F files=@FILE), "
                "not JSON"
            )
        fields = {p["field"] for p in problems}
        extra: dict[str, Any] = {"problems": problems}
        if len(fields) == 1:
            extra["field"] = fields.pop()
        return _error(422, "invalid_input", detail, request, **extra)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else "error"
        if pages.is_page(request):
            allowed = (exc.headers or {}).get("Allow", "")
            if exc.status_code in (404, 405):
                page = pages.http_error_page(request, exc.status_code, allowed)
            else:
                page = pages.error_page(request, None, exc.status_code, detail)
            page.headers.update(exc.headers or {})
            return page
        if exc.status_code == 404:
            detail = f"no such endpoint: {request.method} {request.url.path}; see /docs"
        elif exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            detail = f"{request.method} is not allowed on {request.url.path}; use {allowed}"
        response = _error(exc.status_code, _CODES.get(exc.status_code, "error"), detail, request)
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("request %s failed", _request_id(request), exc_info=exc)
        if pages.is_page(request):
            page = pages.http_error_page(request, 500)
            page.headers["X-Request-ID"] = _request_id(request)
            return page
        # Starlette answers these outside the request-id middleware: echo the id here.
        return _internal_error(request)

    # -- routes --------------------------------------------------------------------------

    app.include_router(rights_router)
    app.include_router(identity_router)
    pages.install(app)

    @app.get("/v1/health", tags=["service"], response_model=m.Health)
    async def health() -> dict[str, Any]:
        """Liveness: answers without touching the database or a key."""
        return {"status": "ok", "version": __version__}

    @app.get("/v1/whoami", tags=["service"], response_model=m.WhoAmI)
    async def whoami(who: Keyed) -> dict[str, Any]:
        """The principal your key stands for."""
        return {
            "key_id": who.key_id,
            "role": who.role.value,
            "label": who.label,
            "provider": who.provider,
            "measures": list(who.measures),
            "subject": who.subject_id,
        }

    @app.post(
        "/v1/records",
        tags=["providers"],
        response_model=m.BatchReport,
        status_code=201,
        responses={
            **m.ERRORS,
            200: {
                "model": m.BatchReport,
                "description": "A replay: this Idempotency-Key and body were stored before; "
                "nothing new is stored and the first report is answered",
            },
            201: {
                "description": "Stored, whole",
                "headers": {
                    "Idempotent-Replayed": {
                        "description": "true on a replay (200), false otherwise",
                        "schema": {"type": "string", "enum": ["true", "false"]},
                    }
                },
            },
        },
    )
    async def post_records(
        request: Request,
        response: Response,
        body: m.RecordBatch,
        who: Keyed,
        idempotency_key: Annotated[
            str,
            Header(
                min_length=1,
                max_length=200,
                description="Any unique string per batch: the same key and body again "
                "store nothing and answer the first report.",
            ),
        ],
    ) -> dict[str, Any]:
        """A provider's batch, stored whole or not at all.

        Every bad row is reported at once as ``records[I].FIELD: reason``. A record type
        the policy does not grant this provider is refused (403) naming it.
        """
        rows = [r.model_dump(exclude_none=True) for r in body.records]
        report, replayed = await run_use_case(
            request, registry.submit_records, actor(request, who), idempotency_key, rows
        )
        response.headers["Idempotent-Replayed"] = "true" if replayed else "false"
        if replayed:
            response.status_code = 200
        return report

    @app.get(
        "/v1/subjects/{subject}", tags=["files"], response_model=m.SubjectFile, responses=m.ERRORS
    )
    async def get_subject(
        request: Request, subject: str, who: Keyed, purpose: Purpose = None
    ) -> dict[str, Any]:
        """A subject's file: every record with its provider, legal basis and status today.

        ``subject`` is an id, an identifier (USCC or resident identity number), or ``me``
        with a subject key.
        """
        return await run_use_case(
            request, registry.subject_file, actor(request, who, purpose), subject
        )

    @app.get(
        "/v1/subjects/{subject}/score",
        tags=["files"],
        response_model=m.SubjectScore,
        responses=m.ERRORS,
    )
    async def get_score(
        request: Request, subject: str, who: Keyed, purpose: Purpose = None
    ) -> dict[str, Any]:
        """The score, grade and list entries as of today, from every record known now."""
        return await run_use_case(
            request, registry.subject_score, actor(request, who, purpose), subject
        )

    @app.get(
        "/v1/subjects/{subject}/explanation",
        tags=["files"],
        response_model=m.Explanation,
        responses=m.ERRORS,
    )
    async def get_explanation(
        request: Request, subject: str, who: Keyed, purpose: Purpose = None
    ) -> dict[str, Any]:
        """Every line of the score in plain language, and every record that does not
        count with the reason."""
        return await run_use_case(
            request, registry.subject_explanation, actor(request, who, purpose), subject
        )

    @app.get(
        "/v1/subjects/{subject}/decisions",
        tags=["files"],
        response_model=m.SubjectDecisions,
        responses=m.ERRORS,
    )
    async def get_subject_decisions(
        request: Request,
        subject: str,
        who: Keyed,
        purpose: Purpose = None,
        page: Page = 1,
        per_page: PerPage = 50,
    ) -> dict[str, Any]:
        """Every decision made about a subject, newest first, with its reasons and the key
        id of the relying party that asked: for the subject itself, and for staff."""
        return await run_use_case(
            request,
            registry.subject_decisions,
            actor(request, who, purpose),
            subject,
            page=page,
            per_page=per_page,
        )

    @app.post(
        "/v1/decisions",
        tags=["decisions"],
        response_model=m.Decision,
        status_code=201,
        responses=m.ERRORS,
    )
    async def post_decision(request: Request, body: m.DecisionRequest, who: Keyed) -> Response:
        """May this subject get this measure, for this purpose?

        Only the domains the policy allows for the measure are looked at. The reasons are
        at most four, most important first, each with a stable code and the record ids
        it rests on.
        """
        decision = await run_use_case(
            request,
            registry.decide,
            actor(request, who, body.purpose),
            str(body.subject),
            body.measure,
            body.purpose,
        )
        # Built by the service in the documented shape: no second validation on the hot path.
        return JSONResponse(decision, status_code=201)

    @app.get(
        "/v1/decisions/{decision_id}",
        tags=["decisions"],
        response_model=m.Decision,
        responses=m.ERRORS,
    )
    async def get_decision(
        request: Request, decision_id: str, who: Keyed, purpose: Purpose = None
    ) -> dict[str, Any]:
        """A decision again: for the relying party that asked, the subject, and staff
        (stating a purpose, as for a file)."""
        return await run_use_case(
            request, registry.decision, actor(request, who, purpose), decision_id
        )

    @app.get(
        "/v1/public/organisations",
        tags=["public"],
        response_model=m.PublicSearch,
        responses=m.ERRORS,
    )
    async def public_search(
        request: Request,
        who: Who,
        q: Annotated[
            str,
            Query(
                max_length=200,
                description="Any part of an organisation's name, or its Unified Social "
                "Credit Code (whole, or its first 6 characters or more).",
            ),
        ],
        page: Page = 1,
        per_page: PerPage = 20,
    ) -> dict[str, Any]:
        """Organisations by name or code, exact codes first, then by name: each with its
        grade and the public lists it is on. Never persons. No key needed; the audit log
        records the search's length, not its text."""
        return await run_use_case(
            request, registry.public_search, actor(request, who), q, page=page, per_page=per_page
        )

    @app.get(
        "/v1/public/organisations/{uscc}",
        tags=["public"],
        response_model=m.PublicOrganisation,
        responses=m.ERRORS,
    )
    async def public_organisation(request: Request, uscc: str, who: Who) -> dict[str, Any]:
        """What the policy publishes about an organisation: grade, public list entries,
        records of public types. No key needed."""
        return await run_use_case(request, registry.public_organisation, actor(request, who), uscc)

    @app.get(
        "/v1/public/lists/{name}",
        tags=["public"],
        response_model=m.PublicList,
        responses=m.ERRORS,
    )
    async def public_list(
        request: Request,
        name: str,
        who: Who,
        page: Page = 1,
        per_page: PerPage = 50,
    ) -> dict[str, Any]:
        """A public list's entries from the latest score run, paginated. Persons appear
        only when the policy publishes them, with a masked identifier."""
        return await run_use_case(
            request, registry.public_list, actor(request, who), name, page=page, per_page=per_page
        )

    @app.get(
        "/v1/audit/events/{event}",
        tags=["audit"],
        response_model=m.AuditEvent,
        responses=m.ERRORS,
    )
    async def audit_event(
        request: Request, event: EventIndex, who: Keyed, purpose: Purpose = None
    ) -> dict[str, Any]:
        """One event and the exact bytes of its leaf (``leaf_data``), so that its inclusion
        proof can be checked against what it says: for the operator (stating a purpose),
        or for the subject the event is about."""
        return await run_use_case(
            request, registry.audit_event, actor(request, who, purpose), event
        )

    @app.get("/v1/audit/tree-head", tags=["audit"], response_model=m.SignedTreeHead)
    def tree_head(who: Who) -> dict[str, Any]:
        """The latest signed tree head of the audit log (RFC 6962 §3.5)."""
        return _head_json(registry.tree_head(), settings.audit_key)

    @app.get(
        "/v1/audit/proof/inclusion/{event}",
        tags=["audit"],
        response_model=m.InclusionProof,
        responses=m.ERRORS,
    )
    def inclusion_proof(
        event: EventIndex,
        who: Who,
        size: Annotated[
            int | None, Query(ge=1, le=MAX_INT, description="Tree size; the latest if left out.")
        ] = None,
    ) -> dict[str, Any]:
        """An RFC 6962 §2.1.1 audit path of event ``event`` in the tree of ``size`` events."""
        found = registry.inclusion(event, size)
        return {
            "event": found["event"],
            "leaf_hash": _b64(found["leaf_hash"]),
            "tree_size": found["tree_head"].tree_size,
            "proof": [_b64(h) for h in found["proof"]],
            "tree_head": _head_json(found["tree_head"], settings.audit_key),
        }

    @app.get(
        "/v1/audit/proof/consistency",
        tags=["audit"],
        response_model=m.ConsistencyProof,
        responses=m.ERRORS,
    )
    def consistency_proof(
        who: Who,
        from_: Annotated[
            int, Query(alias="from", ge=1, le=MAX_INT, description="The older tree's size.")
        ],
        to: Annotated[int, Query(ge=1, le=MAX_INT, description="The newer tree's size.")],
    ) -> dict[str, Any]:
        """An RFC 6962 §2.1.2 consistency proof between two tree sizes."""
        found = registry.consistency(from_, to)
        return {
            "from": from_,
            "to": to,
            "proof": [_b64(h) for h in found["proof"]],
            "from_head": _head_json(found["from"], settings.audit_key),
            "to_head": _head_json(found["to"], settings.audit_key),
        }

    return app


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _head_json(head: TreeHead, key: AuditKey) -> dict[str, Any]:
    return {
        **head.as_json(),
        "public_key": _b64(key.public_bytes()),
        "key_fingerprint": key.fingerprint(),
    }


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Starts the schedule of ``maintain`` and of webhook delivery when the settings ask."""
    settings: Settings = app.state.settings
    tasks = []
    if settings.maintain_every:
        tasks.append(asyncio.create_task(_every(settings.maintain_every, _maintain, app)))
    if settings.deliver_every:
        tasks.append(asyncio.create_task(_every(settings.deliver_every, _deliver, app)))
    yield
    for task in tasks:
        task.cancel()
    for task in tasks:
        with suppress(asyncio.CancelledError):
            await task


async def _every(seconds: float, job: Callable[[FastAPI], None], app: FastAPI) -> None:
    """Run ``job`` in a thread now and every ``seconds``; a failure is logged, not fatal."""
    while True:
        try:
            await run_in_threadpool(job, app)
        except Exception:
            log.exception("scheduled %s failed; trying again in %.0f s", job.__name__, seconds)
        await asyncio.sleep(seconds)


def _maintain(app: FastAPI) -> None:
    registry: Registry = app.state.registry
    actor = Actor(
        Principal(key_id=None, role=Role.OPERATOR, label="maintenance schedule"),
        request_id=f"maintain-{uuid.uuid4().hex[:16]}",
        purpose="registry_administration",
    )
    report = maintain(
        registry.engine,
        registry.audit,
        actor,
        now=registry.clock(),
        deliver=False,
        begin=registry._transaction,
    )
    if report.skipped:
        log.info("maintenance: another process holds the lock; skipped")
        return
    log.info(
        "maintenance: %d expired, %d overdue, %d rescored",
        report.expired,
        len(report.overdue),
        report.rescored,
    )


def _deliver(app: FastAPI) -> None:
    registry: Registry = app.state.registry
    report = deliver_due(registry.engine, now=registry.clock())
    if report.delivered or report.retrying or report.failed:
        log.info(
            "webhooks: %d delivered, %d to retry, %d failed",
            report.delivered,
            report.retrying,
            report.failed,
        )


def app_from_env() -> FastAPI:
    """The app ``trustledger serve`` runs: settings from ``TRUSTLEDGER_DB``,
    ``TRUSTLEDGER_AUDIT_KEY``, ``TRUSTLEDGER_RATE_LIMIT``, ``TRUSTLEDGER_CONCURRENCY`` and
    ``TRUSTLEDGER_MAINTAIN_EVERY`` and ``TRUSTLEDGER_DELIVER_EVERY`` (seconds; 0 or unset: not
    scheduled)."""
    url = os.environ.get("TRUSTLEDGER_DB")
    engine = open_engine(url)
    check_current(engine)
    key, _ = ensure_audit_key(engine, audit_key_path(url), now=utc_now())
    rate = float(os.environ.get("TRUSTLEDGER_RATE_LIMIT", DEFAULT_RATE))
    concurrency = int(os.environ.get("TRUSTLEDGER_CONCURRENCY", DEFAULT_CONCURRENCY))
    every = float(os.environ.get("TRUSTLEDGER_MAINTAIN_EVERY", "0")) or None
    deliver = float(os.environ.get("TRUSTLEDGER_DELIVER_EVERY", "0")) or None
    return create_app(
        Settings(
            engine=engine,
            audit_key=key,
            rate_per_second=rate,
            concurrency=concurrency,
            maintain_every=every,
            deliver_every=deliver,
        )
    )


_TAGS = [
    {"name": "service", "description": "Liveness and who you are."},
    {"name": "providers", "description": "Courts, tax offices, banks... submit records."},
    {"name": "files", "description": "A subject's file: for the subject itself and for staff."},
    {"name": "decisions", "description": "Relying parties ask whether a measure applies."},
    {
        "name": "rights",
        "description": "A subject objects, asks for repair, sees who looked and what others "
        "were told.",
    },
    {
        "name": "review",
        "description": "Reviewers work the queue: assign, ask the provider, decide.",
    },
    {
        "name": "identity",
        "description": "Reviewers accept or reject proposed links; staff merge and split subjects.",
    },
    {"name": "public", "description": "What the policy publishes. No key needed."},
    {"name": "audit", "description": "The tamper-evident log: tree heads and proofs."},
]

_DESCRIPTION = """
Send your key as `Authorization: Bearer tlk_...` (or `X-API-Key`). Keys are made with
`trustledger keys create --role ROLE`. What each role may do is in `docs/api.md`.

Every read of a subject's data and every write is an event in an append-only log,
hashed into an RFC 6962 Merkle tree with a signed tree head: see the `audit` endpoints
and `trustledger audit verify`.

Errors answer `{"error": CODE, "detail": TEXT, "request_id": ID}`; bad input is 422 and
names the field.
"""
