"""`trustledger identity ...` on SQLite and PostgreSQL: the queue, a decision shown with
its weights, accept, history, merge and its undo, training and loading a model; each
command logged."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from tests.conftest import EXAMPLE_POLICY
from tests.resolve.helpers import Row, land
from typer.testing import CliRunner

from trustledger.cli.app import app
from trustledger.domain.subject import Identifier, SubjectKind
from trustledger.identifiers import make_ric
from trustledger.resolve import Resolution
from trustledger.store.subjects import SubjectDraft, insert_subjects
from trustledger.store.tables import audit_events

runner = CliRunner()
BORN = date(1985, 4, 12)
NOW = datetime(2026, 6, 30, 12, tzinfo=UTC)


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
    run(*args, "init", "--policy", str(EXAMPLE_POLICY))
    return args


def queued(engine: Engine) -> tuple[int, int]:
    """(candidate, proposed subject) of one queued link."""
    with engine.begin() as conn:
        [zhang] = insert_subjects(
            conn,
            [
                SubjectDraft(
                    SubjectKind.PERSON,
                    "张伟",
                    "test",
                    (Identifier("cn_ric", make_ric("440305", BORN, 123)),),
                    BORN,
                )
            ],
            now=NOW,
        )
    [(_, res)] = land(engine, [Row("J-1", "张伟", date(1985, 4, 13))], now=NOW)
    assert isinstance(res, Resolution) and res.outcome == "review"
    return zhang, res.subject_id


def test_the_queue_show_accept_and_history(engine: Engine, db: tuple[str, ...]) -> None:
    zhang, proposed = queued(engine)
    body = json.loads(run(*db, "identity", "queue", "--json"))
    [item] = body["decisions"]
    assert body["total"] == 1 and item["other_subject"] == zhang
    table = run(*db, "identity", "queue")
    assert "1 link(s) to review" in table and str(item["id"]) in table
    shown = run(*db, "identity", "show", str(item["id"]))
    assert "match weight 3.43" in shown and "prior -14.75" in shown
    assert "    birth_date    +4.34  one digit different\n" in shown
    assert "    name         +13.85  same characters\n" in shown
    assert f"subject {zhang}: 张伟 (person, born 1985-04-12, cn_ric" in shown
    accepted = run(*db, "identity", "accept", str(item["id"]), "--reason", "same man")
    assert f"rescored subject {zhang}:" in accepted and "lists: black" in accepted
    history = json.loads(run(*db, "identity", "history", str(zhang), "--json"))
    assert [d["kind"] for d in history["decisions"]] == ["accept", "review"]
    assert run(*db, "identity", "accept", str(item["id"]), "--reason", "again", code=1)
    with engine.connect() as conn:
        actions = [
            a for (a,) in conn.execute(select(audit_events.c.action).order_by(audit_events.c.seq))
        ]
    assert actions.count("identity.queue.read") == 4  # two reads, two subjects each
    assert "identity.decision.read" in actions and "identity.accept" in actions
    assert "identity.history.read" in actions


def test_merge_and_split_undo(engine: Engine, db: tuple[str, ...]) -> None:
    zhang, proposed = queued(engine)
    merged = json.loads(
        run(*db, "identity", "merge", str(zhang), str(proposed), "--reason", "one man", "--json")
    )
    assert merged["kind"] == "merge"
    assert run(*db, "identity", "history", str(proposed), code=1)
    split = json.loads(
        run(
            *db,
            "identity",
            "split",
            str(zhang),
            "--undo",
            str(merged["id"]),
            "--reason",
            "two men",
            "--json",
        )
    )
    assert split["subject"] == proposed and split["evidence"]["undoes"] == merged["id"]
    out = run(*db, "identity", "split", str(zhang), "--reason", "x", code=1)
    assert "records" in out


def test_train_and_load_a_model(db: tuple[str, ...], tmp_path: Path) -> None:
    assert "the model shipped with trustledger is used" in run(*db, "identity", "model", "list")
    model = tmp_path / "model.json"
    out = run(
        *db,
        "identity",
        "train",
        "--synthetic",
        "3000",
        "--seed",
        "5",
        "--u-pairs",
        "200000",
        "--out",
        str(model),
    )
    assert "Trained on 4,500 records" in out and model.exists()
    assert "exists" in run(
        *db, "identity", "train", "--synthetic", "300", "--out", str(model), code=1
    )
    loaded = run(*db, "identity", "model", "load", str(model))
    assert loaded.startswith("Loaded") and "4,500 records" in loaded
    assert run(*db, "identity", "model", "load", str(model)).startswith("Already loaded")
    [row] = json.loads(run(*db, "identity", "model", "list", "--json"))
    assert row["filename"] == str(model)
    bad = tmp_path / "bad.json"
    bad.write_text("{}", encoding="utf-8")
    assert "not a trustledger identity model" in run(
        *db, "identity", "model", "load", str(bad), code=1
    )


def test_train_on_the_registry(engine: Engine, db: tuple[str, ...], tmp_path: Path) -> None:
    # Too few subjects to train on: said in words, nothing written.
    queued(engine)
    out = run(*db, "identity", "train", "--out", str(tmp_path / "m.json"), code=1)
    assert "at least 100 records" in out and not (tmp_path / "m.json").exists()
