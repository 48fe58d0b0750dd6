"""``trustledger ingest`` and ``trustledger quarantine`` as an operator meets them: a dry
run prints the report and stores nothing, a refused file goes to quarantine, ``show``
lists every bad row, ``retry`` lands it once fixed; every step is in the audit log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from trustledger.cli.app import app
from trustledger.store import tables

from .conftest import NOTHING, counts, court_row, write_court

runner = CliRunner()


@pytest.fixture(autouse=True)
def audit_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "audit-key.pem"
    monkeypatch.setenv("TRUSTLEDGER_AUDIT_KEY", str(path))
    return path


def run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, (result.output, result.exception)
    return result.output


def actions(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(tables.audit_events.c.action)).scalars())


def test_dry_run_quarantine_and_retry(
    registry: Engine, db_url: str, tmp_path: Path, court_mapping: Path
) -> None:
    db = ("--db", db_url)
    court = ("--provider", "intermediate_court", "--mapping", str(court_mapping))
    good = write_court(tmp_path / "good.csv", [court_row()])
    out = run(*db, "ingest", str(good), *court, "--dry-run")
    assert out.startswith("dry run, nothing was stored:") and "1 new" in out
    assert counts(registry) == NOTHING

    bad = write_court(
        tmp_path / "bad.csv", [court_row(), court_row("（2025）粤03执2号", status="未知")]
    )
    out = run(*db, "ingest", str(bad), *court, "--dry-run", code=1)
    assert f"{bad}:3:履行情况: unknown code '未知'" in out
    assert "dry run: nothing was stored" in out
    assert counts(registry) == NOTHING

    out = run(*db, "ingest", str(bad), *court, code=1)
    assert "kept in quarantine as batch 1 (trustledger quarantine show 1)" in out
    listed = run(*db, "quarantine", "list")
    assert "bad.csv" in listed and "quarantined" in listed
    shown = run(*db, "quarantine", "show", "1")
    assert f"{bad}:3:履行情况: unknown code '未知'" in shown
    data = json.loads(run(*db, "quarantine", "show", "1", "--json"))
    assert (data["status"], data["problem_count"], data["counts"]["rows"]) == ("quarantined", 1, 2)
    assert data["problems"][0]["field"] == "履行情况"

    fixed = write_court(tmp_path / "fixed.csv", [court_row(), court_row("（2025）粤03执2号")])
    out = run(*db, "quarantine", "retry", "1", "--file", str(fixed))
    assert "2 new" in out and "Batch 2." in out
    assert "No batch waits in quarantine." in run(*db, "quarantine", "list")
    assert "retried" in run(*db, "quarantine", "list", "--all")
    again = json.loads(run(*db, "ingest", str(fixed), *court, "--json"))
    assert (again["status"], again["batch_id"], again["created"]) == ("already", 2, 0)
    assert actions(registry) == [
        "batch.quarantined",
        "quarantine.read",
        "quarantine.read",
        "records.write",
    ]


def test_encoding_and_delimiter_options(registry: Engine, db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "court.txt"
    path.write_bytes(
        "reference\tsubject_id_kind\tsubject_id\tsubject_name\trecord_type\tvalid_from\n"
        "C-1\tcn_ric\t11010519491231002X\t李娜\tcourt_judgment_unfulfilled\t2026-01-05\n".encode(
            "gb18030"
        )
    )
    base = ("--db", db_url, "ingest", str(path), "--provider", "intermediate_court")
    assert "cannot tell the format from '.txt'" in run(*base, "--dry-run", code=1)
    out = run(*base, "--format", "csv", "--encoding", "utf-8", "--dry-run", code=1)
    assert f"{path}:2:-: not valid utf-8" in out
    out = run(*base, "--format", "csv", "--delimiter", "\\t", "--encoding", "gb18030", "--json")
    assert json.loads(out)["created"] == 1
