"""``trustledger keys signin-code``: a one-time code for the web pages (SQLite and
PostgreSQL, through ``engine``)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from tests.conftest import EXAMPLE_POLICY
from trustledger.audit import AuditKey
from trustledger.cli.app import app
from trustledger.store.tables import signin_codes
from trustledger.web.app import Settings, create_app

runner = CliRunner()


def invoke(*args: str, code: int = 0) -> tuple[str, str]:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, (result.output, result.exception)
    return result.stdout, result.stderr


@pytest.fixture
def db(engine: Engine, db_url: str) -> tuple[str, ...]:
    args = ("--db", db_url)
    invoke(*args, "init", "--policy", str(EXAMPLE_POLICY))
    return args


def test_a_code_signs_a_browser_in_once(engine: Engine, db: tuple[str, ...]) -> None:
    key, _ = invoke(*db, "keys", "create", "--role", "reviewer", "--label", "Ms Reviewer")
    key_id = key.strip().split("_")[1]
    out, err = invoke(
        *db, "keys", "signin-code", key_id, "--minutes", "5", "--url", "https://reg.example/"
    )
    code = out.strip()
    assert re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", code)
    assert f"https://reg.example/signin?code={code}" in err and "valid 5 minutes" in err
    # Only its hash is stored.
    with engine.connect() as conn:
        stored = conn.execute(select(signin_codes.c.code_sha256)).scalars().all()
    assert code not in stored and len(stored) == 1
    client = TestClient(create_app(Settings(engine=engine, audit_key=AuditKey.generate())))
    first = client.post("/signin", data={"secret": code}, follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/desk"
    assert client.post("/signin", data={"secret": code}).status_code == 401


def test_unknown_and_revoked_keys_get_no_code(db: tuple[str, ...]) -> None:
    _, err = invoke(*db, "keys", "signin-code", "nosuchkey", code=1)
    assert "no key 'nosuchkey'" in err
    key, _ = invoke(*db, "keys", "create", "--role", "operator")
    key_id = key.strip().split("_")[1]
    invoke(*db, "keys", "revoke", key_id)
    _, err = invoke(*db, "keys", "signin-code", key_id, code=1)
    assert "revoked" in err
    _, err = invoke(*db, "keys", "signin-code", key_id, "--minutes", "0", code=2)
    assert "--minutes" in err
