"""Browser sessions and one-time sign-in codes, stored as SHA-256 hashes only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, delete, insert, or_, select, update

from trustledger.store.tables import signin_codes, web_sessions

__all__ = [
    "StoredSession",
    "end_session",
    "end_sessions_of_key",
    "find_session",
    "insert_code",
    "insert_session",
    "purge",
    "use_code",
]


@dataclass(frozen=True, slots=True)
class StoredSession:
    key_id: str
    csrf: str
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None


def insert_session(
    conn: Connection,
    *,
    id_sha256: str,
    key_id: str,
    csrf: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    conn.execute(
        insert(web_sessions).values(
            id_sha256=id_sha256,
            key_id=key_id,
            csrf=csrf,
            created_at=now,
            expires_at=expires_at,
            ended_at=None,
        )
    )


def find_session(conn: Connection, id_sha256: str) -> StoredSession | None:
    row = conn.execute(
        select(
            web_sessions.c.key_id,
            web_sessions.c.csrf,
            web_sessions.c.created_at,
            web_sessions.c.expires_at,
            web_sessions.c.ended_at,
        ).where(web_sessions.c.id_sha256 == id_sha256)
    ).one_or_none()
    return None if row is None else StoredSession(*row)


def end_session(conn: Connection, id_sha256: str, *, now: datetime) -> bool:
    """End a live session; False if it was not live."""
    done = conn.execute(
        update(web_sessions)
        .where(web_sessions.c.id_sha256 == id_sha256, web_sessions.c.ended_at.is_(None))
        .values(ended_at=now)
    )
    return done.rowcount == 1


def end_sessions_of_key(conn: Connection, key_id: str, *, now: datetime) -> int:
    done = conn.execute(
        update(web_sessions)
        .where(web_sessions.c.key_id == key_id, web_sessions.c.ended_at.is_(None))
        .values(ended_at=now)
    )
    return done.rowcount


def purge(conn: Connection, *, before: datetime) -> int:
    """Delete the sessions and sign-in codes that ended or expired before ``before``; how
    many. (Signing in and out stay in the audit log.)"""
    gone = conn.execute(
        delete(web_sessions).where(
            or_(web_sessions.c.expires_at < before, web_sessions.c.ended_at < before)
        )
    ).rowcount
    gone += conn.execute(delete(signin_codes).where(signin_codes.c.expires_at < before)).rowcount
    return int(gone)


def insert_code(
    conn: Connection, *, code_sha256: str, key_id: str, now: datetime, expires_at: datetime
) -> None:
    conn.execute(
        insert(signin_codes).values(
            code_sha256=code_sha256,
            key_id=key_id,
            created_at=now,
            expires_at=expires_at,
            used_at=None,
        )
    )


def use_code(conn: Connection, code_sha256: str, *, now: datetime) -> str | None:
    """Mark an unused, unexpired code used and return its key id; None if there is no such
    code. One UPDATE: two browsers racing with the same code cannot both win."""
    key_id = conn.execute(
        select(signin_codes.c.key_id).where(signin_codes.c.code_sha256 == code_sha256)
    ).scalar_one_or_none()
    if key_id is None:
        return None
    done = conn.execute(
        update(signin_codes)
        .where(
            and_(
                signin_codes.c.code_sha256 == code_sha256,
                signin_codes.c.used_at.is_(None),
                signin_codes.c.expires_at > now,
            )
        )
        .values(used_at=now)
    )
    return str(key_id) if done.rowcount == 1 else None
