"""API keys: create (shown once), authenticate, list, revoke.

A key reads ``tlk_<key id>_<secret>``. The key id is public (it appears in the audit
log); the secret is 32 random bytes, and only its SHA-256 is stored. A slow password hash
would add tens of milliseconds to every request and protect nothing more: a 256-bit
random secret cannot be guessed from its hash.

A key may have a webhook (``docs/webhooks.md``): an http or https URL its notifications
are POSTed to, signed with a secret in the Standard Webhooks format (``whsec_`` and the
base64 of 32 random bytes). The secret is shown once, when the webhook is set; a new
webhook (:func:`set_webhook`) always gets a new secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import Connection, Engine

from trustledger.domain.principal import Principal, Role
from trustledger.errors import FieldError, InvalidInput, Unauthenticated
from trustledger.policy.schema import Policy
from trustledger.service.policies import active_policy
from trustledger.service.scoring import resolve_subject
from trustledger.store import keys as key_store
from trustledger.store import sessions as session_store
from trustledger.store.keys import StoredKey

__all__ = [
    "NewKey",
    "authenticate",
    "authenticate_token",
    "create_key",
    "list_keys",
    "revoke_key",
    "set_webhook",
    "validate_webhook_url",
]

PREFIX = "tlk"
#: The Standard Webhooks secret prefix.
WEBHOOK_SECRET_PREFIX = "whsec_"
#: Longer URLs are refused: nobody types them, and they are shown in ``keys list``.
MAX_WEBHOOK_URL = 2000


@dataclass(frozen=True, slots=True)
class NewKey:
    principal: Principal
    #: The whole key, shown once and never stored.
    token: str
    #: Where the key's notifications go, and the secret they are signed with (shown once
    #: beside the key); both None when the key has no webhook.
    webhook_url: str | None = None
    webhook_secret: str | None = None


def _sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def validate_webhook_url(url: str) -> str:
    """``url`` if it can take webhooks: http or https, with a host. Else a
    :class:`FieldError` naming ``webhook``.

    >>> validate_webhook_url("https://hooks.example.com/trustledger")
    'https://hooks.example.com/trustledger'
    >>> validate_webhook_url("ftp://example.com/")
    Traceback (most recent call last):
    ...
    trustledger.errors.FieldError: webhook: 'ftp://example.com/' is not an http or https URL
    """
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise FieldError("webhook", f"{url!r} has spaces or control characters in it")
    if len(url) > MAX_WEBHOOK_URL:
        raise FieldError("webhook", f"the URL is longer than {MAX_WEBHOOK_URL} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise FieldError("webhook", f"{url!r} is not a URL: {exc}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise FieldError("webhook", f"{url!r} is not an http or https URL")
    if not parts.hostname:
        raise FieldError("webhook", f"{url!r} names no host")
    return url


def _webhook_secret() -> str:
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _check_scope(
    policy: Policy,
    role: Role,
    provider: str | None,
    measures: tuple[str, ...],
    subject: str | None,
) -> None:
    if role is Role.PROVIDER:
        if not provider:
            raise InvalidInput("provider: a provider key needs --provider NAME")
        if provider not in policy.providers:
            known = ", ".join(sorted(policy.providers)) or "(none)"
            raise InvalidInput(
                f"provider: unknown provider {provider!r}; the policy knows: {known}"
            )
    elif provider:
        raise InvalidInput(
            f"provider: only a provider key names a provider, not {role.with_article} key"
        )
    if role is Role.RELYING_PARTY:
        if not measures:
            raise InvalidInput("measures: a relying-party key needs --measures M1,M2,...")
        unknown = [m for m in measures if m not in policy.measures]
        if unknown:
            known = ", ".join(sorted(policy.measures))
            raise InvalidInput(
                f"measures: unknown measure(s) {', '.join(unknown)}; the policy has: {known}"
            )
    elif measures:
        raise InvalidInput(
            f"measures: only a relying-party key names measures, not {role.with_article} key"
        )
    if role is Role.SUBJECT and not subject:
        raise InvalidInput("subject: a subject key needs --subject ID")
    if role is not Role.SUBJECT and subject:
        raise InvalidInput(
            f"subject: only a subject key names a subject, not {role.with_article} key"
        )


def create_key(
    engine: Engine,
    *,
    role: Role,
    now: datetime,
    label: str = "",
    provider: str | None = None,
    measures: tuple[str, ...] = (),
    subject: str | None = None,
    rate_per_second: int | None = None,
    webhook_url: str | None = None,
) -> NewKey:
    """Create a key for a principal with ``role``; the token (and the webhook secret, when
    ``webhook_url`` is given) is returned once."""
    if rate_per_second is not None and rate_per_second < 1:
        raise InvalidInput("rate: a rate limit is at least 1 request per second")
    if webhook_url is not None:
        validate_webhook_url(webhook_url)
    webhook_secret = _webhook_secret() if webhook_url is not None else None
    with engine.connect() as conn:
        policy = active_policy(conn).policy
    _check_scope(policy, role, provider, measures, subject)
    subject_id = resolve_subject(engine, subject).id if subject else None
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    principal = Principal(
        key_id=key_id,
        role=role,
        label=label or f"{role.value} key",
        provider=provider,
        measures=measures,
        subject_id=subject_id,
        rate_per_second=rate_per_second,
    )
    with engine.begin() as conn:
        key_store.insert_key(
            conn,
            key_id=key_id,
            secret_sha256=_sha256(secret),
            role=role,
            label=principal.label,
            provider=provider,
            measures=measures,
            subject_id=subject_id,
            rate_per_second=rate_per_second,
            now=now,
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
        )
    return NewKey(principal, f"{PREFIX}_{key_id}_{secret}", webhook_url, webhook_secret)


def authenticate(conn: Connection, token: str) -> Principal:
    """The principal holding ``token``; :class:`Unauthenticated` says what is wrong."""
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        raise Unauthenticated("the API key is malformed: expected tlk_<key id>_<secret>")
    found = key_store.find_key(conn, parts[1])
    if found is None or not hmac.compare_digest(found.secret_sha256, _sha256(parts[2])):
        raise Unauthenticated("the API key is not known to this registry")
    if found.revoked_at is not None:
        raise Unauthenticated(
            f"the API key {parts[1]} was revoked at {found.revoked_at:%Y-%m-%d %H:%M} UTC"
        )
    return found.principal


def authenticate_token(engine: Engine, token: str) -> Principal:
    """:func:`authenticate` on a read-only connection of its own (the service's per-request
    lookup: a revoked key is refused at once)."""
    with engine.connect().execution_options(read_only=True) as conn:
        return authenticate(conn, token)


def list_keys(engine: Engine, *, include_revoked: bool = False) -> list[StoredKey]:
    with engine.connect() as conn:
        return key_store.list_keys(conn, include_revoked=include_revoked)


def revoke_key(engine: Engine, key_id: str, *, now: datetime) -> StoredKey:
    """Revoke a key; its web sessions end with it."""
    with engine.begin() as conn:
        done = key_store.revoke_key(conn, key_id, now=now)
        session_store.end_sessions_of_key(conn, key_id, now=now)
        return done


def set_webhook(engine: Engine, key_id: str, url: str | None) -> str | None:
    """Point ``key_id``'s notifications at ``url`` with a new secret, returned once; or,
    with ``url`` None, remove its webhook (its notifications are then only readable
    through the API) and return None."""
    if url is not None:
        validate_webhook_url(url)
    secret = _webhook_secret() if url is not None else None
    with engine.begin() as conn:
        key_store.set_webhook(conn, key_id, url=url, secret=secret)
    return secret
