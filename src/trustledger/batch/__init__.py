"""Scoring a whole population as a columnar job: DuckDB embedded, Spark at scale, and the
per-subject evaluator as the reference; identical results (see ``docs/scale.md``)."""

from __future__ import annotations

from typing import Any

from trustledger.batch.engine import (
    ArrowSource,
    BatchEngine,
    ParquetSource,
    Source,
    StoreSource,
)
from trustledger.batch.job import BatchResult

__all__ = [
    "ENGINES",
    "ArrowSource",
    "BatchEngine",
    "BatchResult",
    "ParquetSource",
    "Source",
    "StoreSource",
    "engine",
]

#: The engine names ``trustledger score --engine`` takes.
ENGINES = ("python", "duckdb", "spark")


def engine(name: str, **options: Any) -> BatchEngine:
    """A batch engine by name: ``"python"``, ``"duckdb"`` (options: threads, memory_limit,
    temp_directory) or ``"spark"`` (options: master, shuffle_partitions, driver_memory;
    needs the ``spark`` extra)."""
    if name == "python":
        from trustledger.batch.python import PythonEngine

        return PythonEngine(**options)
    if name == "duckdb":
        from trustledger.batch.duckdb import DuckDBEngine

        return DuckDBEngine(**options)
    if name == "spark":
        from trustledger.batch.spark import SparkEngine

        return SparkEngine(**options)
    raise ValueError(f"unknown batch engine {name!r}: choose one of {', '.join(ENGINES)}")
