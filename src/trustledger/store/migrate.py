"""Schema migrations with Alembic, run from code (``trustledger init``).

The migration scripts live in ``trustledger/store/migrations/versions``; the database
records its revision in ``alembic_version``.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from trustledger.errors import StoreError

__all__ = ["check_current", "current_revision", "head_revision", "upgrade"]

_HERE = Path(__file__).parent / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_HERE))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        where = engine.url.render_as_string(hide_password=True)
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise StoreError(f"cannot open database {where}: {reason}") from exc


def upgrade(engine: Engine) -> str:
    """Bring the schema to the newest revision; returns it. Safe to run again."""
    current_revision(engine)  # a clear StoreError when the database cannot be reached
    config = _config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    return head_revision()


def check_current(engine: Engine) -> None:
    """Raise :class:`StoreError` unless the database is initialised and up to date."""
    current = current_revision(engine)
    if current is None:
        raise StoreError(
            f"database {engine.url.render_as_string(hide_password=True)} is not initialised: "
            "run `trustledger init` first"
        )
    if current != head_revision():
        raise StoreError(
            f"database schema is at revision {current}, this trustledger needs "
            f"{head_revision()}: run `trustledger init` to upgrade"
        )
