"""Shared fixtures.

Fixture strategy: the smallest data that shows the behaviour, built inline by each test
or with the factories in ``tests/factories.py``; no shared giant dataset. Database tests
take the ``engine`` fixture, which runs them twice: on a fresh SQLite file, and on the
throwaway PostgreSQL server that ``scripts/with-postgres`` (``make test``) starts and names
in ``TRUSTLEDGER_TEST_PG``. Without that variable PostgreSQL tests are skipped locally and
*fail* in CI (``CI=true``): they must never be skipped there. Each PostgreSQL test starts
from an empty schema, migrated with Alembic exactly as ``trustledger init`` does.

The clock is a fixture too (``now``): the core never reads it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import Engine, text

from trustledger.service.policies import install_policy
from trustledger.store import migrate
from trustledger.store.engine import open_engine

# The machines are shared and noisy: a slow example is not a failure. Properties still run
# their full number of examples.
settings.register_profile("trustledger", deadline=None, print_blob=True)
settings.load_profile("trustledger")

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_POLICY = ROOT / "policies" / "example-city.toml"
PG_ENV = "TRUSTLEDGER_TEST_PG"


def pg_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if url:
        return url
    if os.environ.get("CI") == "true":
        pytest.fail(
            f"{PG_ENV} is not set: in CI the PostgreSQL tests must run "
            "(run them through `make test`)"
        )
    return None


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'trustledger.db'}"
    url = pg_url()
    if url is None:
        pytest.skip(f"{PG_ENV} not set; run `make test` to start a throwaway PostgreSQL")
    return url


def _empty_postgres(url: str) -> None:
    engine = open_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated, empty database: SQLite and PostgreSQL."""
    if db_url.startswith("postgresql"):
        _empty_postgres(db_url)
    eng = open_engine(db_url)
    migrate.upgrade(eng)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def now() -> datetime:
    return datetime(2026, 6, 30, 12, 0, tzinfo=UTC)


@pytest.fixture
def example_policy() -> Path:
    return EXAMPLE_POLICY


@pytest.fixture
def registry(engine: Engine, now: datetime) -> Engine:
    """A migrated database with the example policy loaded."""
    install_policy(engine, EXAMPLE_POLICY, now=now)
    return engine
