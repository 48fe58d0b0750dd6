"""One engine interface for scoring a whole population::

    from trustledger.batch import ParquetSource, engine

    result = engine("duckdb").score(ParquetSource(Path("var/city")), policy,
                                    as_of=date(2026, 6, 30), policy_version="v3")
    result.scores        # subject_id, score_cents, grade

Three engines, one result: ``python`` runs the per-subject evaluator over every subject
(the reference), ``duckdb`` and ``spark`` run the same policy compiled into SQL
(:mod:`trustledger.batch.job`). A property test holds them to identical scores, grades,
list entries and contributions.

A source is either Parquet in the layout of :mod:`trustledger.batch.layout` (what
``trustledger export --parquet`` and ``trustledger demo --out`` write), or the store
itself (:class:`StoreSource`: the records as known at a time, read through the database
driver a batch at a time).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Engine

from trustledger.batch.job import BatchResult
from trustledger.batch.layout import RECORD_SCHEMA, RECORDS, SUBJECT_SCHEMA, SUBJECTS, parts
from trustledger.policy.schema import Policy

__all__ = [
    "ArrowSource",
    "BatchEngine",
    "ParquetSource",
    "Source",
    "StoreSource",
    "write_parquet",
]


class Source(ABC):
    """Where a population comes from."""

    @abstractmethod
    def subject_batches(self) -> Iterator[pa.RecordBatch]: ...

    @abstractmethod
    def record_batches(self) -> Iterator[pa.RecordBatch]: ...


@dataclass(frozen=True)
class ParquetSource(Source):
    """``directory/subjects/*.parquet`` and ``directory/records/*.parquet``; the
    directory may be a URI (``s3a://bucket/city``) that only Spark reads."""

    directory: Path | str

    @property
    def remote(self) -> bool:
        return isinstance(self.directory, str) and "://" in self.directory

    def files(self, table: str) -> list[Path]:
        if self.remote:
            raise ValueError(
                f"{self.directory}: object storage is read by the spark engine only "
                "(--engine spark); copy the files here for duckdb or python"
            )
        return parts(Path(self.directory), table)

    def uris(self, table: str) -> list[str]:
        """What Spark reads: the table's directory URI, or its local part files."""
        if self.remote:
            return [f"{str(self.directory).rstrip('/')}/{table}"]
        return [str(p) for p in self.files(table)]

    def _batches(self, table: str) -> Iterator[pa.RecordBatch]:
        for path in self.files(table):
            yield from pq.ParquetFile(path).iter_batches(batch_size=100_000)

    def subject_batches(self) -> Iterator[pa.RecordBatch]:
        return self._batches(SUBJECTS)

    def record_batches(self) -> Iterator[pa.RecordBatch]:
        return self._batches(RECORDS)


@dataclass(frozen=True)
class ArrowSource(Source):
    """A population already in memory, as two Arrow tables of the layout's schemas (what
    a simulation builds, and what tests use)."""

    subjects: pa.Table
    records: pa.Table

    def subject_batches(self) -> Iterator[pa.RecordBatch]:
        return iter(self.subjects.cast(SUBJECT_SCHEMA).to_batches())

    def record_batches(self) -> Iterator[pa.RecordBatch]:
        return iter(self.records.cast(RECORD_SCHEMA).to_batches())


@dataclass(frozen=True)
class StoreSource(Source):
    """The store's subjects and its records as known at ``known_at`` (with the review
    cases' dispute flags as they stood then), read in one read-only transaction."""

    engine: Engine
    known_at: datetime

    def subject_batches(self) -> Iterator[pa.RecordBatch]:
        from trustledger.store.export import subject_batches

        with self.engine.connect() as conn:
            yield from subject_batches(conn)

    def record_batches(self) -> Iterator[pa.RecordBatch]:
        from trustledger.store.export import record_batches

        with self.engine.connect() as conn:
            yield from record_batches(conn, known_at=self.known_at)


def _write_parts(
    directory: Path,
    batches: Iterator[pa.RecordBatch],
    schema: pa.Schema,
    rows_per_file: int,
) -> int:
    """Part files of at most ``rows_per_file`` rows (at least one file, so an empty
    table still reads); returns the rows written."""
    directory.mkdir(parents=True)
    rows = files = in_file = 0
    writer: pq.ParquetWriter | None = None
    try:
        for batch in batches:
            if writer is None or in_file >= rows_per_file:
                if writer is not None:
                    writer.close()
                writer = pq.ParquetWriter(directory / f"part-{files:05d}.parquet", schema)
                files += 1
                in_file = 0
            writer.write_batch(batch.cast(schema))
            in_file += batch.num_rows
            rows += batch.num_rows
        if writer is None:
            pq.write_table(schema.empty_table(), directory / "part-00000.parquet")
    finally:
        if writer is not None:
            writer.close()
    return rows


def write_parquet(
    source: Source, directory: Path, *, rows_per_file: int = 2_000_000
) -> tuple[int, int]:
    """Write a source in the batch layout under ``directory`` (which must not hold it
    yet); returns (subjects, records) written."""
    subjects = _write_parts(
        directory / SUBJECTS, source.subject_batches(), SUBJECT_SCHEMA, rows_per_file
    )
    records = _write_parts(
        directory / RECORDS, source.record_batches(), RECORD_SCHEMA, rows_per_file
    )
    return subjects, records


class BatchEngine(ABC):
    """Scores every subject of a source under one policy as of one day."""

    name: str

    @abstractmethod
    def score(
        self,
        source: Source,
        policy: Policy,
        *,
        as_of: date,
        policy_version: str,
        contributions: bool = False,
    ) -> BatchResult:
        """Score, grade and list every subject of ``source``; with ``contributions`` the
        result also holds every line of every score and the records that do not count."""

    def close(self) -> None:  # noqa: B027 - engines without resources need nothing
        """Release what the engine holds (a Spark session, a database)."""

    def __enter__(self) -> BatchEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
