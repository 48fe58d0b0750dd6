"""The batch engines give exactly what the per-subject evaluator gives.

Hypothesis draws a policy (points, decay, how long records count, caps, bounds, grade
bands, list rules of every kind with their durations and windows) and a small population
(records of known and unknown types, retracted, expired, corrected, disputed, overdue,
settled, repaired, ended, in the future), and a scoring day. The reference is the
``python`` engine, which runs :func:`trustledger.policy.evaluate.evaluate` per subject;
DuckDB runs every example, Spark a few (it costs a JVM and seconds per query), and both
must agree on scores, grades, list entries (dates, reasons, record ids), per-domain
totals, every contribution and every record that does not count.
"""

from __future__ import annotations

import copy
from datetime import date, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import policy_document
from trustledger.batch import ArrowSource, BatchResult, engine
from trustledger.batch.layout import RECORD_SCHEMA, SUBJECT_SCHEMA
from trustledger.policy.schema import Policy

FIRST, LAST = date(2016, 1, 1), date(2029, 12, 31)
DURATIONS = ["30d", "3m", "6m", "1y", "18m", "2y", "3y"]
ACTIONS = ["create", "create", "create", "correct", "retract", "expire"]
TABLES = ("scores", "lists", "domain_totals", "contributions", "not_counted")


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    doc = copy.deepcopy(policy_document())
    header = doc["policy"]
    if draw(st.booleans()):
        header["min_score"] = draw(st.sampled_from(["700", "900", "1000"]))
    if draw(st.booleans()):
        header["max_score"] = draw(st.sampled_from(["1000", "1010", "1100"]))
    doc["domains"]["finance"]["cap_negative"] = draw(st.sampled_from([None, "-400", "-60"]))
    doc["domains"]["civic"]["cap_positive"] = draw(st.sampled_from([None, "50", "15"]))
    doc["domains"]["judicial"]["cap_negative"] = draw(st.sampled_from([None, "-250"]))
    for name, rt in doc["record_types"].items():
        sign = 1 if name == "volunteer_work" else draw(st.sampled_from([-1, -1, 1]))
        rt["points"] = str(sign * draw(st.sampled_from([5, 20, 33.33, 100, 150, 250])))
        kind = draw(st.sampled_from(["none", "half_life", "linear"]))
        rt["decay"] = {"kind": kind}
        if kind != "none":
            rt["decay"]["period"] = draw(st.sampled_from(DURATIONS))
        rt["counts_for"] = draw(st.sampled_from(DURATIONS[1:]))
        rt["disputed_counts"] = draw(st.booleans())
    doc["grades"][0]["min_score"] = draw(st.sampled_from(["1001", "1050"]))
    doc["grades"][2]["min_score"] = draw(st.sampled_from(["800", "900"]))
    lists = doc["lists"]
    debtor = lists["dishonest_debtors"]["rules"][0]
    debtor["duration"] = draw(st.sampled_from(DURATIONS))
    debtor["record_types"] = draw(
        st.sampled_from(
            [["court_judgment_unfulfilled"], ["court_judgment_unfulfilled", "loan_default"]]
        )
    )
    low = lists["low_score"]["rules"][0]
    low["score_below"] = draw(st.sampled_from(["800", "950", "990", "999"]))
    duration = draw(st.sampled_from([None, "3m", "1y"]))
    if duration is None:
        low.pop("duration", None)
    else:
        low["duration"] = duration
    clean = lists["trustworthy"]["rules"][0]
    clean["score_at_least"] = draw(st.sampled_from(["1000", "1005", "1020"]))
    window = draw(st.sampled_from([None, "6m", "2y"]))
    if window is None:
        clean.pop("no_negative_within", None)
    else:
        clean["no_negative_within"] = window
    return Policy.model_validate(doc)


@st.composite
def populations(draw: st.DrawFn) -> tuple[pa.Table, pa.Table]:
    types = [*policy_document()["record_types"], "parking_ticket"]
    n_subjects = draw(st.integers(1, 6))
    subjects: dict[str, list[Any]] = {"subject_id": [], "kind": []}
    records: dict[str, list[Any]] = {name: [] for name in RECORD_SCHEMA.names}
    record_id = 0
    for sid in range(1, n_subjects + 1):
        subjects["subject_id"].append(sid * 10)
        subjects["kind"].append(draw(st.sampled_from(["person", "organisation"])))
        for _ in range(draw(st.integers(0, 14))):
            record_id += 1
            valid_from = draw(st.dates(FIRST, LAST))
            ends = draw(st.integers(0, 3)) == 0
            repaired = draw(st.integers(0, 6)) == 0
            disputed = draw(st.integers(0, 3)) == 0
            row = {
                "subject_id": sid * 10,
                "record_id": record_id,
                "version": draw(st.integers(1, 3)),
                "record_type": draw(st.sampled_from(types)),
                "provider": draw(st.sampled_from(["bank", "court", "city"])),
                "valid_from": valid_from,
                "valid_to": valid_from + timedelta(days=draw(st.integers(1, 1500)))
                if ends
                else None,
                "repaired_on": valid_from + timedelta(days=draw(st.integers(-10, 1500)))
                if repaired
                else None,
                "action": draw(st.sampled_from(ACTIONS)),
                "disputed": disputed,
                "review_overdue": disputed and draw(st.booleans()),
                "dispute_settled": disputed and draw(st.booleans()),
            }
            for name, value in row.items():
                records[name].append(value)
    return (
        pa.table(subjects, schema=SUBJECT_SCHEMA),
        pa.table(records, schema=RECORD_SCHEMA),
    )


def _rows(result: BatchResult, table: str) -> list[str]:
    data = getattr(result, table)
    assert data is not None
    return sorted(repr(row) for row in data.to_pylist())


def assert_same(reference: BatchResult, other: BatchResult) -> None:
    for table in TABLES:
        assert _rows(other, table) == _rows(reference, table), f"{other.engine}: {table} differ"
    assert other.record_count == reference.record_count
    assert other.subject_count == reference.subject_count


def score(name: str, source: ArrowSource, policy: Policy, as_of: date, **options: Any):
    with engine(name, **options) as eng:
        return eng.score(source, policy, as_of=as_of, policy_version="p", contributions=True)


@pytest.fixture(scope="module")
def duckdb_engine():
    with engine("duckdb", threads=1) as eng:
        yield eng


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(policy=policies(), population=populations(), as_of=st.dates(date(2018, 1, 1), LAST))
def test_duckdb_gives_what_the_evaluator_gives(duckdb_engine, policy, population, as_of):
    source = ArrowSource(*population)
    reference = score("python", source, policy, as_of)
    result = duckdb_engine.score(
        source, policy, as_of=as_of, policy_version="p", contributions=True
    )
    assert_same(reference, result)


@pytest.mark.spark
@settings(
    max_examples=3,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(policy=policies(), population=populations(), as_of=st.dates(date(2018, 1, 1), LAST))
def test_spark_gives_what_the_evaluator_gives(spark_engine, policy, population, as_of):
    source = ArrowSource(*population)
    reference = score("python", source, policy, as_of)
    result = spark_engine.score(source, policy, as_of=as_of, policy_version="p", contributions=True)
    assert_same(reference, result)


@pytest.mark.spark
def test_spark_writes_results_where_it_runs(spark_engine, tmp_path):
    """With ``output`` (a cluster's object storage; here a local directory) Spark writes
    the tables itself, and they hold what a fetch gives."""
    policy = Policy.model_validate(policy_document())
    subjects, records = _small_population()
    source = ArrowSource(subjects, records)
    fetched = spark_engine.score(source, policy, as_of=date(2026, 6, 30), policy_version="p")
    with engine("spark", session=spark_engine.spark, output=str(tmp_path / "out")) as writer:
        written = writer.score(source, policy, as_of=date(2026, 6, 30), policy_version="p")
        assert written.written_to == str(tmp_path / "out")
        assert written.scores.num_rows == 0 and written.subject_count == fetched.subject_count
        for name in ("scores", "lists", "domain_totals"):
            on_disk = pq.read_table(tmp_path / "out" / name).to_pylist()
            assert sorted(map(repr, on_disk)) == _rows(fetched, name), name
        # The debtor on the dishonest debtors' and the low scores' lists, the volunteer on
        # the red list.
        assert fetched.lists.column("record_ids").to_pylist() == [[1], [1, 2], [3]]
        with pytest.raises(Exception, match="already exists"):
            writer.score(source, policy, as_of=date(2026, 6, 30), policy_version="p")


def _small_population() -> tuple[pa.Table, pa.Table]:
    """Two subjects: a debtor with an unpaid judgment and a volunteer."""
    subjects = pa.table({"subject_id": [1, 2], "kind": ["person", "person"]}, schema=SUBJECT_SCHEMA)
    rows = [
        (1, 1, "court_judgment_unfulfilled", "court", date(2026, 3, 1)),
        (1, 2, "late_payment", "bank", date(2025, 11, 5)),
        (2, 3, "volunteer_work", "city", date(2026, 5, 1)),
    ]
    records = pa.table(
        {
            "subject_id": [r[0] for r in rows],
            "record_id": [r[1] for r in rows],
            "version": [1] * len(rows),
            "record_type": [r[2] for r in rows],
            "provider": [r[3] for r in rows],
            "valid_from": [r[4] for r in rows],
            "valid_to": [None] * len(rows),
            "repaired_on": [None] * len(rows),
            "action": ["create"] * len(rows),
            "disputed": [False] * len(rows),
            "review_overdue": [False] * len(rows),
            "dispute_settled": [False] * len(rows),
        },
        schema=RECORD_SCHEMA,
    )
    return subjects, records
