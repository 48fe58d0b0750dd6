"""Web sign-in: a browser session stands for one API key.

A person signs in with the key itself or with a one-time code made for the key
(``trustledger keys signin-code``; ``make demo`` prints one per role). The browser keeps a
random session token in an HttpOnly cookie; the registry keeps its SHA-256, the key it
stands for, and a CSRF token that every form sends back. A session lasts
:data:`SESSION_TTL` at most; signing out ends it, and revoking its key refuses it at once
(the key is looked up on every request, as for the API).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from trustledger.domain.principal import Actor, Principal
from trustledger.errors import FieldError, NotFound, Unauthenticated
from trustledger.service.audit import AuditLog, Entry
from trustledger.service.keys import authenticate
from trustledger.store import keys as key_store
from trustledger.store import sessions as session_store

__all__ = [
    "CODE_TTL",
    "SESSION_TTL",
    "SignedIn",
    "WebSession",
    "create_signin_code",
    "end_session",
    "normalise_code",
    "session_principal",
    "start_session",
]

SESSION_TTL = timedelta(hours=12)
CODE_TTL = timedelta(minutes=15)
#: The longest a one-time code may be made to last (the demo's last a day).
MAX_CODE_TTL = timedelta(days=7)
#: Crockford's base32: no I, L, O or U, so a code read aloud or retyped survives.
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CODE_GROUPS = 3
_GROUP = 4


@dataclass(frozen=True, slots=True)
class WebSession:
    principal: Principal
    csrf: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A new session: the cookie's token (shown to the browser only) and the session."""

    token: str
    session: WebSession


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def normalise_code(code: str) -> str:
    """A code as typed (any case, with or without dashes and spaces; O for 0 and I or L
    for 1, as Crockford's base32 reads them) in its canonical ``XXXX-XXXX-XXXX`` form.

    >>> normalise_code(" abcd efgh-jkmn ")
    'ABCD-EFGH-JKMN'
    >>> normalise_code("o1il-0000-0000")
    '0111-0000-0000'
    """
    plain = "".join(c for c in code.upper() if c not in " -")
    plain = plain.translate(str.maketrans("OIL", "011"))
    if len(plain) != _CODE_GROUPS * _GROUP or any(c not in _ALPHABET for c in plain):
        raise FieldError("code", "a sign-in code has 12 letters and digits, like ABCD-EFGH-JKMN")
    return "-".join(plain[i : i + _GROUP] for i in range(0, len(plain), _GROUP))


def create_signin_code(
    engine: Engine, key_id: str, *, now: datetime, ttl: timedelta = CODE_TTL
) -> str:
    """A one-time code that signs a browser in as ``key_id``'s holder within ``ttl``."""
    if not timedelta(0) < ttl <= MAX_CODE_TTL:
        raise FieldError("valid", "a sign-in code lasts more than 0 and at most 7 days")
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(_CODE_GROUPS * _GROUP))
    code = normalise_code(raw)
    with engine.begin() as conn:
        found = key_store.find_key(conn, key_id)
        if found is None:
            raise NotFound(f"key: no key {key_id!r}")
        if found.revoked_at is not None:
            raise FieldError("key", f"the key {key_id} is revoked")
        session_store.insert_code(
            conn, code_sha256=_sha256(code), key_id=key_id, now=now, expires_at=now + ttl
        )
    return code


def start_session(
    engine: Engine,
    audit: AuditLog,
    *,
    now: datetime,
    request_id: str,
    token: str | None = None,
    code: str | None = None,
) -> SignedIn:
    """Sign in with an API key (``token``) or a one-time ``code``; the audit log records
    the new session under the key's principal."""
    if (token is None) == (code is None):
        raise FieldError("key", "sign in with an API key or with a one-time code")
    with engine.begin() as conn:
        if token is not None:
            principal = authenticate(conn, token)
            method = "key"
        else:
            key_id = session_store.use_code(conn, _sha256(normalise_code(code or "")), now=now)
            if key_id is None:
                raise Unauthenticated("the sign-in code is unknown, used or expired")
            found = key_store.find_key(conn, key_id)
            if found is None or found.revoked_at is not None:
                raise Unauthenticated("the key of this sign-in code was revoked")
            principal = found.principal
            method = "code"
        assert principal.key_id is not None
        session_token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24)
        expires = now + SESSION_TTL
        session_store.insert_session(
            conn,
            id_sha256=_sha256(session_token),
            key_id=principal.key_id,
            csrf=csrf,
            now=now,
            expires_at=expires,
        )
        audit.append(
            conn,
            Actor(principal, request_id),
            [Entry("session.start", principal.subject_id, {"method": method})],
            now=now,
        )
    return SignedIn(session_token, WebSession(principal, csrf, expires))


def session_principal(engine: Engine, token: str, *, now: datetime) -> WebSession | None:
    """The live session of a cookie's token, or None (unknown, ended, expired, or its key
    revoked)."""
    if not token or len(token) > 100:
        return None
    with engine.connect().execution_options(read_only=True) as conn:
        found = session_store.find_session(conn, _sha256(token))
        if found is None or found.ended_at is not None or found.expires_at <= now:
            return None
        key = key_store.find_key(conn, found.key_id)
    if key is None or key.revoked_at is not None:
        return None
    return WebSession(key.principal, found.csrf, found.expires_at)


def end_session(
    engine: Engine, audit: AuditLog, token: str, *, now: datetime, request_id: str
) -> bool:
    """Sign out: end the session of ``token``; False if it was not live."""
    live = session_principal(engine, token, now=now)
    if live is None:
        return False
    with engine.begin() as conn:
        ended = session_store.end_session(conn, _sha256(token), now=now)
        if ended:
            audit.append(
                conn,
                Actor(live.principal, request_id),
                [Entry("session.end", live.principal.subject_id)],
                now=now,
            )
    return ended


def csrf_matches(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())
