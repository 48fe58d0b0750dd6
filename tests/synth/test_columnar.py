"""The columnar population (`trustledger demo --out`): the layout's schemas, the catalogue's
rules, determinism, bounded memory, realistic shares, scenarios and injected errors.

Fixture strategy: one module-scoped population of 25,000 subjects (three blocks, so the
part and row-group boundaries are crossed) written once with the example policy's
retention; tests that need another population make a small one inline.
"""

from __future__ import annotations

import json
import tracemalloc
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from tests.synth.helpers import read, record_versions
from trustledger.batch.layout import RECORD_SCHEMA, SUBJECT_SCHEMA
from trustledger.cli.app import app
from trustledger.domain.duration import add_months
from trustledger.domain.subject import SubjectKind
from trustledger.errors import InvalidInput
from trustledger.policy.evaluate import evaluate
from trustledger.policy.load import load_policy
from trustledger.synth.columnar import (
    BLOCK,
    DEMOGRAPHIC_SCHEMA,
    ERROR_SCHEMA,
    FABRICATED_ID_BASE,
    WINDOW_YEARS,
    ErrorSpec,
    PolicyFacts,
    add_months_days,
    generate_blocks,
    write_population,
)
from trustledger.synth.population import PROVIDERS, RECORD_TYPES
from trustledger.synth.scenario import Rule, Scenario

ROOT = Path(__file__).resolve().parents[2]
POLICY = load_policy(ROOT / "policies" / "example-city.toml").policy
FACTS = PolicyFacts.of(POLICY)
AS_OF = date(2026, 6, 30)
N = 25_000


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("city") / "pop"
    write_population(directory, N, seed=7, as_of=AS_OF, facts=FACTS, chunk_subjects=20_000)
    return directory


@pytest.fixture(scope="module")
def records(city: Path) -> list[dict[str, Any]]:
    return read(city, "records")


@pytest.fixture(scope="module")
def subjects(city: Path) -> dict[int, str]:
    return {r["subject_id"]: r["kind"] for r in read(city, "subjects")}


# --- the layout -----------------------------------------------------------------------


def test_files_and_schemas(city: Path) -> None:
    for table, schema in (
        ("subjects", SUBJECT_SCHEMA),
        ("records", RECORD_SCHEMA),
        ("demographics", DEMOGRAPHIC_SCHEMA),
    ):
        parts = sorted((city / table).glob("*.parquet"))
        assert [p.name for p in parts] == ["part-00000.parquet", "part-00001.parquet"]
        for part in parts:
            assert pq.read_schema(part).equals(schema), (table, part.name)
        # One row group per block of subjects: a block is what is held in memory.
        groups = [pq.ParquetFile(p).metadata.num_row_groups for p in parts]
        assert groups == [2, 1]
    assert not (city / "errors").exists()
    manifest = json.loads((city / "population.json").read_text())
    assert manifest["subjects"] == N
    assert manifest["seed"] == 7
    assert manifest["as_of"] == AS_OF.isoformat()
    # Nothing of the staging directory is left behind.
    assert sorted(p.name for p in city.iterdir()) == [
        "demographics",
        "population.json",
        "records",
        "subjects",
    ]


def test_subjects_and_demographics(city: Path, subjects: dict[int, str]) -> None:
    assert sorted(subjects) == list(range(1, N + 1))
    kinds = Counter(subjects.values())
    assert 0.18 < kinds["organisation"] / N < 0.22
    demographics = read(city, "demographics")
    assert [d["subject_id"] for d in demographics] == list(range(1, N + 1))
    for d in demographics:
        assert d["kind"] == subjects[d["subject_id"]]
        assert d["area"] in ("urban", "rural")
        if d["kind"] == "person":
            assert d["age_band"] and d["sex"] in ("female", "male") and d["income_band"]
        else:
            assert d["age_band"] is None and d["sex"] is None and d["income_band"] is None
    rural = Counter(d["district"] for d in demographics if d["area"] == "rural")
    assert rural["north_county"] > rural["central"] == 0


def test_records_follow_the_catalogue(
    records: list[dict[str, Any]], subjects: dict[int, str]
) -> None:
    start = add_months(AS_OF, -12 * WINDOW_YEARS)
    ids = [r["record_id"] for r in records]
    assert len(set(ids)) == len(ids)
    assert sorted(ids) == list(range(1, len(ids) + 1))
    for r in records:
        spec = RECORD_TYPES[r["record_type"]]
        assert r["provider"] == spec.provider
        assert SubjectKind(subjects[r["subject_id"]]) in spec.applies_to, r
        assert start - timedelta(days=15) <= r["valid_from"] <= AS_OF
        if r["valid_to"] is not None:
            assert r["valid_from"] < r["valid_to"] <= AS_OF
        if r["repaired_on"] is not None:
            assert r["valid_from"] < r["repaired_on"] <= AS_OF
            assert spec.points < 0
        assert r["version"] >= 1
        assert (r["version"] == 1) == (r["action"] == "create")
        if r["review_overdue"] or r["dispute_settled"]:
            assert r["disputed"]
    # The registry learns of subjects only through records: every subject has one.
    assert {r["subject_id"] for r in records} == set(subjects)
    # Rows come in subject order, so an engine can read a part file by subject.
    keys = [(r["subject_id"], r["record_id"]) for r in records]
    assert keys == sorted(keys)


def test_expiry_follows_the_policy(records: list[dict[str, Any]]) -> None:
    for r in records:
        kept = POLICY.record_types[r["record_type"]].kept_for
        past = kept.after(r["valid_from"]) <= AS_OF
        if r["action"] != "retract":
            assert (r["action"] == "expire") == past, r


def test_add_months_matches_the_domain() -> None:
    import numpy as np

    days = np.arange(18_000, 18_800, dtype=np.int64)
    epoch = date(1970, 1, 1)
    for months in (1, 12, 18, 60, -120):
        got = add_months_days(days, months)
        want = [(add_months(epoch + timedelta(days=int(d)), months) - epoch).days for d in days]
        assert got.tolist() == want


def test_a_realistic_mix(records: list[dict[str, Any]], subjects: dict[int, str]) -> None:
    n = len(records)
    assert 19 < n / N < 24, n / N  # about 20 records a subject, as `make demo`
    types = Counter(r["record_type"] for r in records)
    assert set(types) == set(RECORD_TYPES)
    assert {r["provider"] for r in records} == set(PROVIDERS)
    actions = Counter(r["action"] for r in records)
    assert 0.005 < actions["correct"] / n < 0.02
    assert 0.0005 < actions["retract"] / n < 0.005
    assert 0.2 < actions["expire"] / n < 0.6
    assert 0.3 < actions["create"] / n
    assert sum(r["version"] > 2 for r in records) > 0
    assert sum(r["valid_to"] is not None for r in records) > 0.005 * n
    assert sum(r["disputed"] for r in records) > 0.0005 * n
    assert sum(r["review_overdue"] for r in records) > 0
    assert sum(r["dispute_settled"] for r in records) > 0
    assert sum(r["repaired_on"] is not None for r in records) > 0.001 * n
    negative = sum(RECORD_TYPES[r["record_type"]].points < 0 for r in records)
    assert 0.2 < negative / n < 0.45
    # Ages spread over the ten years: something in each year, most in the last six.
    ages = Counter((AS_OF - r["valid_from"]).days // 365 for r in records)
    assert all(ages[y] > 0 for y in range(10))
    assert sum(ages[y] for y in range(6)) > 0.8 * n


def test_scored_like_the_demo_city(records: list[dict[str, Any]], subjects: dict[int, str]) -> None:
    """Scored with the example policy, the population grades like `make demo`'s city
    (population.py's docstring): most A, a tenth B, a few of every other grade; a few
    percent on each list."""
    by_subject = record_versions(records)
    sample = range(1, 8_001)
    grades: Counter[str] = Counter()
    listed: dict[str, set[int]] = defaultdict(set)
    for sid in sample:
        result = evaluate(
            POLICY,
            by_subject[sid],
            subject_id=sid,
            subject_kind=SubjectKind(subjects[sid]),
            as_of=AS_OF,
            policy_version="t",
        )
        grades[result.grade] += 1
        for m in result.lists:
            listed[m.list].add(sid)
    share = {g: grades[g] / len(sample) for g in ("AAA", "AA", "A", "B", "C", "D")}
    assert 0.01 < share["AAA"] < 0.08, share
    assert 0.03 < share["AA"] < 0.12, share
    assert 0.65 < share["A"] < 0.85, share
    assert 0.06 < share["B"] < 0.16, share
    assert 0.01 < share["C"] < 0.06, share
    assert 0.0005 < share["D"] < 0.015, share
    assert 0.02 < len(listed["black"]) / len(sample) < 0.06
    assert 0.01 < len(listed["red"]) / len(sample) < 0.06


# --- determinism and streaming ---------------------------------------------------------


def _bytes(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    for run in ("a", "b"):
        write_population(tmp_path / run, 3_000, seed=5, as_of=AS_OF, facts=FACTS)
    a, b = _bytes(tmp_path / "a"), _bytes(tmp_path / "b")
    assert list(a) == list(b)
    assert a == b
    write_population(tmp_path / "c", 3_000, seed=6, as_of=AS_OF, facts=FACTS)
    c = _bytes(tmp_path / "c")
    assert c["records/part-00000.parquet"] != a["records/part-00000.parquet"]


def test_rows_do_not_depend_on_the_part_size(
    tmp_path: Path, city: Path, records: list[dict[str, Any]]
) -> None:
    write_population(tmp_path / "p", N, seed=7, as_of=AS_OF, facts=FACTS, chunk_subjects=BLOCK)
    assert len(list((tmp_path / "p" / "records").glob("*.parquet"))) == 3
    assert read(tmp_path / "p", "records") == records
    assert read(tmp_path / "p", "subjects") == read(city, "subjects")


def test_blocks_are_bounded() -> None:
    sizes = [b.subjects.num_rows for b in generate_blocks(30_001, seed=1, as_of=AS_OF)]
    assert sizes == [BLOCK, BLOCK, BLOCK, 1]


def _peak_traced(n: int, directory: Path) -> int:
    tracemalloc.start()
    try:
        write_population(directory, n, seed=3, as_of=AS_OF, facts=FACTS)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_population(tmp_path: Path) -> None:
    """numpy reports its arrays to tracemalloc: six times the subjects must not need
    more than a little more memory (a block's arrays are the peak)."""
    small = _peak_traced(BLOCK, tmp_path / "small")
    large = _peak_traced(6 * BLOCK, tmp_path / "large")
    assert small > 10_000_000  # the arrays of one block are really traced
    assert large < 1.3 * small, (small, large)


def test_refuses_an_existing_population(city: Path) -> None:
    before = _bytes(city)
    with pytest.raises(InvalidInput, match="already exists"):
        write_population(city, 10, seed=1, as_of=AS_OF)
    assert _bytes(city) == before


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_subjects": 0}, "at least one subject"),
        ({"seed": -1}, "must not be negative"),
        ({"chunk_subjects": 15_000}, "multiple of 10000"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict[str, int], message: str) -> None:
    args: dict[str, Any] = {"n_subjects": 10, "seed": 1, "chunk_subjects": BLOCK, **kwargs}
    with pytest.raises(InvalidInput, match=message):
        write_population(tmp_path / "x", as_of=AS_OF, **args)
    assert not (tmp_path / "x").exists()


# --- scenarios and errors -----------------------------------------------------------------


def test_enforcement_factor_shows_in_the_rates(tmp_path: Path) -> None:
    scenario = Scenario(
        enforcement=(
            Rule(where={"district": "east_hills"}, record_types=("fare_evasion",), factor=3.0),
        )
    )
    write_population(tmp_path / "s", 40_000, seed=2, as_of=AS_OF, scenario=scenario)
    district = {d["subject_id"]: d["district"] for d in read(tmp_path / "s", "demographics")}
    people = Counter(
        district[d["subject_id"]]
        for d in read(tmp_path / "s", "demographics")
        if d["kind"] == "person"
    )
    fares: Counter[bool] = Counter()
    loans: Counter[bool] = Counter()
    for r in read(tmp_path / "s", "records"):
        east = district[r["subject_id"]] == "east_hills"
        if r["record_type"] == "fare_evasion":
            fares[east] += 1
        elif r["record_type"] == "loan_overdue_30d":
            loans[east] += 1
    east_people = people["east_hills"]
    other_people = sum(people.values()) - east_people
    fare_ratio = (fares[True] / east_people) / (fares[False] / other_people)
    assert 2.5 < fare_ratio < 3.5, fare_ratio
    # Other record types are not touched.
    loan_ratio = (loans[True] / east_people) / (loans[False] / other_people)
    assert 0.85 < loan_ratio < 1.15, loan_ratio


def test_injected_errors(tmp_path: Path) -> None:
    write_population(tmp_path / "clean", 12_000, seed=4, as_of=AS_OF, facts=FACTS)
    write_population(
        tmp_path / "wrong",
        12_000,
        seed=4,
        as_of=AS_OF,
        facts=FACTS,
        errors=ErrorSpec(share=0.02, misattributed=0.5),
    )
    clean = {r["record_id"]: r for r in read(tmp_path / "clean", "records")}
    wrong = {r["record_id"]: r for r in read(tmp_path / "wrong", "records")}
    errors = read(tmp_path / "wrong", "errors")
    assert pq.read_schema(tmp_path / "wrong" / "errors" / "part-00000.parquet").equals(ERROR_SCHEMA)
    kinds = Counter(e["error"] for e in errors)
    assert 0.007 < kinds["misattributed"] / len(clean) < 0.013
    assert 0.007 < kinds["fabricated"] / len(clean) < 0.013
    subject_kind = {r["subject_id"]: r["kind"] for r in read(tmp_path / "clean", "subjects")}
    touched = set()
    for e in errors:
        touched.add(e["record_id"])
        row = wrong[e["record_id"]]
        assert row["subject_id"] == e["subject_id"]
        if e["error"] == "misattributed":
            assert e["record_id"] < FABRICATED_ID_BASE
            assert clean[e["record_id"]]["subject_id"] == e["true_subject_id"] != e["subject_id"]
            assert {**row, "subject_id": e["true_subject_id"]} == clean[e["record_id"]]
        else:
            assert e["record_id"] >= FABRICATED_ID_BASE and e["true_subject_id"] is None
            assert RECORD_TYPES[row["record_type"]].points < 0
        # Filed under someone of the kind the record type applies to.
        kind = SubjectKind(subject_kind[row["subject_id"]])
        assert kind in RECORD_TYPES[row["record_type"]].applies_to
    # Everything else is exactly the error-free population.
    assert {k: v for k, v in wrong.items() if k not in touched} == {
        k: v for k, v in clean.items() if k not in touched
    }
    # No errors asked for, none made; the same rows as without the option.
    write_population(
        tmp_path / "zero", 12_000, seed=4, as_of=AS_OF, facts=FACTS, errors=ErrorSpec(share=0.0)
    )
    assert not (tmp_path / "zero" / "errors").exists()
    assert read(tmp_path / "zero", "records") == read(tmp_path / "clean", "records")


# --- the command --------------------------------------------------------------------------


def test_demo_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    runner = CliRunner()
    out = tmp_path / "pop"
    args = ["demo", "--subjects", "1500", "--seed", "3", "--as-of", "2026-06-30", "--out"]
    result = runner.invoke(app, [*args, str(out)])
    assert result.exit_code == 0, result.output
    assert "1,500 subjects" in result.output
    assert len(read(out, "subjects")) == 1_500
    again = runner.invoke(app, [*args, str(out)])
    assert again.exit_code == 1
    assert "already exists" in again.output
