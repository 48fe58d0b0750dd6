"""API keys: stored as SHA-256 hashes of their secrets, revoked but never deleted.

A key may have a webhook: the URL its notifications are POSTed to and the secret they are
signed with. The webhook secret is kept (signing needs it) but never read into
:class:`StoredKey`: listing keys cannot show it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, insert, select, update

from trustledger.domain.principal import Principal, Role
from trustledger.domain.subject import SubjectId
from trustledger.errors import Conflict, NotFound
from trustledger.store.tables import api_keys

__all__ = [
    "StoredKey",
    "find_key",
    "insert_key",
    "list_keys",
    "revoke_key",
    "set_webhook",
]


@dataclass(frozen=True, slots=True)
class StoredKey:
    principal: Principal
    secret_sha256: str
    created_at: datetime
    revoked_at: datetime | None
    #: Where this key's notifications are POSTed, if anywhere (never the secret).
    webhook_url: str | None = None


def _row(row: object) -> StoredKey:
    r = row._mapping  # type: ignore[attr-defined]
    principal = Principal(
        key_id=r["key_id"],
        role=Role(r["role"]),
        label=r["label"],
        provider=r["provider"],
        measures=tuple(json.loads(r["measures"])) if r["measures"] else (),
        subject_id=r["subject_id"],
        rate_per_second=r["rate_per_second"],
    )
    return StoredKey(
        principal, r["secret_sha256"], r["created_at"], r["revoked_at"], r["webhook_url"]
    )


def insert_key(
    conn: Connection,
    *,
    key_id: str,
    secret_sha256: str,
    role: Role,
    label: str,
    provider: str | None,
    measures: tuple[str, ...],
    subject_id: SubjectId | None,
    rate_per_second: int | None,
    now: datetime,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
) -> None:
    if (webhook_url is None) != (webhook_secret is None):
        raise ValueError("a webhook needs both its URL and its secret")
    conn.execute(
        insert(api_keys).values(
            key_id=key_id,
            secret_sha256=secret_sha256,
            role=role.value,
            provider=provider,
            measures=json.dumps(list(measures)) if measures else None,
            subject_id=subject_id,
            label=label,
            rate_per_second=rate_per_second,
            created_at=now,
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
        )
    )


# Every column but the webhook secret.
_KEY_COLUMNS = [c for c in api_keys.c if c.name != "webhook_secret"]
_BY_KEY_ID = select(*_KEY_COLUMNS).where(api_keys.c.key_id == bindparam("key_id"))


def find_key(conn: Connection, key_id: str) -> StoredKey | None:
    row = conn.execute(_BY_KEY_ID, {"key_id": key_id}).first()
    return None if row is None else _row(row)


def list_keys(conn: Connection, *, include_revoked: bool = False) -> list[StoredKey]:
    query = select(*_KEY_COLUMNS).order_by(api_keys.c.id)
    if not include_revoked:
        query = query.where(api_keys.c.revoked_at.is_(None))
    return [_row(r) for r in conn.execute(query)]


def revoke_key(conn: Connection, key_id: str, *, now: datetime) -> StoredKey:
    found = find_key(conn, key_id)
    if found is None:
        raise NotFound(f"no API key {key_id!r}; see `trustledger keys list`")
    if found.revoked_at is not None:
        raise Conflict(
            f"API key {key_id!r} was already revoked at {found.revoked_at:%Y-%m-%d %H:%M} UTC"
        )
    conn.execute(update(api_keys).where(api_keys.c.key_id == key_id).values(revoked_at=now))
    return find_key(conn, key_id)  # type: ignore[return-value]


def set_webhook(conn: Connection, key_id: str, *, url: str | None, secret: str | None) -> StoredKey:
    """Give ``key_id`` a webhook (``url`` and ``secret``), or take it away (both None).

    A revoked key may lose its webhook but not get one.
    """
    if (url is None) != (secret is None):
        raise ValueError("a webhook needs both its URL and its secret")
    found = find_key(conn, key_id)
    if found is None:
        raise NotFound(f"no API key {key_id!r}; see `trustledger keys list`")
    if url is not None and found.revoked_at is not None:
        raise Conflict(
            f"API key {key_id!r} was revoked at {found.revoked_at:%Y-%m-%d %H:%M} UTC; "
            "it gets no webhook"
        )
    conn.execute(
        update(api_keys)
        .where(api_keys.c.key_id == key_id)
        .values(webhook_url=url, webhook_secret=secret)
    )
    return find_key(conn, key_id)  # type: ignore[return-value]
