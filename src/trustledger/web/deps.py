"""What every route shares: settings, who is asking (keys, rate limit), how a use case
runs, and the common query and path parameters."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import Depends, Query, Request, Response, Security
from fastapi import Path as PathParam
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUploadFile

from trustledger.audit import AuditKey
from trustledger.domain.principal import ANONYMOUS, Actor, Principal
from trustledger.errors import Unauthenticated
from trustledger.service.keys import authenticate_token
from trustledger.service.registry import utc_now
from trustledger.service.rights import MAX_EVIDENCE_BYTES, Upload
from trustledger.web.ratelimit import RateLimiter

__all__ = [
    "DEFAULT_CONCURRENCY",
    "DEFAULT_RATE",
    "MAX_INT",
    "EventIndex",
    "Keyed",
    "Page",
    "PerPage",
    "Purpose",
    "Settings",
    "Who",
    "actor",
    "evidence_response",
    "read_uploads",
    "request_id",
    "run_use_case",
]

DEFAULT_RATE = 50.0
DEFAULT_CONCURRENCY = 4
#: The largest integer a path or query takes (exact in JSON; fits every database).
MAX_INT = 2**53


@dataclass(frozen=True, slots=True)
class Settings:
    engine: Engine
    audit_key: AuditKey
    rate_per_second: float = DEFAULT_RATE
    clock: Callable[[], datetime] = utc_now
    #: PostgreSQL: use cases running at once in one worker (SQLite runs one at a time).
    concurrency: int = DEFAULT_CONCURRENCY
    #: Seconds between runs of ``maintain`` (expiry, overdue reviews, rescoring) and
    #: between deliveries of due webhook notifications; None: not scheduled.
    maintain_every: float | None = None
    deliver_every: float | None = None


def evidence_response(name: str, content_type: str, data: bytes) -> Response:
    """An evidence file as a download, never shown inline (it came from outside): an ASCII
    fallback name and the real one (RFC 6266 / RFC 5987), no sniffing, a sandbox."""
    fallback = name.encode("ascii", "replace").decode().replace('"', "'").replace("?", "_")
    return Response(
        data,
        media_type=content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{fallback}"; '
            f"filename*=UTF-8''{quote(name, safe='')}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
            "Cache-Control": "no-store",
        },
    )


async def read_uploads(items: Sequence[Any]) -> list[Upload]:
    """The uploaded files among ``items`` (an empty file input sends one nameless, empty
    part: not a file). Reads at most one byte over the limit of each, so the service can
    name a file too large without the server holding a huge one in memory."""
    out = []
    for item in items:
        if isinstance(item, StarletteUploadFile) and (item.filename or item.size):
            data = await item.read(MAX_EVIDENCE_BYTES + 1)
            out.append(Upload(item.filename or "", item.content_type or "", data))
    return out


def request_id(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    return rid if isinstance(rid, str) else "-"


def actor(request: Request, who: Principal, purpose: str | None = None) -> Actor:
    """The principal acting in this request, with the purpose it states."""
    return Actor(who, request_id(request), purpose)


T = TypeVar("T")


async def run_use_case(request: Request, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a (blocking) use case. With SQLite, which has one writer at a time, use cases run
    one after another on the event loop: no thread hop, no lock, no busy waiting, which is
    the fastest a single writer can go (throughput grows with ``serve --workers``). With
    PostgreSQL they run in the thread pool so that their database round trips overlap."""
    if request.app.state.serial:
        return fn(*args, **kwargs)
    async with request.app.state.in_flight:
        return await run_in_threadpool(fn, *args, **kwargs)


# -- who is asking ---------------------------------------------------------------------


_BEARER = HTTPBearer(
    auto_error=False,
    bearerFormat="tlk_<key id>_<secret>",
    description="An API key from `trustledger keys create`.",
)
_API_KEY = APIKeyHeader(
    name="X-API-Key", auto_error=False, description="The same key, another way."
)


async def principal(
    request: Request,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)] = None,
    x_api_key: Annotated[str | None, Security(_API_KEY)] = None,
) -> Principal:
    """The key's principal (``ANONYMOUS`` without a key), after the rate limit.

    The key is looked up on every request (one indexed read on a read-only connection),
    so a revoked key is refused at once.
    """
    settings: Settings = request.app.state.settings
    limiter: RateLimiter = request.app.state.limiter
    token = x_api_key
    client = f"ip:{request.client.host if request.client else 'unknown'}"
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            limiter.check(client)
            raise Unauthenticated("Authorization: expected 'Bearer tlk_...'")
        if token is not None and token.strip() != value.strip():
            limiter.check(client)
            raise Unauthenticated("Authorization and X-API-Key name different keys: send one")
        token = value.strip()
    if not token:
        limiter.check(client)
        return ANONYMOUS
    try:
        found = await run_use_case(request, authenticate_token, settings.engine, token)
    except Unauthenticated:
        # Guessing keys costs the guesser's address its bucket.
        limiter.check(client)
        raise
    limiter.check(f"key:{found.key_id}", found.rate_per_second)
    return found


async def keyed(who: Annotated[Principal, Depends(principal)]) -> Principal:
    if who.key_id is None:
        raise Unauthenticated(
            "this endpoint needs an API key: send 'Authorization: Bearer tlk_...'"
        )
    return who


Who = Annotated[Principal, Depends(principal)]
Keyed = Annotated[Principal, Depends(keyed)]
Purpose = Annotated[
    str | None,
    Query(
        max_length=100,
        description="Why you read this file. Operators: registry_administration or "
        "objection_review; reviewers: objection_review; a subject needs none.",
    ),
]


Page = Annotated[int, Query(ge=1, le=1_000_000, description="Page number, from 1.")]
PerPage = Annotated[int, Query(ge=1, le=100, description="Entries a page (at most 100).")]
EventIndex = Annotated[
    int,
    PathParam(
        ge=0,
        le=MAX_INT,
        description="The event's sequence number, which is its leaf index: 0 is the first, "
        "and a tree of N events holds 0 to N-1.",
    ),
]
