"""Ingesting batches: whole or nothing, every problem as FILE:LINE:FIELD, on both databases."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, func, select

from trustledger.errors import BatchRejected, NotFound
from trustledger.identifiers import make_ric, make_uscc
from trustledger.service.ingest import (
    ChunkStore,
    ChunkWrites,
    ingest_file,
    quarantine_list,
    quarantine_show,
)
from trustledger.store import records as record_store
from trustledger.store import tables
from trustledger.store.subjects import find_subjects

ALICE = make_ric("440305", date(1985, 4, 12), 123)
BOB = make_ric("110105", date(1990, 1, 31), 456)
SHOP = make_uscc("9", "1", "440300", "MA5FXX1K")


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def row(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "reference": "BK-1",
        "subject_id_kind": "cn_ric",
        "subject_id": ALICE,
        "subject_name": "李娜",
        "record_type": "loan_overdue_30d",
        "valid_from": "2026-03-01",
        "amount": "1200.50",
    }
    base.update(overrides)
    return base


def counts(engine: Engine) -> tuple[int, int, int]:
    with engine.connect() as conn:
        return tuple(  # type: ignore[return-value]
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (tables.subjects, tables.records, tables.record_versions)
        )


def test_jsonl_batch_creates_subjects_and_records(
    registry: Engine, now: datetime, tmp_path: Path
) -> None:
    path = write_jsonl(
        tmp_path / "bank.jsonl",
        [
            row(),
            row(reference="BK-2", record_type="loan_repaid_on_time", amount=None),
            row(reference="BK-3", subject_id=BOB, subject_name="王伟"),
        ],
    )
    report = ingest_file(registry, path, provider="city_commercial_bank", now=now)
    assert (report.rows, report.created, report.new_subjects) == (3, 3, 2)
    assert counts(registry) == (2, 3, 3)
    with registry.connect() as conn:
        (alice,) = find_subjects(conn, ALICE)
        assert alice.name == "李娜"
        assert alice.birth_date == date(1985, 4, 12)
        recs = record_store.records_as_of(conn, alice.id, known_at=now)
    assert [r.reference for r in recs] == ["BK-1", "BK-2"]
    assert str(recs[0].amount) == "1200.50"


def test_csv_batch_with_organisation(registry: Engine, now: datetime, tmp_path: Path) -> None:
    path = tmp_path / "food.csv"
    path.write_text(
        "\ufeffreference,subject_id_kind,subject_id,subject_name,record_type,valid_from,note\n"
        f"FI-1,uscc,{SHOP.lower()},深圳市华信餐饮有限公司,food_inspection_fail,2026-02-02,"
        '"kitchen, storage"\n',
        encoding="utf-8",
    )
    report = ingest_file(registry, path, provider="food_inspectorate", now=now)
    assert report.created == 1
    with registry.connect() as conn:
        (shop,) = find_subjects(conn, SHOP)
        assert shop.kind.value == "organisation"
        (rec,) = record_store.records_as_of(conn, shop.id, known_at=now)
    assert rec.note == "kitchen, storage"


def test_every_bad_row_is_reported_and_nothing_is_stored(
    registry: Engine, now: datetime, tmp_path: Path
) -> None:
    bad_ric = ALICE[:-1] + ("0" if ALICE[-1] != "0" else "1")
    path = write_jsonl(
        tmp_path / "bank.jsonl",
        [
            row(),  # fine, but the batch is rejected whole
            row(reference="BK-2", subject_id=bad_ric),
            row(reference="BK-3", record_type="fare_evasion"),
            row(reference="BK-4", valid_from="2026-02-30"),
            row(reference="BK-5", amount="-3"),
            row(reference="BK-1", amount="99.00"),  # BK-1 again, with other values
            row(reference="BK-6", valid_from=(now.date() + timedelta(days=1)).isoformat()),
            row(reference="BK-7", subject_id=BOB, subject_name=""),
            # Found by schemathesis: quantizing a huge amount overflowed (a 500).
            row(reference="BK-8", amount="1e30"),
        ],
    )
    with pytest.raises(BatchRejected) as caught:
        ingest_file(registry, path, provider="city_commercial_bank", now=now)
    found = {(p.line, p.field) for p in caught.value.problems}
    assert found == {
        (2, "subject_id"),
        (3, "record_type"),
        (4, "valid_from"),
        (5, "amount"),
        (6, "reference"),
        (7, "valid_from"),
        (8, "subject_name"),
        (9, "amount"),
    }
    messages = [str(p) for p in caught.value.problems]
    assert all(m.startswith(f"{path}:") for m in messages)
    assert any("fare_evasion" in m and "not granted" in m for m in messages)
    assert any("check" in m for m in messages if ":2:subject_id:" in m)
    assert counts(registry) == (0, 0, 0)


def test_resending_a_batch_stores_nothing_new(
    registry: Engine, now: datetime, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "bank.jsonl", [row(), row(reference="BK-2")])
    ingest_file(registry, path, provider="city_commercial_bank", now=now)
    again = ingest_file(
        registry, path, provider="city_commercial_bank", now=now + timedelta(hours=1)
    )
    assert (again.created, again.unchanged) == (0, 2)
    assert counts(registry) == (1, 2, 2)


def test_a_changed_create_is_refused(registry: Engine, now: datetime, tmp_path: Path) -> None:
    ingest_file(
        registry,
        write_jsonl(tmp_path / "a.jsonl", [row()]),
        provider="city_commercial_bank",
        now=now,
    )
    with pytest.raises(BatchRejected, match="action=correct"):
        ingest_file(
            registry,
            write_jsonl(tmp_path / "b.jsonl", [row(amount="99.00")]),
            provider="city_commercial_bank",
            now=now,
        )


def test_correction_and_retraction_append_versions(
    registry: Engine, now: datetime, tmp_path: Path
) -> None:
    t1, t2, t3 = now - timedelta(days=20), now - timedelta(days=10), now
    ingest_file(
        registry,
        write_jsonl(tmp_path / "1.jsonl", [row()]),
        provider="city_commercial_bank",
        now=t1,
    )
    ingest_file(
        registry,
        write_jsonl(tmp_path / "2.jsonl", [row(action="correct", valid_from="2026-02-15")]),
        provider="city_commercial_bank",
        now=t2,
    )
    ingest_file(
        registry,
        write_jsonl(
            tmp_path / "3.jsonl",
            [{"reference": "BK-1", "action": "retract", "note": "reported in error"}],
        ),
        provider="city_commercial_bank",
        now=t3,
    )
    with registry.connect() as conn:
        (alice,) = find_subjects(conn, ALICE)
        history = record_store.record_history(conn, 1)
        assert [(v.version, v.action.value, v.valid_from) for v in history] == [
            (1, "create", date(2026, 3, 1)),
            (2, "correct", date(2026, 2, 15)),
            (3, "retract", date(2026, 2, 15)),
        ]
        # As known before the correction, the first version stands.
        (before,) = record_store.records_as_of(conn, alice.id, known_at=t1 + timedelta(days=1))
        assert before.valid_from == date(2026, 3, 1)
        (between,) = record_store.records_as_of(conn, alice.id, known_at=t2)
        assert between.version == 2
        assert record_store.records_as_of(conn, alice.id, known_at=t3) == []
    with pytest.raises(BatchRejected, match="was retracted"):
        ingest_file(
            registry,
            write_jsonl(tmp_path / "4.jsonl", [row(action="correct")]),
            provider="city_commercial_bank",
            now=t3,
        )


class FailingStore(ChunkStore):
    """Writes the subjects and the first chunk's records, then fails."""

    def write(self, conn: Connection, writes: ChunkWrites) -> None:
        super().write(conn, writes)
        raise RuntimeError("disk full")


def test_a_failure_mid_batch_leaves_nothing(
    registry: Engine, now: datetime, tmp_path: Path
) -> None:
    path = write_jsonl(
        tmp_path / "bank.jsonl", [row(), row(reference="BK-2", subject_id=BOB, subject_name="王伟")]
    )
    # Subjects, records and versions are written by then; the transaction never commits.
    with pytest.raises(RuntimeError, match="disk full"):
        ingest_file(registry, path, provider="city_commercial_bank", now=now, store=FailingStore())
    assert counts(registry) == (0, 0, 0)


def test_unknown_provider_and_missing_columns(
    registry: Engine, now: datetime, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "bank.jsonl", [row()])
    with pytest.raises(NotFound, match="unknown provider 'acme'.*city_commercial_bank"):
        ingest_file(registry, path, provider="acme", now=now)
    csv_path = tmp_path / "x.csv"
    csv_path.write_text("reference,record_type,colour\nA,fare_evasion,red\n", encoding="utf-8")
    with pytest.raises(BatchRejected) as caught:
        ingest_file(registry, csv_path, provider="city_rail_transit", now=now)
    assert {str(p) for p in caught.value.problems} >= {
        f"{csv_path}:1:colour: unknown column 'colour'; known columns: reference, action, "
        "subject_id_kind, subject_id, subject_name, record_type, valid_from, valid_to, "
        "amount, note",
        f"{csv_path}:1:valid_from: required column 'valid_from' is missing from the header",
    }


def test_not_utf8_and_bad_json_name_the_line(
    registry: Engine, now: datetime, tmp_path: Path
) -> None:
    gb = tmp_path / "court.csv"
    gb.write_bytes(
        "reference,subject_id_kind,subject_id,subject_name,record_type,valid_from\n"
        f"C-1,cn_ric,{ALICE},李娜,court_judgment_unfulfilled,2026-01-05\n".encode("gb18030")
    )
    # Detected, a GB18030 file is read as one; declared UTF-8, its line 2 is refused.
    with pytest.raises(BatchRejected, match=r"court.csv:2:-: not valid utf-8"):
        ingest_file(registry, gb, provider="intermediate_court", now=now, encoding="utf-8")
    broken = tmp_path / "bank.jsonl"
    broken.write_text(json.dumps(row()) + "\n{oops\n", encoding="utf-8")
    with pytest.raises(BatchRejected, match=r"bank.jsonl:2:-: not valid JSON"):
        ingest_file(registry, broken, provider="city_commercial_bank", now=now)
    assert counts(registry) == (0, 0, 0)
    report = ingest_file(registry, gb, provider="intermediate_court", now=now)
    assert report.created == 1
    # The court's batch that waited in quarantine went through: it is no longer waiting.
    assert [b.provider for b in quarantine_list(registry)] == ["city_commercial_bank"]
    assert quarantine_show(registry, report.batch_id or 0).retry_of is not None


def test_an_unbalanced_quote_is_reported_not_swallowed(
    registry: Engine, now: datetime, tmp_path: Path
) -> None:
    path = tmp_path / "rail.csv"
    path.write_text(
        "reference,subject_id_kind,subject_id,subject_name,record_type,valid_from,note\n"
        f'R-1,cn_ric,{ALICE},李娜,fare_evasion,2026-03-01,"oops\n'
        f"R-2,cn_ric,{ALICE},李娜,fare_evasion,2026-03-02,\n"
        f"R-3,cn_ric,{ALICE},李娜,fare_evasion,2026-03-03,\n",
        encoding="utf-8",
    )
    with pytest.raises(BatchRejected) as caught:
        ingest_file(registry, path, provider="city_rail_transit", now=now)
    assert [(p.line, p.field) for p in caught.value.problems] == [(2, "-")]
    assert "unbalanced quote" in str(caught.value)
    assert counts(registry) == (0, 0, 0)


def test_re_sent_corrections_and_retractions_store_nothing_new(
    registry: Engine, now: datetime, tmp_path: Path
) -> None:
    ingest_file(
        registry,
        write_jsonl(tmp_path / "1.jsonl", [row()]),
        provider="city_commercial_bank",
        now=now,
    )
    fix = write_jsonl(tmp_path / "2.jsonl", [row(action="correct", amount="1000.00")])
    assert ingest_file(registry, fix, provider="city_commercial_bank", now=now).corrected == 1
    again = ingest_file(registry, fix, provider="city_commercial_bank", now=now)
    assert (again.corrected, again.unchanged) == (0, 1)
    # A CSV of retractions needs only the reference and action columns.
    retract = tmp_path / "3.csv"
    retract.write_text("reference,action,note\nBK-1,retract,sent in error\n", encoding="utf-8")
    assert ingest_file(registry, retract, provider="city_commercial_bank", now=now).retracted == 1
    again = ingest_file(registry, retract, provider="city_commercial_bank", now=now)
    assert (again.retracted, again.unchanged) == (0, 1)
    assert counts(registry) == (1, 1, 3)


def test_files_must_say_their_format(registry: Engine, now: datetime, tmp_path: Path) -> None:
    text = tmp_path / "bank.txt"
    text.write_text(json.dumps(row()) + "\n", encoding="utf-8")
    with pytest.raises(BatchRejected, match=r"bank.txt:1:-: cannot tell the format"):
        ingest_file(registry, text, provider="city_commercial_bank", now=now)
    assert (
        ingest_file(registry, text, provider="city_commercial_bank", now=now, fmt="jsonl").created
        == 1
    )
    with pytest.raises(NotFound, match="is a directory"):
        ingest_file(registry, tmp_path, provider="city_commercial_bank", now=now)


def test_today_is_the_jurisdictions_day(registry: Engine, tmp_path: Path) -> None:
    # 01:30 in Example City (UTC+8) is still the previous day in UTC.
    early = datetime(2026, 6, 30, 17, 30, tzinfo=UTC)
    path = write_jsonl(tmp_path / "bank.jsonl", [row(valid_from="2026-07-01")])
    assert ingest_file(registry, path, provider="city_commercial_bank", now=early).created == 1
    later = write_jsonl(tmp_path / "b.jsonl", [row(reference="BK-9", valid_from="2026-07-02")])
    with pytest.raises(BatchRejected, match="in the future"):
        ingest_file(registry, later, provider="city_commercial_bank", now=early)
