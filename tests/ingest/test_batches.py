"""Batches on both databases: whole or nothing (even when the store fails half-way),
idempotent, dry runs, quarantine and retry, grants, and problems as FILE:LINE:FIELD."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, select

from trustledger.errors import BatchRejected, Conflict, NotFound
from trustledger.service.ingest import (
    BatchQuarantined,
    ChunkStore,
    ChunkWrites,
    ingest_file,
    quarantine_list,
    quarantine_show,
    retry_quarantined,
)
from trustledger.service.policies import install_policy
from trustledger.store import records as record_store
from trustledger.store import tables
from trustledger.store.subjects import find_subjects

from .conftest import (
    ALICE,
    BOB,
    COURT_MAPPING,
    NOTHING,
    counts,
    court_row,
    write_court,
    write_jsonl,
    write_text,
)

COURT = "intermediate_court"


def test_a_court_file_in_its_own_layout_lands_whole(
    registry: Engine, now: datetime, tmp_path: Path, court_mapping: Path
) -> None:
    path = write_court(
        tmp_path / "判决.csv",
        [
            court_row(),
            court_row("（2025）粤03执124号", "王伟", BOB, "迟延履行", "2025年4月1日", "0.25"),
            # The same row twice in the export: stored once.
            court_row("（2025）粤03执124号", "王伟", BOB, "迟延履行", "2025年4月1日", "0.25"),
        ],
    )
    report = ingest_file(registry, path, provider=COURT, now=now, mapping=court_mapping)
    assert (report.status, report.rows, report.created, report.duplicates) == ("accepted", 3, 2, 1)
    assert (report.encoding, report.delimiter, report.format) == ("gb18030", ",", "csv")
    assert report.new_subjects == 2 and report.batch_id is not None
    with registry.connect() as conn:
        (alice,) = find_subjects(conn, ALICE)
        (rec,) = record_store.records_as_of(conn, alice.id, known_at=now)
    assert (rec.reference, rec.record_type, str(rec.valid_from), rec.amount) == (
        "（2025）粤03执123号",
        "court_judgment_unfulfilled",
        "2025-03-01",
        Decimal("15000.00"),  # 1.5 ten-thousand yuan
    )
    assert counts(registry) | {"quarantine_files": 0} == {
        **NOTHING,
        "subjects": 2,
        "records": 2,
        "record_versions": 2,
        # The court's mapping declares dedupe keys: each record knows its source.
        "record_sources": 2,
        "ingest_batches": 1,
    }


def test_the_same_file_or_batch_id_twice_stores_nothing_new(
    registry: Engine, now: datetime, tmp_path: Path, court_mapping: Path
) -> None:
    path = write_court(tmp_path / "c.csv", [court_row()])
    first = ingest_file(
        registry, path, provider=COURT, now=now, mapping=court_mapping, batch_id="2025-W10"
    )
    before = counts(registry)
    again = ingest_file(
        registry, path, provider=COURT, now=now + timedelta(hours=1), mapping=court_mapping
    )
    assert (again.status, again.batch_id, again.created, again.unchanged) == (
        "already",
        first.batch_id,
        0,
        1,
    )
    # A copy of the file under another name is the same batch.
    copy = tmp_path / "copy.csv"
    copy.write_bytes(path.read_bytes())
    assert ingest_file(registry, copy, provider=COURT, now=now, mapping=court_mapping).status == (
        "already"
    )
    assert counts(registry) == before
    other = write_court(tmp_path / "d.csv", [court_row("（2025）粤03执999号")])
    with pytest.raises(Conflict, match="batch id '2025-W10' of intermediate_court was used"):
        ingest_file(
            registry, other, provider=COURT, now=now, mapping=court_mapping, batch_id="2025-W10"
        )
    assert counts(registry) == before


class FailingStore(ChunkStore):
    """Writes the first chunk, then fails as a full disk would."""

    def __init__(self) -> None:
        self.calls = 0

    def write(self, conn: Connection, writes: ChunkWrites) -> None:
        self.calls += 1
        if self.calls > 1:
            raise OSError("disk full")
        super().write(conn, writes)
        # The first chunk really is in the database, inside the batch's transaction.
        assert conn.execute(select(tables.records.c.id)).first() is not None


def test_a_failure_after_the_first_chunk_leaves_nothing(
    registry: Engine, now: datetime, tmp_path: Path, court_mapping: Path
) -> None:
    rows = [court_row(f"（2025）粤03执{n}号", amount="1") for n in range(100, 110)]
    path = write_court(tmp_path / "c.csv", rows)
    store = FailingStore()
    with pytest.raises(OSError, match="disk full"):
        ingest_file(
            registry,
            path,
            provider=COURT,
            now=now,
            mapping=court_mapping,
            store=store,
            chunk_rows=3,
        )
    assert store.calls == 2
    assert counts(registry) == NOTHING
    # Nothing half-done is left either: the same file goes through afterwards.
    report = ingest_file(registry, path, provider=COURT, now=now, mapping=court_mapping)
    assert report.created == 10


def test_a_dry_run_stores_nothing(
    registry: Engine, now: datetime, tmp_path: Path, court_mapping: Path
) -> None:
    good = write_court(tmp_path / "good.csv", [court_row(), court_row("（2025）粤03执2号")])
    report = ingest_file(
        registry, good, provider=COURT, now=now, mapping=court_mapping, dry_run=True
    )
    assert (report.status, report.created, report.new_subjects) == ("dry-run", 2, 1)
    assert counts(registry) == NOTHING
    bad = write_court(tmp_path / "bad.csv", [court_row(day="2025年2月30日")])
    with pytest.raises(BatchQuarantined) as caught:
        ingest_file(registry, bad, provider=COURT, now=now, mapping=court_mapping, dry_run=True)
    assert not caught.value.kept and caught.value.batch_id is None
    assert [str(p) for p in caught.value.problems] == [
        f"{bad}:2:生效日期: '2025年2月30日' is not a date: write '%Y年%m月%d日' (the mapping's "
        "date_format)"
    ]
    assert counts(registry) == NOTHING


def test_a_refused_batch_waits_in_quarantine_until_a_retry_accepts_it(
    registry: Engine, now: datetime, tmp_path: Path, court_mapping: Path
) -> None:
    path = write_court(
        tmp_path / "c.csv",
        [court_row(), court_row("（2025）粤03执2号", status="部分未履行")],
    )
    with pytest.raises(BatchQuarantined) as caught:
        ingest_file(registry, path, provider=COURT, now=now, mapping=court_mapping)
    refused = caught.value
    assert refused.kept and isinstance(refused, BatchRejected)
    assert [(p.line, p.field) for p in refused.problems] == [(3, "履行情况")]
    assert counts(registry) == {**NOTHING, "ingest_batches": 1, "quarantine_files": 1}
    (waiting,) = quarantine_list(registry)
    assert (waiting.id, waiting.status, waiting.rows, waiting.problems) == (
        refused.batch_id,
        "quarantined",
        2,
        1,
    )
    shown = quarantine_show(registry, waiting.id)
    assert shown.report["problems"][0][:3] == [str(path), 3, "履行情况"]
    assert shown.mapping_text == COURT_MAPPING
    # Sent again unchanged it is refused again, but not kept twice.
    with pytest.raises(BatchQuarantined) as again:
        ingest_file(registry, path, provider=COURT, now=now, mapping=court_mapping)
    assert not again.value.kept and again.value.batch_id == waiting.id
    # The mapping learns the provider's code; the kept file is read again and lands.
    court_mapping.write_text(
        COURT_MAPPING.replace(
            'codes."迟延履行" = "court_judgment_fulfilled_late"',
            'codes."迟延履行" = "court_judgment_fulfilled_late"\n'
            'codes."部分未履行" = "court_judgment_unfulfilled"',
        ),
        encoding="utf-8",
    )
    path.unlink()  # the kept bytes are what is read
    report = retry_quarantined(registry, waiting.id, now=now + timedelta(minutes=5))
    assert (report.status, report.created) == ("accepted", 2)
    assert quarantine_list(registry) == []
    (done,) = quarantine_list(registry, include_done=True)
    assert done.status == "retried"
    accepted = quarantine_show(registry, report.batch_id or 0)
    assert (accepted.retry_of, accepted.source) == (waiting.id, str(path))
    with pytest.raises(Conflict, match="is retried, not quarantined"):
        retry_quarantined(registry, waiting.id, now=now)


def test_a_retry_with_a_corrected_file_that_fails_again_takes_its_place(
    registry: Engine, now: datetime, tmp_path: Path, court_mapping: Path
) -> None:
    bad = write_court(tmp_path / "c.csv", [court_row(id_no="110105199001319999")])
    with pytest.raises(BatchQuarantined) as first:
        ingest_file(registry, bad, provider=COURT, now=now, mapping=court_mapping)
    still_bad = write_court(tmp_path / "c2.csv", [court_row(amount="lots")])
    with pytest.raises(BatchQuarantined) as second:
        retry_quarantined(registry, first.value.batch_id or 0, now=now, file=still_bad)
    (waiting,) = quarantine_list(registry)
    assert waiting.id == second.value.batch_id and waiting.retry_of == first.value.batch_id
    fixed = write_court(tmp_path / "c3.csv", [court_row()])
    dry = retry_quarantined(registry, waiting.id, now=now, file=fixed, dry_run=True)
    assert dry.status == "dry-run" and quarantine_list(registry) == [waiting]
    report = retry_quarantined(registry, waiting.id, now=now, file=fixed)
    assert report.created == 1 and quarantine_list(registry) == []
    with pytest.raises(NotFound, match="no batch 999"):
        retry_quarantined(registry, 999, now=now)


def test_a_type_not_granted_is_refused_naming_it(
    registry: Engine, now: datetime, tmp_path: Path
) -> None:
    mapping = write_text(
        tmp_path / "rail.toml",
        COURT_MAPPING.replace('provider = "intermediate_court"', 'provider = "city_rail_transit"'),
    )
    path = write_court(tmp_path / "c.csv", [court_row()])
    with pytest.raises(BatchQuarantined) as caught:
        ingest_file(registry, path, provider="city_rail_transit", now=now, mapping=mapping)
    (problem,) = caught.value.problems
    assert str(problem) == (
        f"{path}:2:履行情况: record type 'court_judgment_unfulfilled' is not granted to "
        "provider 'city_rail_transit'; it may submit: fare_evasion, train_seat_occupation"
    )
    with pytest.raises(BatchQuarantined) as wrong:
        ingest_file(registry, path, provider=COURT, now=now, mapping=mapping)
    assert [str(p) for p in wrong.value.problems] == [
        f"{mapping}:3:mapping.provider: this mapping is for provider 'city_rail_transit', "
        "not 'intermediate_court'"
    ]


PROBLEM = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<field>[^:]+): .+")


def test_every_problem_names_its_file_line_and_field(
    registry: Engine, now: datetime, tmp_path: Path, court_mapping: Path
) -> None:
    path = write_court(
        tmp_path / "c.csv",
        [
            court_row(),
            court_row("（2025）粤03执2号", id_no=ALICE[:-1] + "0" if ALICE[-1] != "0" else "1"),
            court_row("（2025）粤03执3号", kind="护照"),
            court_row("（2025）粤03执4号", day="2099年1月1日"),
            court_row("（2025）粤03执5号", amount="-1"),
            court_row("（2025）粤03执6号", amount="1.0000001"),
            court_row("（2025）粤03执1号".replace("1号", "7号"), name="", id_no=BOB),
            court_row("", name="李娜"),
            "（2025）粤03执8号,李娜,居民身份证",  # too few fields
            court_row("（2025）粤03执9号", name="李\x00娜"),
        ],
    )
    with pytest.raises(BatchQuarantined) as caught:
        ingest_file(registry, path, provider=COURT, now=now, mapping=court_mapping)
    problems = caught.value.problems
    located = [(p.line, p.field) for p in problems]
    assert located == [
        (3, "证件号码"),
        (4, "证件类型"),
        (5, "生效日期"),
        (6, "执行标的（万元）"),
        (7, "执行标的（万元）"),
        (8, "被执行人"),
        (9, "案号"),
        (10, "-"),
        (11, "被执行人"),
    ]
    for p in problems:
        m = PROBLEM.match(str(p))
        assert m is not None and m["file"] == str(path) and int(m["line"]) == p.line
    assert "check" in str(problems[0])
    assert counts(registry) == {**NOTHING, "ingest_batches": 1, "quarantine_files": 1}


def test_repeats_across_chunks_are_duplicates_or_problems(
    registry: Engine, now: datetime, tmp_path: Path, court_mapping: Path
) -> None:
    rows = [court_row(f"（2025）粤03执{n}号", amount="1") for n in range(1, 6)]
    path = write_court(tmp_path / "c.csv", [*rows, rows[0]])
    report = ingest_file(
        registry, path, provider=COURT, now=now, mapping=court_mapping, chunk_rows=2
    )
    assert (report.created, report.duplicates) == (5, 1)
    changed = write_court(
        tmp_path / "d.csv", [*rows[:2], court_row("（2025）粤03执1号", amount="2")]
    )
    with pytest.raises(BatchQuarantined) as caught:
        ingest_file(registry, changed, provider=COURT, now=now, mapping=court_mapping, chunk_rows=2)
    # The first rows are as stored; the last changes a stored record without saying so.
    assert [str(p) for p in caught.value.problems] == [
        f"{changed}:4:案号: record '（2025）粤03执1号' is already stored with other amount: "
        "send action=correct to change it"
    ]


def test_a_file_in_trustledgers_own_format_still_works(
    registry: Engine, now: datetime, tmp_path: Path
) -> None:
    path = write_jsonl(
        tmp_path / "bank.jsonl",
        [
            {
                "reference": "BK-1",
                "subject_id_kind": "cn_ric",
                "subject_id": ALICE,
                "subject_name": "李娜",
                "record_type": "loan_overdue_30d",
                "valid_from": "2026-03-01",
                "amount": "1200.50",
            }
        ],
    )
    report = ingest_file(registry, path, provider="city_commercial_bank", now=now)
    assert (report.created, report.mapping, report.format) == (1, None, "jsonl")
    retract = write_text(tmp_path / "r.csv", "reference,action\nBK-1,retract\n")
    assert ingest_file(registry, retract, provider="city_commercial_bank", now=now).retracted == 1
    with registry.connect() as conn:
        batches = conn.execute(
            select(tables.ingest_batches.c.report).order_by(tables.ingest_batches.c.id)
        ).scalars()
        assert [json.loads(b)["counts"]["created"] for b in batches] == [1, 0]


def test_the_policy_registers_a_providers_mapping_beside_it(
    engine: Engine, now: datetime, tmp_path: Path, example_policy: Path
) -> None:
    folder = tmp_path / "policies"
    (folder / "providers").mkdir(parents=True)
    write_text(folder / "providers" / "court.toml", COURT_MAPPING)
    text = example_policy.read_text(encoding="utf-8").replace(
        '[providers.intermediate_court]\nkind = "court"\n',
        '[providers.intermediate_court]\nkind = "court"\nmapping = "providers/court.toml"\n',
    )
    assert 'mapping = "providers/court.toml"' in text
    install_policy(engine, write_text(folder / "city.toml", text), now=now)
    path = write_court(tmp_path / "c.csv", [court_row()])
    report = ingest_file(engine, path, provider=COURT, now=now)
    assert (report.created, report.mapping) == (1, str(folder / "providers" / "court.toml"))


def test_erasure_takes_the_subject_out_of_quarantined_files(
    registry: Engine, now: datetime, tmp_path: Path, court_mapping: Path
) -> None:
    """A refused file is the registry's copy of personal data too: erasing a subject
    drops the kept bytes of every quarantined file that names it, and the problems of its
    report (they quote rows); files about others stay."""
    from trustledger.audit import AuditKey
    from trustledger.domain.principal import Actor, Principal, Role
    from trustledger.service.audit import AuditLog
    from trustledger.service.registry import Registry

    good = write_court(
        tmp_path / "good.csv", [court_row(), court_row("（2025）粤03执9号", id_no=BOB)]
    )
    ingest_file(registry, good, provider=COURT, now=now, mapping=court_mapping)
    about_alice = write_court(tmp_path / "alice.csv", [court_row("（2025）粤03执2号", status="?")])
    about_bob = write_court(
        tmp_path / "bob.csv", [court_row("（2025）粤03执3号", id_no=BOB, name="王芳", status="?")]
    )
    batches: dict[str, int] = {}
    for name, path in (("alice", about_alice), ("bob", about_bob)):
        with pytest.raises(BatchQuarantined) as caught:
            ingest_file(registry, path, provider=COURT, now=now, mapping=court_mapping)
        assert caught.value.batch_id is not None
        batches[name] = caught.value.batch_id
    operator = Actor(Principal("key-operator", Role.OPERATOR), "req-1")
    reg = Registry(registry, AuditLog(AuditKey.generate()), lambda: now + timedelta(hours=1))
    erased = reg.rights.erase(operator, ALICE, "PIPL art. 47")
    assert erased["removed"]["quarantined_files"] == 1
    alice_batch = quarantine_show(registry, batches["alice"])
    assert alice_batch.report["problems"] == [] and alice_batch.problems == 1
    assert "erased_at" in alice_batch.report
    with pytest.raises(NotFound, match="its file was not kept; retry it with --file"):
        retry_quarantined(registry, batches["alice"], now=now + timedelta(hours=2))
    bob_batch = quarantine_show(registry, batches["bob"])
    assert len(bob_batch.report["problems"]) == 1
    with registry.connect() as conn:
        kept = conn.execute(select(tables.quarantine_files.c.batch_id)).scalars().all()
    assert kept == [batches["bob"]]
