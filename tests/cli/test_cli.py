"""The command line as a user meets it: exit codes, messages, JSON shapes."""

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

runner = CliRunner()
PERSON = make_ric("440305", date(1988, 2, 29), 42)


def run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, (result.output, result.exception)
    return result.output


def jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def test_a_whole_session(
    engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(EXAMPLE_POLICY.parent.parent)  # init finds policies/example-city.toml
    db = ("--db", db_url)
    assert "Loaded policy example-city@1" in run(*db, "init")
    assert "Policy in force: example-city@1" in run(*db, "init")

    good = jsonl(
        tmp_path / "court.jsonl",
        [
            {
                "reference": "J-1",
                "subject_id_kind": "cn_ric",
                "subject_id": PERSON,
                "subject_name": "陈静",
                "record_type": "court_judgment_unfulfilled",
                "valid_from": "2026-01-15",
                "amount": "80000",
            },
        ],
    )
    assert "1 new" in run(*db, "ingest", str(good), "--provider", "intermediate_court")

    bad = jsonl(
        tmp_path / "bad.jsonl",
        [
            {
                "reference": "J-2",
                "subject_id_kind": "cn_ric",
                "subject_id": PERSON[:-1] + "?",
                "record_type": "court_judgment_unfulfilled",
                "valid_from": "2026-01-15",
            },
        ],
    )
    output = run(*db, "ingest", str(bad), "--provider", "intermediate_court", code=1)
    assert f"{bad}:1:subject_id:" in output
    assert "nothing was stored" in output

    assert "Run 1" in run(*db, "score", "--as-of", "2026-06-30")
    explained = json.loads(run(*db, "explain", PERSON, "--as-of", "2026-06-30", "--json"))
    for key in (
        "subject",
        "base",
        "score",
        "grade",
        "policy_version",
        "as_of",
        "contributions",
        "lists",
    ):
        assert key in explained
    assert explained["policy_version"] == "example-city@1"
    assert explained["as_of"] == "2026-06-30"
    (line,) = [c for c in explained["contributions"] if c["kind"] == "record"]
    assert {"record_id", "record_type", "rule", "points"} <= set(line)
    assert explained["lists"][0]["list"] == "black"
    text = run(*db, "explain", PERSON, "--as-of", "2026-06-30")
    assert "Score" in text and "15 January 2026" in text

    listed = json.loads(run(*db, "subjects", "--list", "black", "--json"))
    assert [s["id"] for s in listed] == [explained["subject"]["id"]]
    assert json.loads(run(*db, "subjects", "--grade", "AAA", "--json")) == []
    assert "black" in run(*db, "lists")
    assert "J-1" in run(*db, "records", PERSON)
    assert "create" in run(*db, "history", "1")
    assert "example-city@1" in run(*db, "policy", "versions")
    assert "court_judgment_unfulfilled" in run(*db, "policy", "show")
    assert "no subject 'nobody'" in run(*db, "explain", "nobody", code=1)


def test_policy_lint_names_file_and_line(tmp_path: Path) -> None:
    assert "ok" in run("policy", "lint", str(EXAMPLE_POLICY))
    text = EXAMPLE_POLICY.read_text(encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(
        text + '\n[record_types.online_rumours]\ndomain = "civic"\n'
        'title = "Spreading rumours online"\npoints = -50\ncounts_for = "2y"\n'
        'legal_basis = "none"\n',
        encoding="utf-8",
    )
    output = run("policy", "lint", str(bad), code=1)
    line = len(text.splitlines()) + 2
    assert f"{bad}:{line}:" in output
    assert "protected" in output


def test_commands_refuse_an_uninitialised_database(tmp_path: Path) -> None:
    output = run("--db", str(tmp_path / "new.db"), "score", code=1)
    assert "trustledger init" in output


def test_demo_small(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(EXAMPLE_POLICY.parent.parent)
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    output = run(
        "--db",
        db,
        "demo",
        "--subjects",
        "300",
        "--workdir",
        str(tmp_path / "files"),
        "--as-of",
        "2026-06-30",
        "--no-serve",
    )
    assert "300 subjects" in output
    assert "Grades" in output and "Example:" in output and "What to run next" in output
    # One demo key per role, shown and kept in a file only its owner reads.
    keys = (tmp_path / "keys.txt").read_text().splitlines()
    roles = [line.split("\t")[0] for line in keys]
    assert roles == ["operator", "provider", "relying_party", "reviewer", "subject", "public"]
    assert all(line.split("\t")[1] in output for line in keys)
    assert (tmp_path / "keys.txt").stat().st_mode & 0o777 == 0o600
    assert "API docs: http://127.0.0.1:8000/docs" in output
    # The example subject objected to a record: the reviewer's queue has a case.
    queue = json.loads(run("--db", db, "cases", "list", "--json"))
    (case,) = queue["cases"]
    assert case["kind"] == "objection" and case["status"] == "open"
    assert f"case {case['id']}" in output
    # A second demo into the same database is refused rather than mixed in.
    again = run(
        "--db", db, "demo", "--subjects", "300", "--workdir", str(tmp_path / "files"), code=1
    )
    assert "empty database" in again


def test_an_unreachable_database_is_one_clear_line() -> None:
    output = run("--db", "postgresql://nobody@127.0.0.1:1/none", "subjects", code=1)
    assert "cannot open database postgresql+psycopg://nobody@127.0.0.1:1/none" in output
    assert "Traceback" not in output


def test_a_hopeless_batch_shows_the_first_thousand_problems(tmp_path: Path) -> None:
    db = ("--db", str(tmp_path / "x.db"))
    run(*db, "init", "--policy", str(EXAMPLE_POLICY))
    path = tmp_path / "rail.csv"
    path.write_text(
        "reference,subject_id_kind,subject_id,subject_name,record_type,valid_from\n"
        + "".join(f"R-{i},cn_ric,bad,x,fare_evasion,2026-01-01\n" for i in range(1200)),
        encoding="utf-8",
    )
    output = run(*db, "ingest", str(path), "--provider", "city_rail_transit", code=1)
    assert output.count(":subject_id:") == 1000
    assert "... and 200 more problems" in output
    assert "1,200 problem(s) in 1,200 rows; nothing was stored" in output
