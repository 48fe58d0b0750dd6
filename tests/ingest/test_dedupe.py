"""The same fact from two providers (a court and an enforcement bureau reporting one
judgment) is stored once and linked to both, by the dedupe keys their mappings declare.
The first source's facts stand; a second source that disagrees on details is linked with
its differences noted; one that names another subject or another kind of fact is refused."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from trustledger.audit import AuditKey
from trustledger.domain.principal import Actor, Principal, Role
from trustledger.service.audit import AuditLog
from trustledger.service.ingest import BatchQuarantined, ingest_file
from trustledger.service.registry import Registry
from trustledger.store import batches as batch_store
from trustledger.store import tables

from .conftest import BOB, bureau_row, counts, court_row, write_court, write_jsonl

COURT, BUREAU = "intermediate_court", "enforcement_bureau"


def sources(engine: Engine) -> list[tuple[int, str, str, str, dict[str, str] | None]]:
    s = tables.record_sources
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                s.c.record_id, s.c.provider, s.c.reference, s.c.fact_key, s.c.differences
            ).order_by(s.c.id)
        ).all()
    return [(r[0], r[1], r[2], r[3], json.loads(r[4]) if r[4] else None) for r in rows]


def test_one_judgment_from_the_court_and_the_bureau_is_stored_once(
    bureau_registry: Engine,
    now: datetime,
    tmp_path: Path,
    court_mapping: Path,
    bureau_mapping: Path,
) -> None:
    court = write_court(tmp_path / "court.csv", [court_row()])
    ingest_file(bureau_registry, court, provider=COURT, now=now, mapping=court_mapping)
    # The bureau writes the case number with ASCII brackets: the same key once normalised.
    bureau = write_jsonl(tmp_path / "bureau.jsonl", [bureau_row()])
    report = ingest_file(bureau_registry, bureau, provider=BUREAU, now=now, mapping=bureau_mapping)
    assert (report.created, report.linked, report.notices) == (0, 1, [])
    assert counts(bureau_registry)["records"] == 1
    key = "judgment:(2025)粤03执123号"
    assert sources(bureau_registry) == [
        (1, COURT, "（2025）粤03执123号", key, None),
        (1, BUREAU, "EB-2025-0001", key, None),
    ]
    with bureau_registry.connect() as conn:
        (listed,) = batch_store.sources_of_records(conn, [1]).values()
    assert [s.provider for s in listed] == [COURT, BUREAU]
    # Sent again (another file with the same row), the link is already there.
    again = write_jsonl(tmp_path / "again.jsonl", [bureau_row(), bureau_row()])
    report = ingest_file(bureau_registry, again, provider=BUREAU, now=now, mapping=bureau_mapping)
    assert (report.created, report.linked, report.unchanged, report.duplicates) == (0, 0, 1, 1)


def test_a_second_source_that_disagrees_on_details_is_linked_with_a_notice(
    bureau_registry: Engine,
    now: datetime,
    tmp_path: Path,
    court_mapping: Path,
    bureau_mapping: Path,
) -> None:
    court = write_court(tmp_path / "court.csv", [court_row()])
    ingest_file(bureau_registry, court, provider=COURT, now=now, mapping=court_mapping)
    bureau = write_jsonl(
        tmp_path / "bureau.jsonl",
        [bureau_row(amount_fen=1_450_000, judgment_effective="2025-03-02")],
    )
    report = ingest_file(bureau_registry, bureau, provider=BUREAU, now=now, mapping=bureau_mapping)
    assert report.linked == 1
    assert [str(n) for n in report.notices] == [
        f"{bureau}:1:judgment_effective: this source says 2025-03-02, the fact's first source "
        "(record 1 from intermediate_court ('（2025）粤03执123号')) says 2025-03-01; the record "
        "keeps the first source's value, and this one is kept with the link",
        f"{bureau}:1:amount_fen: this source says 14500.00, the fact's first source (record 1 "
        "from intermediate_court ('（2025）粤03执123号')) says 15000.00; the record keeps the "
        "first source's value, and this one is kept with the link",
    ]
    assert sources(bureau_registry)[1][4] == {"valid_from": "2025-03-02", "amount": "14500.00"}
    with bureau_registry.connect() as conn:
        amount = conn.execute(select(tables.record_versions.c.amount)).scalar_one()
    assert Decimal(str(amount)) == Decimal("15000.00")


def test_a_second_source_about_another_subject_or_fact_is_refused(
    bureau_registry: Engine,
    now: datetime,
    tmp_path: Path,
    court_mapping: Path,
    bureau_mapping: Path,
) -> None:
    court = write_court(
        tmp_path / "court.csv",
        [court_row(), court_row("（2025）粤03执200号", "王伟", BOB)],
    )
    ingest_file(bureau_registry, court, provider=COURT, now=now, mapping=court_mapping)
    bureau = write_jsonl(
        tmp_path / "bureau.jsonl",
        [
            # Wang Wei's case number, but Li Na named as the debtor.
            bureau_row(case_no="(2025)粤03执200号"),
            bureau_row(enforcement_no="EB-2", status="late"),
        ],
    )
    with pytest.raises(BatchQuarantined) as caught:
        ingest_file(bureau_registry, bureau, provider=BUREAU, now=now, mapping=bureau_mapping)
    assert [str(p) for p in caught.value.problems] == [
        f"{bureau}:1:debtor.id_no: reports the fact of record 2 from intermediate_court "
        "('（2025）粤03执200号'), whose subject is #2, about another subject (#1): the two "
        "sources disagree on who it is about; they must reconcile before it is stored",
        f"{bureau}:2:status: reports the fact of record 1 from intermediate_court "
        "('（2025）粤03执123号') as 'court_judgment_fulfilled_late'; it is recorded as "
        "'court_judgment_unfulfilled': the two sources must reconcile (or the first must "
        "send a correction)",
    ]
    assert len(sources(bureau_registry)) == 2


def test_whoever_reports_first_holds_the_record(
    bureau_registry: Engine,
    now: datetime,
    tmp_path: Path,
    court_mapping: Path,
    bureau_mapping: Path,
) -> None:
    bureau = write_jsonl(tmp_path / "bureau.jsonl", [bureau_row()])
    ingest_file(bureau_registry, bureau, provider=BUREAU, now=now, mapping=bureau_mapping)
    court = write_court(tmp_path / "court.csv", [court_row()])
    report = ingest_file(bureau_registry, court, provider=COURT, now=now, mapping=court_mapping)
    assert (report.created, report.linked) == (0, 1)
    with bureau_registry.connect() as conn:
        assert conn.execute(select(tables.records.c.provider)).scalars().all() == [BUREAU]
    # The second source cannot retract the record it did not report first.
    native = write_jsonl(
        tmp_path / "retract.jsonl", [{"reference": "（2025）粤03执123号", "action": "retract"}]
    )
    with pytest.raises(BatchQuarantined) as caught:
        ingest_file(bureau_registry, native, provider=COURT, now=now)
    assert "corrections and retractions of it come from that provider" in str(caught.value)


def test_two_rows_of_one_batch_about_one_fact(
    bureau_registry: Engine, now: datetime, tmp_path: Path, bureau_mapping: Path
) -> None:
    bureau = write_jsonl(
        tmp_path / "bureau.jsonl",
        [bureau_row(), bureau_row(enforcement_no="EB-2", amount_fen=1)],
    )
    report = ingest_file(bureau_registry, bureau, provider=BUREAU, now=now, mapping=bureau_mapping)
    assert (report.created, report.linked, len(report.notices)) == (1, 1, 1)
    assert "line 1" in str(report.notices[0])


def test_erasing_a_subject_removes_its_records_sources(
    bureau_registry: Engine,
    now: datetime,
    tmp_path: Path,
    court_mapping: Path,
    bureau_mapping: Path,
) -> None:
    court = write_court(tmp_path / "court.csv", [court_row()])
    ingest_file(bureau_registry, court, provider=COURT, now=now, mapping=court_mapping)
    bureau = write_jsonl(tmp_path / "bureau.jsonl", [bureau_row()])
    ingest_file(bureau_registry, bureau, provider=BUREAU, now=now, mapping=bureau_mapping)
    assert len(sources(bureau_registry)) == 2
    registry = Registry(bureau_registry, AuditLog(AuditKey.generate()), lambda: now)
    operator = Actor(Principal("key-operator", Role.OPERATOR), "req-operator")
    registry.rights.erase(operator, "1", "Personal Information Protection Law, art. 47")
    assert sources(bureau_registry) == []
    assert counts(bureau_registry)["records"] == 0
