"""Batch use cases: score the store with a columnar engine, export the store as Parquet,
and score a Parquet population into Parquet results.

``trustledger score --engine duckdb|spark`` ends in :func:`run_rows` (the engine's result
as the store's rows), then the same single transaction as the per-subject run
(:func:`trustledger.service.scoring.score_all`): a run lands whole or not at all.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine

from trustledger.batch import BatchResult, ParquetSource, StoreSource, engine
from trustledger.batch.engine import write_parquet
from trustledger.policy.schema import Policy
from trustledger.store.scores import ListEntryRow, ScoreRow

__all__ = [
    "ExportReport",
    "export_parquet",
    "run_rows",
    "score_parquet",
    "score_store",
    "write_result",
]


def score_store(
    db: Engine,
    policy: Policy,
    *,
    engine_name: str,
    as_of: date,
    known_at: datetime,
    policy_version: str,
    options: dict[str, Any] | None = None,
) -> BatchResult:
    """Score every subject of the store (records as known at ``known_at``) on a batch
    engine. Nothing is written."""
    with engine(engine_name, **(options or {})) as eng:
        return eng.score(
            StoreSource(db, known_at), policy, as_of=as_of, policy_version=policy_version
        )


def run_rows(result: BatchResult) -> tuple[list[ScoreRow], list[ListEntryRow]]:
    """A batch result as the rows a stored run keeps."""
    s = result.scores
    score_rows = [
        ScoreRow(sid, cents, grade)
        for sid, cents, grade in zip(
            s.column("subject_id").to_pylist(),
            s.column("score_cents").to_pylist(),
            s.column("grade").to_pylist(),
            strict=True,
        )
    ]
    lists = result.lists
    list_rows = [
        ListEntryRow(
            row["subject_id"],
            row["list"],
            row["rule"],
            row["since"],
            row["until"],
            row["public"],
            row["reason"],
        )
        for row in lists.select(
            ["subject_id", "list", "rule", "since", "until", "public", "reason"]
        ).to_pylist()
    ]
    return score_rows, list_rows


@dataclass(frozen=True, slots=True)
class ExportReport:
    directory: Path
    subjects: int
    records: int
    known_at: datetime


def export_parquet(
    db: Engine, directory: Path, *, known_at: datetime, now: datetime, overwrite: bool = False
) -> ExportReport:
    """Write the store's subjects and its records as known at ``known_at`` (the batch
    engines' input, :mod:`trustledger.batch.layout`) under ``directory``, with a
    ``manifest.json`` saying what it holds. The files are written into a temporary
    directory beside it and moved into place at the end, so a failed export leaves no
    half-written population."""
    if directory.exists() and any(directory.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{directory}: not empty (use --overwrite to replace it)")
    tmp = directory.with_name(f".{directory.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        n_subjects, n_records = write_parquet(StoreSource(db, known_at), tmp)
        manifest = {
            "known_at": known_at.isoformat(),
            "exported_at": now.isoformat(),
            "subjects": n_subjects,
            "records": n_records,
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        if directory.exists():
            shutil.rmtree(directory)
        tmp.rename(directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return ExportReport(directory, n_subjects, n_records, known_at)


def score_parquet(
    source_dir: Path | str,
    policy: Policy,
    *,
    engine_name: str,
    as_of: date,
    policy_version: str,
    contributions: bool = False,
    options: dict[str, Any] | None = None,
) -> BatchResult:
    """Score a Parquet population (export or synthetic) on a batch engine."""
    with engine(engine_name, **(options or {})) as eng:
        return eng.score(
            ParquetSource(source_dir),
            policy,
            as_of=as_of,
            policy_version=policy_version,
            contributions=contributions,
        )


def write_result(result: BatchResult, out: Path) -> list[Path]:
    """The result's tables as ``out/<table>.parquet`` plus ``out/run.json``."""
    out.mkdir(parents=True, exist_ok=True)
    tables: dict[str, pa.Table | None] = {
        "scores": result.scores,
        "lists": result.lists,
        "domain_totals": result.domain_totals,
        "contributions": result.contributions,
        "not_counted": result.not_counted,
    }
    written: list[Path] = []
    for name, table in tables.items():
        if table is None:
            continue
        path = out / f"{name}.parquet"
        pq.write_table(table, path)
        written.append(path)
    run = {
        "engine": result.engine,
        "as_of": result.as_of.isoformat(),
        "policy_version": result.policy_version,
        "subjects": result.subject_count,
        "records": result.record_count,
        "seconds": round(result.seconds, 3),
    }
    (out / "run.json").write_text(json.dumps(run, indent=2) + "\n")
    written.append(out / "run.json")
    return written
