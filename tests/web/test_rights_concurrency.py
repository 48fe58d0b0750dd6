"""Use cases about one subject at the same time, on PostgreSQL (SQLite runs them one at a
time): every answer is a success or a 409 naming the record, never a crash, and nothing is
stored twice."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.web.conftest import DEBTOR, Api, record
from trustledger.domain.principal import Actor, Principal, Role
from trustledger.errors import Conflict
from trustledger.service.registry import Registry


@pytest.fixture
def setup(api: Api) -> tuple[Registry, Actor, list[int]]:
    if api.engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs one use case at a time: nothing happens at once")
    court = api.key("provider", provider="intermediate_court")
    rows = [
        record(f"C-{i}", "court_judgment_unfulfilled", "2026-01-10", DEBTOR, name="Wang Wei")
        for i in range(6)
    ]
    assert api.submit(court, rows, "concurrent").status_code == 201
    registry: Registry = api.client.app.state.registry  # type: ignore[attr-defined]
    sid = api.subject_id(DEBTOR)
    actor = Actor(Principal("k", Role.SUBJECT, "s", subject_id=sid), "r")
    token = api.key("subject", subject=DEBTOR)
    file = api.client.get("/v1/subjects/me", headers=api.as_(token)).json()
    ids = [r["record_id"] for r in file["records"] if r["reference"].startswith("C-")]
    return registry, actor, ids


def attempt(registry: Registry, actor: Actor, record_id: int) -> Any:
    try:
        return registry.rights.open_objection(actor, "me", record_id, "not mine")
    except Conflict as exc:
        return exc


def test_objections_to_every_record_at_once(setup: tuple[Registry, Actor, list[int]]) -> None:
    registry, actor, ids = setup
    with ThreadPoolExecutor(len(ids)) as pool:
        results = list(pool.map(lambda rid: attempt(registry, actor, rid), ids))
    assert all(isinstance(r, dict) and r["status"] == "open" for r in results), results


def test_objections_to_one_record_at_once(setup: tuple[Registry, Actor, list[int]]) -> None:
    registry, actor, ids = setup
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: attempt(registry, actor, ids[0]), range(8)))
    opened = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, Conflict)]
    assert len(opened) == 1 and len(refused) == 7
    assert all("already under objection" in str(r) for r in refused)


def test_decisions_on_cases_of_one_subject_at_once(
    setup: tuple[Registry, Actor, list[int]], api: Api
) -> None:
    registry, actor, ids = setup
    cases = [attempt(registry, actor, rid)["id"] for rid in ids[:4]]
    reviewer = Actor(Principal("rv", Role.REVIEWER, "r"), "q")

    def decide(case_id: str) -> Any:
        return registry.rights.decide(reviewer, case_id, "retracted", "paid")

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(decide, cases))
    assert [r["outcome"] for r in results] == ["retracted"] * 4
    token = api.key("subject", subject=DEBTOR)
    file = api.client.get("/v1/subjects/me", headers=api.as_(token)).json()
    retracted = {r["record_id"] for r in file["records"] if r["status"] == "retracted"}
    assert set(ids[:4]) <= retracted
