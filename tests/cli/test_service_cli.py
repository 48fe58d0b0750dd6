"""The service's commands as a user meets them: keys, audit verify and tree-head, and a
real ``trustledger serve`` answering over loopback."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text, update
from typer.testing import CliRunner

from tests.conftest import EXAMPLE_POLICY
from trustledger.cli.app import app
from trustledger.domain.principal import ANONYMOUS, Actor
from trustledger.service.audit import AuditLog, Entry, audit_key_path, ensure_audit_key
from trustledger.store.tables import audit_events

runner = CliRunner()


def run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, (result.output, result.exception)
    return result.output


@pytest.fixture
def db(
    engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, ...]:
    monkeypatch.setenv("TRUSTLEDGER_AUDIT_KEY", str(tmp_path / "audit-key.pem"))
    args = ("--db", db_url)
    out = run(*args, "init", "--policy", str(EXAMPLE_POLICY))
    assert "Created the audit log's signing key" in out
    return args


def test_keys_are_shown_once_listed_without_secrets_and_revoked(db: tuple[str, ...]) -> None:
    made = json.loads(
        run(
            *db,
            "keys",
            "create",
            "--role",
            "relying_party",
            "--measures",
            "restrict_air_travel,loan_rate_review",
            "--label",
            "City Airlines",
            "--json",
        )
    )
    assert made["key"].startswith(f"tlk_{made['key_id']}_")
    assert made["measures"] == ["restrict_air_travel", "loan_rate_review"]
    listed = run(*db, "keys", "list")
    assert made["key_id"] in listed and "City Airlines" in listed
    assert made["key"].split("_", 2)[2] not in listed
    assert "Revoked key" in run(*db, "keys", "revoke", made["key_id"])
    assert made["key_id"] not in run(*db, "keys", "list")
    assert made["key_id"] in run(*db, "keys", "list", "--all")
    assert "already revoked" in run(*db, "keys", "revoke", made["key_id"], code=1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--role", "provider"), "provider: a provider key needs --provider"),
        (("--role", "provider", "--provider", "nobody"), "unknown provider 'nobody'"),
        (("--role", "relying_party", "--measures", "fly"), "unknown measure(s) fly"),
        (("--role", "operator", "--provider", "intermediate_court"), "only a provider key"),
        (("--role", "subject"), "a subject key needs --subject"),
        (("--role", "king"), "unknown role 'king'"),
    ],
)
def test_a_key_with_a_wrong_scope_is_refused(
    db: tuple[str, ...], args: tuple[str, ...], message: str
) -> None:
    assert message in run(*db, "keys", "create", *args, code=1)


def test_audit_verify_passes_then_names_the_edited_event(
    db: tuple[str, ...], engine: Engine, db_url: str, tmp_path: Path
) -> None:
    key, _ = ensure_audit_key(engine, audit_key_path(db_url), now=_now())
    log = AuditLog(key)
    for i in range(5):
        with engine.begin() as conn:
            log.append(
                conn,
                Actor(ANONYMOUS, f"r{i}"),
                [Entry("public.list.read", None, {"i": i})],
                now=_now(),
            )
    head = tmp_path / "head.json"
    head.write_text(run(*db, "audit", "tree-head"))
    assert json.loads(head.read_text())["tree_size"] == 5
    ok = run(*db, "audit", "verify", "--tree-head", str(head))
    assert "Audit log verifies: 5 events" in ok and "key file" in ok
    with engine.begin() as conn:
        conn.execute(update(audit_events).where(audit_events.c.seq == 2).values(purpose="lies"))
    bad = run(*db, "audit", "verify", code=1)
    assert "does NOT verify" in bad and "event 2" in bad


def _now() -> datetime:
    return datetime.now(UTC)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_over_loopback(db: tuple[str, ...], tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ}
    exe = Path(sys.executable).parent / "trustledger"
    proc = subprocess.Popen(
        [str(exe), *db, "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/v1/health", timeout=1) as r:
                    assert json.load(r)["status"] == "ok"
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        proc.stdout.read() if proc.stdout else "no output"
                    ) from None
                time.sleep(0.2)
        with urllib.request.urlopen(f"{base}/v1/audit/tree-head", timeout=5) as r:
            assert json.load(r)["tree_size"] == 0
        with urllib.request.urlopen(f"{base}/openapi.json", timeout=5) as r:
            assert "/v1/decisions" in json.load(r)["paths"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_serve_refuses_a_database_that_is_not_initialised(tmp_path: Path) -> None:
    assert "trustledger init" in run("--db", str(tmp_path / "none.db"), "serve", code=1)


def test_init_on_postgresql_without_a_key_path_warns(
    engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has a default key path beside its file")
    monkeypatch.delenv("TRUSTLEDGER_AUDIT_KEY", raising=False)
    out = run("--db", db_url, "init", "--policy", str(EXAMPLE_POLICY))
    assert "warning: no audit key made" in out and "TRUSTLEDGER_AUDIT_KEY" in out
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from audit_keys")).scalar_one() == 0


def test_commands_that_read_or_write_files_are_audited(
    db: tuple[str, ...], engine: Engine, tmp_path: Path
) -> None:
    from tests.cli.test_cli import PERSON, jsonl

    court = jsonl(
        tmp_path / "court.jsonl",
        [
            {
                "reference": "J-1",
                "subject_id_kind": "cn_ric",
                "subject_id": PERSON,
                "subject_name": "陈静",
                "record_type": "court_judgment_unfulfilled",
                "valid_from": "2026-01-15",
            }
        ],
    )
    run(*db, "ingest", str(court), "--provider", "intermediate_court")
    run(*db, "explain", PERSON)
    run(*db, "records", PERSON)
    run(*db, "score")
    run(*db, "subjects", "--list", "black")
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                audit_events.c.action,
                audit_events.c.role,
                audit_events.c.key_id,
                audit_events.c.purpose,
                audit_events.c.subject_id,
                audit_events.c.detail,
                audit_events.c.request_id,
            ).order_by(audit_events.c.seq)
        ).all()
    assert [r.action for r in rows] == [
        "records.write",
        "subject.explanation.read",
        "subject.file.read",
        "scores.run",
        "subjects.query",
    ]
    assert {(r.role, r.key_id, r.purpose) for r in rows} == {
        ("operator", None, "registry_administration")
    }
    assert rows[0].subject_id == rows[1].subject_id == rows[2].subject_id is not None
    assert all(r.request_id.startswith("cli-") and '"via":"cli"' in r.detail for r in rows)
    assert len({r.request_id for r in rows}) == 5
    assert "Audit log verifies: 5 events" in run(*db, "audit", "verify")


def test_audit_verify_says_when_the_key_is_not_the_logs(
    db: tuple[str, ...], engine: Engine, db_url: str
) -> None:
    import base64

    from trustledger.audit import AuditKey

    key, _ = ensure_audit_key(engine, audit_key_path(db_url), now=_now())
    with engine.begin() as conn:
        AuditLog(key).append(conn, Actor(ANONYMOUS, "r"), [Entry("public.list.read")], now=_now())
    short = run(*db, "audit", "verify", "--public-key", "AAAA", code=1)
    assert "32 bytes, this is 3" in short
    other = base64.b64encode(AuditKey.generate().public_bytes()).decode()
    wrong = run(*db, "audit", "verify", "--public-key", other, code=1)
    assert "event 0" in wrong and "not the key pinned in the database" in wrong


def test_a_missing_key_file_is_not_replaced_by_a_new_key(
    db: tuple[str, ...], engine: Engine, db_url: str, tmp_path: Path
) -> None:
    from trustledger.errors import AuditError

    path = audit_key_path(db_url)
    path.rename(tmp_path / "moved.pem")
    with pytest.raises(AuditError, match="missing"):
        ensure_audit_key(engine, path, now=_now())
    assert not path.exists()
    assert "restore that file" in run(*db, "serve", code=1)


def test_tree_heads_never_go_back_in_time(db: tuple[str, ...], engine: Engine, db_url: str) -> None:
    from datetime import timedelta

    key, _ = ensure_audit_key(engine, audit_key_path(db_url), now=_now())
    log = AuditLog(key)
    later = _now()
    for when in (later, later - timedelta(seconds=5)):  # a request that read the clock first
        with engine.begin() as conn:
            log.append(conn, Actor(ANONYMOUS, "r"), [Entry("public.list.read")], now=when)
    with engine.connect() as conn:
        stamps = [
            r.signed_at_ms
            for r in conn.execute(select(audit_events.c.signed_at_ms).order_by(audit_events.c.seq))
        ]
    assert stamps == sorted(stamps) and stamps[0] == stamps[1]
    assert "Audit log verifies: 2 events" in run(*db, "audit", "verify")
