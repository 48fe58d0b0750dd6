"""Ingestion tests: providers' files in their own layouts, read through mapping files.

Fixture strategy: each test writes the small files it needs (a few rows, a mapping) with
the helpers below; ``registry`` (tests/conftest.py) gives a database with the example
policy on SQLite and PostgreSQL, and ``bureau_registry`` the same policy plus an
enforcement bureau granted the court's judgment types, for facts that two providers
report. CLI tests sign their audit logs with a key of their own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from trustledger.identifiers import make_ric, make_uscc
from trustledger.service.policies import install_policy
from trustledger.store import tables

ALICE = make_ric("440305", date(1985, 4, 12), 123)
BOB = make_ric("110105", date(1990, 1, 31), 456)
SHOP = make_uscc("9", "1", "440300", "MA5FXX1K")

BUREAU = """
[providers.enforcement_bureau]
kind = "court"
title = "Example City Enforcement Bureau"
grants = ["court_judgment_unfulfilled", "court_judgment_fulfilled_late"]
"""

#: The court's judgments as its export writes them (GB18030, Chinese headers).
COURT_MAPPING = """
[mapping]
provider = "intermediate_court"
format = "csv"
ignore = ["承办法官"]

[fields.reference]
column = "案号"

[fields.subject_name]
column = "被执行人"

[fields.subject_id_kind]
column = "证件类型"
codes = { "居民身份证" = "cn_ric", "统一社会信用代码" = "uscc" }

[fields.subject_id]
column = "证件号码"

[fields.record_type]
column = "履行情况"
codes."全部未履行" = "court_judgment_unfulfilled"
codes."迟延履行" = "court_judgment_fulfilled_late"

[fields.valid_from]
column = "生效日期"
date_format = "%Y年%m月%d日"

[fields.amount]
column = "执行标的（万元）"
unit = "wan_yuan"

[dedupe]
kind = "judgment"
columns = ["案号"]
"""
COURT_HEADER = "案号,被执行人,证件类型,证件号码,履行情况,生效日期,执行标的（万元）,承办法官"

#: The enforcement bureau reports the same judgments its own way (JSON Lines).
BUREAU_MAPPING = """
[mapping]
provider = "enforcement_bureau"
format = "jsonl"

[fields]
reference = "enforcement_no"
subject_name = "debtor.name"
subject_id = "debtor.id_no"
subject_id_kind = { value = "cn_ric" }
valid_from = "judgment_effective"
amount = { column = "amount_fen", unit = "fen" }

[fields.record_type]
column = "status"
codes.unfulfilled = "court_judgment_unfulfilled"
codes.late = "court_judgment_fulfilled_late"

[dedupe]
kind = "judgment"
columns = ["case_no"]
"""


def court_row(
    case: str = "（2025）粤03执123号",
    name: str = "李娜",
    id_no: str = ALICE,
    status: str = "全部未履行",
    day: str = "2025年3月1日",
    amount: str = "1.5",
    kind: str = "居民身份证",
) -> str:
    return ",".join([case, name, kind, id_no, status, day, amount, "王法官"])


def write_court(path: Path, rows: Iterable[str], *, encoding: str = "gb18030") -> Path:
    path.write_bytes(("\n".join([COURT_HEADER, *rows]) + "\n").encode(encoding))
    return path


def write_jsonl(path: Path, rows: Iterable[dict[str, object]]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


def write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def bureau_row(**overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "enforcement_no": "EB-2025-0001",
        "case_no": "(2025)粤03执123号",
        "debtor": {"name": "李娜", "id_no": ALICE},
        "status": "unfulfilled",
        "judgment_effective": "2025-03-01",
        "amount_fen": 1_500_000,
    }
    row.update(overrides)
    return row


def counts(engine: Engine) -> dict[str, int]:
    """Rows in every table ingestion writes."""
    with engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (
                tables.subjects,
                tables.records,
                tables.record_versions,
                tables.record_sources,
                tables.ingest_batches,
                tables.quarantine_files,
            )
        }


NOTHING = {
    "subjects": 0,
    "records": 0,
    "record_versions": 0,
    "record_sources": 0,
    "ingest_batches": 0,
    "quarantine_files": 0,
}


@pytest.fixture
def bureau_registry(engine: Engine, now: datetime, tmp_path: Path, example_policy: Path) -> Engine:
    """The example policy plus an enforcement bureau granted the court's judgment types."""
    policy = tmp_path / "policy-with-bureau.toml"
    policy.write_text(example_policy.read_text(encoding="utf-8") + BUREAU, encoding="utf-8")
    install_policy(engine, policy, now=now)
    return engine


@pytest.fixture
def court_mapping(tmp_path: Path) -> Path:
    return write_text(tmp_path / "court.toml", COURT_MAPPING)


@pytest.fixture
def bureau_mapping(tmp_path: Path) -> Path:
    return write_text(tmp_path / "bureau.toml", BUREAU_MAPPING)
