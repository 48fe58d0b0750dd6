"""Locks across processes: one ``maintain`` at a time per database.

``serve --workers N`` runs the maintenance schedule in every worker, and a cron job may run
``trustledger maintain`` beside them. Two runs at once would race to expire the same
records and flag the same reviews, so each run first takes the database's maintenance
lock and a run that cannot get it skips its turn.

PostgreSQL: a session advisory lock, held on a connection of its own for the run.
SQLite: an exclusive ``flock`` on a file beside the database (``DB.maintain.lock``); an
in-memory database belongs to one process and needs none.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text

from trustledger.store.engine import sqlite_file

__all__ = ["maintenance_lock"]

#: The advisory lock's key: any fixed 64-bit number, the same in every process.
_PG_KEY = 7_426_581_903_114_002_006


@contextmanager
def maintenance_lock(engine: Engine) -> Iterator[bool]:
    """Yields whether this process holds the maintenance lock (never waits for it)."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            got = bool(
                conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _PG_KEY}).scalar()
            )
            conn.commit()
            try:
                yield got
            finally:
                if got:
                    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_KEY})
                    conn.commit()
        return
    path = sqlite_file(engine.url.render_as_string(hide_password=False))
    if path is None:
        yield True
        return
    fd = os.open(f"{path}.maintain.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
