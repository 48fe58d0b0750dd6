"""The Alembic migrations create exactly the schema that store/tables.py describes."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from trustledger.store import migrate
from trustledger.store.tables import metadata


def test_migrations_match_the_tables(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []


def test_upgrade_is_idempotent_and_reports_head(engine: Engine) -> None:
    assert migrate.current_revision(engine) == migrate.head_revision()
    assert migrate.upgrade(engine) == migrate.head_revision()


def test_a_registry_holding_data_upgrades(db_url: str) -> None:
    """Every migration runs on a database with rows in it, not only on an empty one:
    subjects that identifiers refer to stop SQLite from copying and dropping the subjects
    table, the way Alembic's batch mode adds a constraint there."""
    from alembic import command
    from sqlalchemy import text

    from tests.conftest import _empty_postgres
    from trustledger.store.engine import open_engine

    if db_url.startswith("postgresql"):
        _empty_postgres(db_url)
    eng = open_engine(db_url)
    try:
        config = migrate._config()
        with eng.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0001")
            conn.execute(
                text(
                    "INSERT INTO subjects (id, kind, name, created_at, created_by) "
                    "VALUES (1, 'person', '李娜', '2026-01-01 00:00:00', 'test')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO subject_identifiers (subject_id, kind, value, created_at) "
                    "VALUES (1, 'cn_ric', '440305198504121234', '2026-01-01 00:00:00')"
                )
            )
        assert migrate.upgrade(eng) == migrate.head_revision()
        with eng.connect() as conn:
            assert conn.execute(text("SELECT name, merged_into FROM subjects")).all() == [
                ("李娜", None)
            ]
    finally:
        eng.dispose()
