"""``score --engine``, ``export --parquet`` and ``score-parquet`` as a user meets them."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.cli.conftest import audit_key_file  # noqa: F401 - the autouse fixture
from tests.cli.test_cli import run
from tests.conftest import EXAMPLE_POLICY


@pytest.fixture
def demo_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(EXAMPLE_POLICY.parent.parent)
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    run(
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
    return db


def test_score_export_and_score_parquet(demo_db: str, tmp_path: Path) -> None:
    db = ("--db", demo_db)
    python = run(*db, "score", "--as-of", "2026-06-30")
    duck = run(*db, "score", "--as-of", "2026-06-30", "--engine", "duckdb")

    def grades(output: str) -> list[str]:
        # The run line differs (run id); the grade and list tables must not.
        return [line for line in output.splitlines() if not line.startswith("Run ")]

    assert grades(duck) == grades(python)
    out = run(*db, "export", "--parquet", str(tmp_path / "city"))
    assert "Exported" in out and "subjects" in out
    again = run(*db, "export", "--parquet", str(tmp_path / "city"), code=1)
    assert "--overwrite" in again
    manifest = json.loads((tmp_path / "city" / "manifest.json").read_text())
    out = run(
        *db,
        "score-parquet",
        str(tmp_path / "city"),
        "--out",
        str(tmp_path / "scores"),
        "--as-of",
        "2026-06-30",
        "--policy",
        str(EXAMPLE_POLICY),
        "--contributions",
    )
    assert f"Scored {manifest['subjects']:,} subjects" in out
    scores = pq.read_table(tmp_path / "scores" / "scores.parquet")
    assert scores.num_rows == manifest["subjects"]
    for name in ("lists", "domain_totals", "contributions", "not_counted"):
        assert (tmp_path / "scores" / f"{name}.parquet").exists(), name
    assert json.loads((tmp_path / "scores" / "run.json").read_text())["engine"] == "duckdb"


def test_bad_engine_options_are_named(demo_db: str, tmp_path: Path) -> None:
    db = ("--db", demo_db)
    assert "--engine: unknown engine 'polars'" in run(*db, "score", "--engine", "polars", code=1)
    assert "--master: only for --engine spark" in run(
        *db, "score", "--engine", "duckdb", "--master", "local[1]", code=1
    )
    missing = run(
        *db, "score-parquet", str(tmp_path / "nowhere"), "--out", str(tmp_path / "o"), code=1
    )
    assert "nowhere/subjects: no Parquet files" in missing
