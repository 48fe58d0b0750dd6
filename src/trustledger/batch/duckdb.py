"""The DuckDB engine: the compiled policy (:mod:`trustledger.batch.job`) on an embedded
DuckDB, reading Parquet in place or the store's rows as Arrow batches."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa

from trustledger.batch.dialects import DuckDBDialect, quote
from trustledger.batch.engine import ArrowSource, BatchEngine, ParquetSource, Source
from trustledger.batch.job import BatchResult, Job, Runner
from trustledger.batch.layout import RECORD_SCHEMA, RECORDS, SUBJECT_SCHEMA, SUBJECTS
from trustledger.policy.schema import Policy

__all__ = ["DuckDBEngine"]


def _drop(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Forget ``name`` whatever it is: a registered Arrow table, a view or a table."""
    con.unregister(name)
    found = con.execute(
        "SELECT table_type FROM information_schema.tables WHERE table_name = ?", [name]
    ).fetchone()
    if found is not None:
        con.execute(f"DROP {'VIEW' if found[0] == 'VIEW' else 'TABLE'} {name}")


class _Runner(Runner):
    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.dialect = DuckDBDialect()

    def register(self, name: str, table: pa.Table) -> None:
        self.con.register(name, table)

    def create(self, name: str, sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {sql}")

    def view(self, name: str, sql: str) -> None:
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}")

    def fetch(self, sql: str) -> pa.Table:
        return self.con.sql(sql).to_arrow_table()

    def drop(self, name: str) -> None:
        _drop(self.con, name)


#: DuckDB's own default is 80% of the machine's memory, and a rescore of a million
#: subjects takes what it is given; with a limit it spills intermediate tables to disk.
DEFAULT_MEMORY_LIMIT = "2GB"


class DuckDBEngine(BatchEngine):
    """``threads`` and ``memory_limit`` (e.g. ``"4GB"``) are DuckDB's own settings;
    ``temp_directory`` is where it spills when a job outgrows the memory limit."""

    name = "duckdb"

    def __init__(
        self,
        *,
        threads: int | None = None,
        memory_limit: str | None = DEFAULT_MEMORY_LIMIT,
        temp_directory: Path | None = None,
    ) -> None:
        config: dict[str, str | bool | int | float | list[str]] = {}
        if threads is not None:
            config["threads"] = threads
        if memory_limit is not None:
            config["memory_limit"] = memory_limit
        if temp_directory is not None:
            config["temp_directory"] = str(temp_directory)
        # Intermediate tables go to disk before the limit, not into a swap of Python's.
        config["preserve_insertion_order"] = False
        self.con = duckdb.connect(":memory:", config=config)

    def _load(self, source: Source) -> None:
        con = self.con
        for table in (SUBJECTS, RECORDS):
            _drop(con, table)
        if isinstance(source, ArrowSource):
            for table, data, schema in (
                (SUBJECTS, source.subjects, SUBJECT_SCHEMA),
                (RECORDS, source.records, RECORD_SCHEMA),
            ):
                con.register(table, data.cast(schema))
            return
        if isinstance(source, ParquetSource):
            for table in (SUBJECTS, RECORDS):
                files = ", ".join(quote(str(p)) for p in source.files(table))
                con.execute(
                    f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM read_parquet([{files}])"
                )
            return
        for table, schema, batches in (
            (SUBJECTS, SUBJECT_SCHEMA, source.subject_batches()),
            (RECORDS, RECORD_SCHEMA, source.record_batches()),
        ):
            con.register("tl_empty", schema.empty_table())
            con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM tl_empty")
            con.unregister("tl_empty")
            for batch in batches:
                con.register("tl_batch", pa.Table.from_batches([batch]))
                con.execute(f"INSERT INTO {table} SELECT * FROM tl_batch")
                con.unregister("tl_batch")

    def score(
        self,
        source: Source,
        policy: Policy,
        *,
        as_of: date,
        policy_version: str,
        contributions: bool = False,
    ) -> BatchResult:
        self._load(source)
        job = Job(
            _Runner(self.con),
            policy,
            as_of=as_of,
            policy_version=policy_version,
            contributions=contributions,
        )
        return job.run()

    def close(self) -> None:
        self.con.close()
