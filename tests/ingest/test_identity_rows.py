"""Rows without a usable identifier go to the identity resolver in the batch's
transaction: attached to a subject (and the identity decision recorded), or refused
naming the row's file, line and field."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from trustledger.service.ingest import BatchQuarantined, ingest_file
from trustledger.store import tables

from .conftest import ALICE, write_jsonl, write_text

RAIL = """
[mapping]
provider = "city_rail_transit"
delimiter = "|"

[fields]
reference = "ticket"
subject_name = "passenger"
birth_date = { column = "born", date_format = "%Y%m%d" }
phone = "mobile"
subject_id_kind = { column = "id_type", codes = { "ID" = "cn_ric" } }
subject_id = "id_no"
valid_from = "day"
amount = { column = "fine", unit = "yuan" }

[fields.record_type]
column = "offence"
codes = { "F01" = "fare_evasion", "S02" = "train_seat_occupation" }
"""


def bank_first(engine: Engine, now: datetime, tmp_path: Path) -> None:
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
            }
        ],
    )
    ingest_file(engine, path, provider="city_commercial_bank", now=now)


def test_a_row_without_an_identifier_is_resolved_and_the_decision_kept(
    registry: Engine, now: datetime, tmp_path: Path
) -> None:
    bank_first(registry, now, tmp_path)
    mapping = write_text(tmp_path / "rail.toml", RAIL)
    rail = write_text(
        tmp_path / "rail.csv",
        "ticket|passenger|born|mobile|id_type|id_no|offence|day|fine\n"
        "T-1|李娜|19850412|13800138000|||F01|2026-05-01|50\n",
    )
    report = ingest_file(registry, rail, provider="city_rail_transit", now=now, mapping=mapping)
    assert (report.created, report.resolved) == (1, 1)
    with registry.connect() as conn:
        decisions = conn.execute(
            select(tables.identity_decisions.c.outcome, tables.identity_decisions.c.record_id)
        ).all()
        record = conn.execute(
            select(tables.records.c.id).where(tables.records.c.reference == "T-1")
        ).scalar_one()
    assert [(r[1]) for r in decisions] == [record]
    assert decisions[0][0] in ("accepted", "review", "new")


def test_rows_the_resolver_refuses_name_their_column(
    registry: Engine, now: datetime, tmp_path: Path
) -> None:
    mapping = write_text(tmp_path / "rail.toml", RAIL)
    bad_ric = ALICE[:-1] + ("0" if ALICE[-1] != "0" else "1")
    rail = write_text(
        tmp_path / "rail.csv",
        "ticket|passenger|born|mobile|id_type|id_no|offence|day|fine\n"
        f"T-1|李娜|19850412||ID|{bad_ric}|F01|2026-05-01|50\n"
        "T-2||||||F01|2026-05-01|50\n",
    )
    with pytest.raises(BatchQuarantined) as caught:
        ingest_file(registry, rail, provider="city_rail_transit", now=now, mapping=mapping)
    assert [(p.line, p.field) for p in caught.value.problems] == [(2, "id_no"), (3, "passenger")]
    assert "legacy" in caught.value.problems[0].reason
    with registry.connect() as conn:
        assert conn.execute(select(func.count()).select_from(tables.subjects)).scalar_one() == 0
