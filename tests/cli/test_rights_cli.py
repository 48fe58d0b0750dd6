"""Subject rights at the terminal: an objection filed on a subject's behalf, the queue,
a correction that reaches the relying party, who looked, quality figures, maintenance
and erasure, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from tests.conftest import EXAMPLE_POLICY
from trustledger.cli.app import app
from trustledger.identifiers import make_ric
from trustledger.service.audit import verify
from trustledger.store import audit as audit_store

runner = CliRunner()
PERSON = make_ric("440305", date(1985, 4, 12), 123)


def run(*args: str, code: int = 0, input: str | None = None) -> str:
    result = runner.invoke(app, list(args), input=input)
    assert result.exit_code == code, (result.output, result.exception)
    return result.output


@pytest.fixture
def db(engine: Engine, db_url: str, tmp_path: Path) -> tuple[str, ...]:
    args = ("--db", db_url)
    run(*args, "init", "--policy", str(EXAMPLE_POLICY))
    court = tmp_path / "court.jsonl"
    court.write_text(
        json.dumps(
            {
                "reference": "J-1",
                "subject_id_kind": "cn_ric",
                "subject_id": PERSON,
                "subject_name": "陈静",
                "record_type": "court_judgment_unfulfilled",
                "valid_from": "2026-01-15",
                "amount": "80000",
            },
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    run(*args, "ingest", str(court), "--provider", "intermediate_court")
    return args


def record_id(db: tuple[str, ...]) -> int:
    rows = json.loads(run(*db, "records", PERSON, "--json"))
    return int(rows[0]["record_id"])


def test_an_objection_from_the_counter_to_a_correction(
    db: tuple[str, ...], tmp_path: Path, engine: Engine
) -> None:
    letter = tmp_path / "letter.txt"
    letter.write_text("I paid 8,000, not 80,000. Receipt enclosed.", encoding="utf-8")
    rid = record_id(db)
    case = json.loads(
        run(
            *db,
            "cases",
            "object",
            PERSON,
            str(rid),
            "--reason",
            "The amount is wrong.",
            "--evidence",
            str(letter),
            "--json",
        )
    )
    assert case["status"] == "open" and case["evidence"][0]["filename"] == "letter.txt"
    listed = run(*db, "cases", "list")
    assert case["id"] in listed and "court_judgment_unfulfilled" in listed
    shown = run(*db, "cases", "show", case["id"])
    assert "The amount is wrong." in shown and "letter.txt" in shown

    reviewer = json.loads(run(*db, "keys", "create", "--role", "reviewer", "--json"))
    unknown = run(*db, "cases", "assign", case["id"], "--to", "nobody", code=1)
    assert "not the key id of an active reviewer key" in unknown
    assigned = json.loads(
        run(*db, "cases", "assign", case["id"], "--to", reviewer["key_id"], "--json")
    )
    assert assigned["status"] == "assigned" and assigned["assigned_to"] == reviewer["key_id"]
    refused = run(
        *db, "cases", "decide", case["id"], "--outcome", "corrected", "--reason", "x", code=1
    )
    assert "correction" in refused
    decided = json.loads(
        run(
            *db,
            "cases",
            "decide",
            case["id"],
            "--outcome",
            "corrected",
            "--reason",
            "The court's file says 8,000.",
            "--amount",
            "8000",
            "--json",
        )
    )
    assert decided["outcome"] == "corrected"
    assert [v["amount"] for v in decided["record"]] == ["80000.00", "8000.00"]
    assert case["id"] not in run(*db, "cases", "list")
    assert case["id"] in run(*db, "cases", "list", "--all")

    log = json.loads(run(*db, "access-log", PERSON, "--json"))
    assert {"case.open", "case.decide", "records.write"} <= {e["action"] for e in log["events"]}
    assert all(e["who"] == "command line" for e in log["events"])
    # As for the other commands, the events name the terminal's OS user.
    with engine.connect() as conn:
        opened = next(e for e in audit_store.iter_events(conn) if e.action == "case.open")
    assert json.loads(opened.detail)["via"] == "cli" and json.loads(opened.detail)["user"]
    quality = json.loads(run(*db, "quality", "--json"))
    assert [(q["provider"], q["received"], q["corrected"]) for q in quality["providers"]] == [
        ("intermediate_court", 1, 1)
    ]
    assert "Intermediate" in run(*db, "quality")


def test_maintain_and_erase(db: tuple[str, ...], engine: Engine) -> None:
    report = json.loads(run(*db, "maintain", "--no-deliver", "--json"))
    assert report["expired"] == 0 and report["score_run"] is not None
    assert "Maintenance as of" in runner.invoke(app, [*db, "maintain", "--no-full"]).output
    assert "nothing erased" in run(
        *db, "erase", PERSON, "--legal-basis", "PIPL", input="n\n", code=1
    )
    erased = json.loads(
        run(*db, "erase", PERSON, "--legal-basis", "PIPL art. 47", "--yes", "--json")
    )
    assert erased["removed"]["record_versions"] == 1 and erased["removed"]["identifiers"] == 1
    assert "no subject" in run(*db, "explain", PERSON, code=1)
    with engine.connect() as conn:
        actions = [e.action for e in audit_store.iter_events(conn)]
    assert actions[-1] == "subject.erase"
    assert verify(engine).events == len(actions)
