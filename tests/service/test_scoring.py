"""Scoring runs and explanations through the store, and SQLite/PostgreSQL agreement."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from tests.conftest import EXAMPLE_POLICY, pg_url
from trustledger.identifiers import make_ric
from trustledger.service.demo import run_demo
from trustledger.service.ingest import ingest_file
from trustledger.service.scoring import explain_subject, score_all
from trustledger.store import migrate
from trustledger.store import scores as score_store
from trustledger.store.engine import open_engine
from trustledger.store.subjects import find_subjects
from trustledger.synth.population import generate, write_provider_files

DEBTOR = make_ric("440305", date(1979, 8, 3), 17)


def submit(
    engine: Engine, path: Path, provider: str, rows: list[dict[str, object]], now: datetime
) -> None:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    ingest_file(engine, path, provider=provider, now=now)


def judgment(reference: str, valid_from: str) -> dict[str, object]:
    return {
        "reference": reference,
        "subject_id_kind": "cn_ric",
        "subject_id": DEBTOR,
        "subject_name": "张强",
        "record_type": "court_judgment_unfulfilled",
        "valid_from": valid_from,
        "amount": "250000.00",
    }


def test_a_judgment_lowers_the_score_lists_the_debtor_and_a_retraction_undoes_it(
    registry: Engine, now: datetime, tmp_path: Path
) -> None:
    submit(
        registry,
        tmp_path / "c1.jsonl",
        "intermediate_court",
        [judgment("(2026)粤03执123号", "2026-03-12")],
        now,
    )
    run = score_all(registry, as_of=now.date(), known_at=now, now=now)
    assert run.run.subjects == 1 and run.run.records == 1
    assert run.lists.get("black") == 1
    explanation = explain_subject(registry, DEBTOR, as_of=now.date(), known_at=now)
    data = explanation.as_json()
    assert data["score"] == pytest.approx(
        data["base"] + sum(c["points"] for c in data["contributions"])
    )
    assert data["score"] < 1000
    (line,) = [c for c in data["contributions"] if c["kind"] == "record"]
    assert line["record_type"] == "court_judgment_unfulfilled"
    assert line["reference"] == "(2026)粤03执123号"
    assert [m["list"] for m in data["lists"]] == ["black"]
    with registry.connect() as conn:
        stored = score_store.query_subjects(conn, run.run.id, list_name="black")
    assert [s.score_cents for s in stored] == [round(data["score"] * 100)]

    later = now + timedelta(days=1)
    submit(
        registry,
        tmp_path / "c2.jsonl",
        "intermediate_court",
        [{"reference": "(2026)粤03执123号", "action": "retract"}],
        later,
    )
    after = explain_subject(registry, DEBTOR, as_of=later.date(), known_at=later).as_json()
    assert after["score"] == 1000.0 and after["lists"] == []
    assert after["not_counted"][0]["reason"] == "retracted"
    # What the registry said before the retraction can still be asked for.
    before = explain_subject(registry, DEBTOR, as_of=later.date(), known_at=now).as_json()
    assert before["score"] < 1000


@settings(
    max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(min_value=0, max_value=10_000))
def test_sqlite_and_postgresql_give_identical_scores(
    tmp_path: Path, now: datetime, seed: int
) -> None:
    """The same synthetic city, ingested and scored on both databases, scores the same."""
    url = pg_url()
    if url is None:
        pytest.skip("TRUSTLEDGER_TEST_PG not set; run `make test`")
    from tests.conftest import _empty_postgres

    _empty_postgres(url)
    results = []
    for db in (f"sqlite:///{tmp_path / f'{uuid.uuid4().hex}.db'}", url):
        engine = open_engine(db)
        try:
            demo = run_demo(
                engine,
                policy_path=EXAMPLE_POLICY,
                workdir=tmp_path / f"files{seed}",
                n_subjects=150,
                seed=seed,
                as_of=now.date(),
                now=now,
            )
            with engine.connect() as conn:
                rows = score_store.query_subjects(conn, demo.summary.run.id, limit=None)
            results.append({(r.identifier, r.score_cents, r.grade, r.lists) for r in rows})
        finally:
            engine.dispose()
    assert len(results[0]) == 150
    assert results[0] == results[1]


def test_synthetic_files_ingest_cleanly(registry: Engine, now: datetime, tmp_path: Path) -> None:
    population = generate(300, seed=3, as_of=now.date())
    files = write_provider_files(population, tmp_path)
    assert len(files) >= 6
    total = 0
    for provider, path in files.items():
        total += ingest_file(registry, path, provider=provider, now=now).created
    assert total == len(population.records)
    summary = score_all(registry, as_of=now.date(), known_at=now, now=now)
    assert summary.run.subjects == 300
    assert sum(summary.grades.values()) == 300
    with registry.connect() as conn:
        some = population.subjects[0]
        (subject,) = find_subjects(conn, some.id_value)
    assert subject.name == some.name


def test_score_needs_an_initialised_database(tmp_path: Path) -> None:
    from trustledger.errors import StoreError

    engine = open_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(StoreError, match="trustledger init"):
        migrate.check_current(engine)
