"""The batch engines over the store, on SQLite and PostgreSQL: ``score --engine duckdb``
stores the same run as the per-subject path, with disputes, corrections, retractions and
an erased subject; an export round-trips into the same result; a failure leaves nothing.

Fixture strategy: the dashboard tests' small world (persons and organisations, records
corrected and retracted, objections decided, overdue and open, a repair request, an
erased subject), built through the service as providers and reviewers would, plus a
synthetic city of 300 subjects for volume.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from tests.service.test_dashboard import reg  # noqa: F401 - the fixture
from trustledger.batch import ParquetSource, StoreSource, engine
from trustledger.service.batch import export_parquet, run_rows
from trustledger.service.ingest import ingest_file
from trustledger.service.policies import active_policy
from trustledger.service.registry import Registry
from trustledger.service.scoring import score_all
from trustledger.store.tables import score_list_entries, score_runs, scores
from trustledger.synth.population import generate, write_provider_files


def stored_run(db: Engine, run_id: int) -> dict[str, list[tuple[Any, ...]]]:
    """A stored run's scores and list entries, without the run id."""
    with db.connect() as conn:
        out = {}
        for name, table in (("scores", scores), ("lists", score_list_entries)):
            rows = conn.execute(select(table).where(table.c.run_id == run_id)).all()
            out[name] = sorted(tuple(r)[1:] for r in rows)
    return out


def runs(db: Engine) -> int:
    with db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(score_runs)).scalar_one())


@pytest.fixture
def city(reg: Registry, tmp_path: Path) -> Registry:  # noqa: F811 - the fixture above
    """The dashboard's world plus 300 synthetic subjects (ingested as of the clock)."""
    now = reg.clock()
    population = generate(300, seed=5, as_of=now.date())
    files = write_provider_files(population, tmp_path / "providers")
    for provider, path in sorted(files.items()):
        ingest_file(reg.engine, path, provider=provider, now=now)
    return reg


def test_duckdb_stores_the_same_run_as_the_evaluator(city: Registry) -> None:
    db, now = city.engine, city.clock()
    as_of = now.date()
    python = score_all(db, as_of=as_of, known_at=now, now=now)
    duck = score_all(db, as_of=as_of, known_at=now, now=now, engine_name="duckdb")
    assert duck.run.id != python.run.id
    assert duck.run.subjects == python.run.subjects > 300
    assert duck.run.records == python.run.records
    assert duck.grades == python.grades and duck.lists == python.lists
    stored = {run: stored_run(db, run) for run in (python.run.id, duck.run.id)}
    assert stored[duck.run.id] == stored[python.run.id]
    assert stored[python.run.id]["lists"], "the world puts someone on a list"


def test_disputes_reach_the_engines_as_the_cases_stood(city: Registry) -> None:
    db, now = city.engine, city.clock()
    with db.connect() as conn:
        active = active_policy(conn)
    batches = list(StoreSource(db, now).record_batches())
    flags = [
        (d, o, s)
        for b in batches
        for d, o, s in zip(
            b.column("disputed").to_pylist(),
            b.column("review_overdue").to_pylist(),
            b.column("dispute_settled").to_pylist(),
            strict=True,
        )
    ]
    # The world has one overdue objection and one open in time; the decided one is not
    # disputed any more.
    assert sum(d for d, _, _ in flags) == 2
    assert sum(o for _, o, _ in flags) == 1
    # Before the objections were opened, nothing was disputed.
    earlier = list(StoreSource(db, now - timedelta(days=60)).record_batches())
    assert not any(any(b.column("disputed").to_pylist()) for b in earlier)
    with engine("duckdb") as eng:
        result = eng.score(
            StoreSource(db, now), active.policy, as_of=now.date(), policy_version="p"
        )
    python = stored_run(
        db, score_all(db, as_of=now.date(), known_at=now, now=now, current=False).run.id
    )
    score_rows, list_rows = run_rows(result)
    assert sorted((r.subject_id, r.score_cents, r.grade) for r in score_rows) == python["scores"]
    assert (
        sorted(
            (r.subject_id, r.list, r.rule, r.since, r.until, r.public, r.reason) for r in list_rows
        )
        == python["lists"]
    )


def test_an_export_scores_like_the_store(city: Registry, tmp_path: Path) -> None:
    db, now = city.engine, city.clock()
    with db.connect() as conn:
        active = active_policy(conn)
    report = export_parquet(db, tmp_path / "export", known_at=now, now=now)
    manifest = json.loads((tmp_path / "export" / "manifest.json").read_text())
    assert manifest["subjects"] == report.subjects and manifest["records"] == report.records
    with engine("duckdb") as eng:
        from_store = eng.score(
            StoreSource(db, now), active.policy, as_of=now.date(), policy_version="p"
        )
        from_files = eng.score(
            ParquetSource(tmp_path / "export"),
            active.policy,
            as_of=now.date(),
            policy_version="p",
        )
    for table in ("scores", "lists", "domain_totals"):
        assert getattr(from_files, table).equals(getattr(from_store, table)), table
    # An existing export is not overwritten by accident.
    with pytest.raises(FileExistsError):
        export_parquet(db, tmp_path / "export", known_at=now, now=now)


def test_a_failed_batch_run_stores_nothing(city: Registry, monkeypatch) -> None:
    db, now = city.engine, city.clock()
    before = runs(db)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the engine died half-way")

    monkeypatch.setattr("trustledger.batch.job.Job._lists", broken)
    with pytest.raises(RuntimeError, match="half-way"):
        score_all(db, as_of=now.date(), known_at=now, now=now, engine_name="duckdb")
    assert runs(db) == before


def test_an_unknown_engine_is_refused(city: Registry) -> None:
    db, now = city.engine, city.clock()
    with pytest.raises(ValueError, match="unknown batch engine 'polars'"):
        score_all(db, as_of=now.date(), known_at=now, now=now, engine_name="polars")
