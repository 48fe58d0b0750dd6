"""The operator's dashboard shows the ingest: the latest files with their outcome, and the
batches waiting in quarantine with their problem counts (column names, never row content),
in English and Chinese."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from trustledger.audit import AuditKey
from trustledger.domain.principal import Actor, Principal, Role
from trustledger.service.audit import AuditLog
from trustledger.service.ingest import BatchQuarantined, ingest_file
from trustledger.service.keys import create_key
from trustledger.service.registry import Registry
from trustledger.web.app import Settings, create_app

from .conftest import BOB, court_row, write_court

OPERATOR = Actor(Principal("key-operator", Role.OPERATOR), "req-operator")


@pytest.fixture
def two_files(registry: Engine, now: datetime, tmp_path: Path, court_mapping: Path) -> Engine:
    good = write_court(tmp_path / "good.csv", [court_row()])
    ingest_file(registry, good, provider="intermediate_court", now=now, mapping=court_mapping)
    bad = write_court(
        tmp_path / "bad.csv",
        [
            court_row("（2025）粤03执2号", name="王伟", id_no=BOB, day="2025年2月30日"),
            court_row("（2025）粤03执3号", name="王伟", id_no=BOB, day="昨天"),
            court_row("（2025）粤03执4号", name="王伟", id_no=BOB, amount="很多"),
        ],
    )
    with pytest.raises(BatchQuarantined):
        ingest_file(
            registry,
            bad,
            provider="intermediate_court",
            now=now + timedelta(hours=1),
            mapping=court_mapping,
        )
    return registry


def test_the_figures_list_files_and_the_quarantine(two_files: Engine, now: datetime) -> None:
    reg = Registry(two_files, AuditLog(AuditKey.generate()), lambda: now + timedelta(days=1))
    figures = reg.dashboard.figures(OPERATOR)
    files = figures["files"]
    assert [(f["file"], f["status"], f["rows"], f["created"], f["problems"]) for f in files] == [
        ("bad.csv", "quarantined", 3, 0, 3),
        ("good.csv", "accepted", 1, 1, 0),
    ]
    (waiting,) = figures["quarantine"]
    assert waiting["title"] == "Example City Intermediate People's Court"
    assert waiting["problem_fields"] == [("生效日期", 2), ("执行标的（万元）", 1)]
    assert "王伟" not in str(figures)  # counted, never named


@pytest.fixture
def client(two_files: Engine, now: datetime) -> Iterator[TestClient]:
    app = create_app(
        Settings(
            engine=two_files,
            audit_key=AuditKey.generate(),
            rate_per_second=10_000.0,
            clock=lambda: now + timedelta(days=1),
        )
    )
    token = create_key(two_files, role=Role.OPERATOR, now=now).token
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post("/signin", data={"secret": token}, follow_redirects=False)
        assert r.status_code == 303, r.text
        yield c


def test_the_dashboard_page_shows_the_ingest_panel(client: TestClient) -> None:
    page = client.get("/dashboard").text
    assert "In quarantine" in page and "Latest files" in page
    assert "<code>bad.csv</code>" in page and "<code>good.csv</code>" in page
    assert "<code>生效日期</code>" in page
    chinese = client.get("/dashboard?lang=zh").text
    assert "隔离中的批次" in chinese and "最近导入的文件" in chinese and "已入库" in chinese
