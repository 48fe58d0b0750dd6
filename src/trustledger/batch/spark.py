"""The Spark engine: the compiled policy (:mod:`trustledger.batch.job`) as Spark SQL.

Local mode by default (``local[2]``, no web UI, bound to 127.0.0.1); ``master`` points it
at a cluster (``spark://host:7077``, ``yarn``, ``k8s://...``). Spark reads Parquet: a store
source is first written to Parquet in a temporary directory (what ``trustledger export
--parquet`` writes). Every intermediate table is checkpointed locally, so the lineage of a
long job (a bisection runs a query per round) stays short.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa

from trustledger.batch.dialects import SparkDialect
from trustledger.batch.engine import BatchEngine, ParquetSource, Source, write_parquet
from trustledger.batch.job import BatchResult, Job, Runner
from trustledger.batch.layout import RECORDS, SUBJECTS
from trustledger.policy.schema import Policy

__all__ = ["SparkEngine", "spark_session"]


def spark_session(
    master: str = "local[2]",
    *,
    shuffle_partitions: int = 4,
    driver_memory: str = "4g",
    app_name: str = "trustledger",
) -> Any:
    """A Spark session set up as ``../shared/STACK.md`` found works here."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise RuntimeError(
            "the spark engine needs pyspark: pip install 'trustledger[spark]'"
        ) from exc
    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.showConsoleProgress", "false")
        # The subjects (16 bytes a row) are joined to every record: broadcast them up to
        # a few million rather than shuffle the records.
        .config("spark.sql.autoBroadcastJoinThreshold", str(64 * 1024 * 1024))
        .config("spark.log.level", "ERROR")
    )
    if master.startswith("local"):
        builder = (
            builder.config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.memory", driver_memory)
        )
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


class _Runner(Runner):
    def __init__(self, spark: Any) -> None:
        self.spark = spark
        self.dialect = SparkDialect()
        self._frames: dict[str, Any] = {}

    def _keep(self, name: str, frame: Any) -> None:
        frame.createOrReplaceTempView(name)
        old = self._frames.pop(name, None)
        if old is not None:
            old.unpersist()
        self._frames[name] = frame

    def register(self, name: str, table: pa.Table) -> None:
        self._keep(name, self.spark.createDataFrame(table))

    def create(self, name: str, sql: str) -> None:
        # Checkpointed now: later plans read the result instead of repeating its lineage
        # (a lazy cache() let the plans of the bisection rounds grow until the driver ran
        # out of memory).
        self._keep(name, self.spark.sql(sql).localCheckpoint(eager=True))

    def view(self, name: str, sql: str) -> None:
        self._keep(name, self.spark.sql(sql))

    def fetch(self, sql: str) -> pa.Table:
        table: pa.Table = self.spark.sql(sql).toArrow()
        return table

    def write(self, sql: str, uri: str) -> None:
        self.spark.sql(sql).write.mode("errorifexists").parquet(uri)

    def drop(self, name: str) -> None:
        frame = self._frames.pop(name, None)
        if frame is not None:
            self.spark.catalog.dropTempView(name)
            frame.unpersist()


class SparkEngine(BatchEngine):
    name = "spark"

    def __init__(
        self,
        *,
        master: str = "local[2]",
        shuffle_partitions: int = 4,
        driver_memory: str = "4g",
        session: Any = None,
        output: str | None = None,
    ) -> None:
        self.output = output
        self._own = session is None
        self.spark = session or spark_session(
            master, shuffle_partitions=shuffle_partitions, driver_memory=driver_memory
        )
        self._tmp: Path | None = None

    def _parquet(self, source: Source) -> ParquetSource:
        if isinstance(source, ParquetSource):
            return source
        self._tmp = Path(tempfile.mkdtemp(prefix="trustledger-spark-"))
        write_parquet(source, self._tmp)
        return ParquetSource(self._tmp)

    def score(
        self,
        source: Source,
        policy: Policy,
        *,
        as_of: date,
        policy_version: str,
        contributions: bool = False,
    ) -> BatchResult:
        parquet = self._parquet(source)
        runner = _Runner(self.spark)
        for table in (SUBJECTS, RECORDS):
            self.spark.read.parquet(*parquet.uris(table)).createOrReplaceTempView(table)
        try:
            return Job(
                runner,
                policy,
                as_of=as_of,
                policy_version=policy_version,
                contributions=contributions,
                output=self.output,
            ).run()
        finally:
            for table in (SUBJECTS, RECORDS):
                self.spark.catalog.dropTempView(table)

    def close(self) -> None:
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
        if self._own:
            self.spark.stop()
