"""Webhooks on API keys, as an operator meets them: ``keys create --webhook``, ``keys list``
and ``keys webhook`` (SQLite and PostgreSQL, through ``engine``)."""

from __future__ import annotations

import base64
import json

import pytest
from sqlalchemy import Engine, select
from standardwebhooks import Webhook
from typer.testing import CliRunner

from tests.conftest import EXAMPLE_POLICY
from trustledger.cli.app import app
from trustledger.store.tables import api_keys

runner = CliRunner()
HOOK = "https://hooks.city-airlines.example/trustledger?source=registry"


def invoke(*args: str, code: int = 0) -> tuple[str, str]:
    """Standard output and standard error of one command."""
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, (result.output, result.exception)
    return result.stdout, result.stderr


@pytest.fixture
def db(engine: Engine, db_url: str) -> tuple[str, ...]:
    args = ("--db", db_url)
    invoke(*args, "init", "--policy", str(EXAMPLE_POLICY))
    return args


def create(db: tuple[str, ...], *extra: str, code: int = 0) -> tuple[str, str]:
    return invoke(
        *db,
        "keys",
        "create",
        "--role",
        "relying_party",
        "--measures",
        "restrict_air_travel",
        "--label",
        "City Airlines",
        *extra,
        code=code,
    )


def stored_webhook(engine: Engine, key_id: str) -> tuple[str | None, str | None]:
    with engine.connect() as conn:
        row = conn.execute(
            select(api_keys.c.webhook_url, api_keys.c.webhook_secret).where(
                api_keys.c.key_id == key_id
            )
        ).one()
    return row.webhook_url, row.webhook_secret


def assert_standard_secret(secret: str) -> None:
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32
    Webhook(secret)  # the receivers' library takes it


def test_create_with_a_webhook_prints_its_secret_once(db: tuple[str, ...], engine: Engine) -> None:
    stdout, stderr = create(db, "--webhook", HOOK)
    token, secret = stdout.split()
    key_id = token.split("_")[1]
    assert_standard_secret(secret)
    assert stdout.count(secret) == 1 and secret not in stderr
    assert "verify" in stderr and HOOK in stderr
    assert stored_webhook(engine, key_id) == (HOOK, secret)

    listed, _ = invoke(*db, "keys", "list")
    assert key_id in listed and HOOK in listed
    assert secret not in listed and secret.removeprefix("whsec_") not in listed


def test_create_without_a_webhook_prints_only_the_key(db: tuple[str, ...], engine: Engine) -> None:
    stdout, stderr = create(db)
    assert len(stdout.split()) == 1 and "whsec_" not in stdout + stderr
    key_id = stdout.split("_")[1]
    assert stored_webhook(engine, key_id) == (None, None)


def test_create_json_gives_the_webhook_and_its_secret(db: tuple[str, ...], engine: Engine) -> None:
    made = json.loads(create(db, "--webhook", HOOK, "--json")[0])
    assert made["webhook"] == HOOK
    assert_standard_secret(made["webhook_secret"])
    assert stored_webhook(engine, made["key_id"]) == (HOOK, made["webhook_secret"])
    plain = json.loads(create(db, "--json")[0])
    assert plain["webhook"] is None and plain["webhook_secret"] is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://hooks.example/x", "is not an http or https URL"),
        ("hooks.example/x", "is not an http or https URL"),
        ("https:///x", "names no host"),
        ("https://hooks.example:99999/x", "is not a URL"),
        ("https://hooks.example/a b", "spaces"),
    ],
)
def test_a_bad_webhook_url_is_refused_naming_the_option(
    db: tuple[str, ...], engine: Engine, url: str, reason: str
) -> None:
    _, stderr = create(db, "--webhook", url, code=1)
    assert "webhook:" in stderr and reason in stderr
    with engine.connect() as conn:
        assert conn.execute(select(api_keys.c.id)).all() == []
    _, stderr = invoke(*db, "keys", "webhook", "abc", url, code=1)
    assert "webhook:" in stderr and reason in stderr


def test_keys_webhook_sets_a_new_secret_each_time_and_removes_it(
    db: tuple[str, ...], engine: Engine
) -> None:
    token = create(db)[0].strip()
    key_id = token.split("_")[1]

    stdout, stderr = invoke(*db, "keys", "webhook", key_id, HOOK)
    first = stdout.strip()
    assert_standard_secret(first)
    assert "verify" in stderr
    assert stored_webhook(engine, key_id) == (HOOK, first)

    other = "http://10.0.0.5:8080/hook"
    second = invoke(*db, "keys", "webhook", key_id, other)[0].strip()
    assert_standard_secret(second)
    assert second != first
    assert stored_webhook(engine, key_id) == (other, second)
    assert other in invoke(*db, "keys", "list")[0]

    stdout, _ = invoke(*db, "keys", "webhook", key_id, "--remove")
    assert "Removed the webhook" in stdout and "whsec_" not in stdout
    assert stored_webhook(engine, key_id) == (None, None)
    assert other not in invoke(*db, "keys", "list")[0]


def test_keys_webhook_wants_a_url_or_remove_and_a_live_key(db: tuple[str, ...]) -> None:
    key_id = create(db)[0].strip().split("_")[1]
    assert "--remove" in invoke(*db, "keys", "webhook", key_id, code=1)[1]
    assert "not both" in invoke(*db, "keys", "webhook", key_id, HOOK, "--remove", code=1)[1]
    assert "no API key 'nobody'" in invoke(*db, "keys", "webhook", "nobody", HOOK, code=1)[1]
    invoke(*db, "keys", "revoke", key_id)
    assert "revoked" in invoke(*db, "keys", "webhook", key_id, HOOK, code=1)[1]
    # A revoked key may still lose its webhook.
    invoke(*db, "keys", "webhook", key_id, "--remove")
