"""What happens without anyone acting, on SQLite and PostgreSQL: expiry at the exact end
of retention, reviews flagged once past their deadline, list entries ending on the
public register, and the audit events of each."""

from __future__ import annotations

import time as clock
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.web.conftest import BAD_CO, DEBTOR, SHOP, Api, TickingClock, record
from trustledger.audit import AuditKey
from trustledger.domain.principal import Actor, Principal, Role
from trustledger.service.audit import AuditLog
from trustledger.service.maintain import maintain
from trustledger.service.scoring import explain_subject
from trustledger.store import audit as audit_store
from trustledger.store import scores as score_store
from trustledger.store.locks import maintenance_lock
from trustledger.web.app import Settings, create_app

SYSTEM = Actor(Principal(None, Role.OPERATOR, "test schedule"), "maintain-test")


def noon(day: date) -> datetime:
    """Noon UTC: the same calendar day in Asia/Shanghai (the policy's zone)."""
    return datetime.combine(day, time(12), UTC)


def run(api: Api, day: date, **kw: Any) -> Any:
    return maintain(api.engine, AuditLog(api.audit_key), SYSTEM, now=noon(day), **kw)


def last_actions(api: Api, n: int) -> list[str]:
    with api.engine.connect() as conn:
        return [e.action for e in list(audit_store.iter_events(conn))[-n:]]


def fare_status(api: Api, known_at: datetime, as_of: date) -> str:
    explained = explain_subject(api.engine, DEBTOR, as_of=as_of, known_at=known_at).as_json()
    if any(c["record_type"] == "fare_evasion" for c in explained["contributions"]):
        return "counting"
    return str(
        next(n["reason"] for n in explained["not_counted"] if n["record_type"] == "fare_evasion")
    )


def test_a_record_counts_for_its_period_then_leaves_the_file_at_its_retention(api: Api) -> None:
    # fare_evasion of 2026-05-02: counts for 1 year, kept for 2.
    assert fare_status(api, noon(date(2027, 5, 1)), date(2027, 5, 1)) == "counting"
    assert fare_status(api, noon(date(2027, 5, 2)), date(2027, 5, 2)) == "expired"

    first = run(api, date(2028, 5, 1), deliver=False, full=False)
    assert first.expired == 0
    boundary = run(api, date(2028, 5, 2), deliver=False, full=False)
    assert boundary.expired == 1 and boundary.rescored == 1
    assert last_actions(api, 1) == ["records.expire"]
    again = run(api, date(2028, 5, 3), deliver=False, full=False)
    assert again.expired == 0  # expired once

    operator = api.key("operator")
    file = api.client.get(
        f"/v1/subjects/{DEBTOR}?purpose=registry_administration", headers=api.as_(operator)
    )
    # The API's clock is still in 2026, before the expiry was recorded: the record is
    # there as known then. As known after the expiry, it is gone from the file.
    assert "fare_evasion" in [r["record_type"] for r in file.json()["records"]]
    api.clock.t = noon(date(2028, 5, 4))
    later = api.client.get(
        f"/v1/subjects/{DEBTOR}?purpose=registry_administration", headers=api.as_(operator)
    ).json()
    assert "fare_evasion" not in [r["record_type"] for r in later["records"]]
    assert fare_status(api, noon(date(2028, 5, 4)), date(2026, 6, 30)) == "past retention"
    # Before the expiry version was recorded, the same question had the old answer.
    assert fare_status(api, noon(date(2028, 5, 1)), date(2026, 6, 30)) == "counting"


def test_an_overdue_review_is_flagged_once(api: Api) -> None:
    subject = api.key("subject", subject=DEBTOR)
    file = api.client.get("/v1/subjects/me", headers=api.as_(subject)).json()
    judgment = next(r for r in file["records"] if r["record_type"] == "court_judgment_unfulfilled")
    case = api.client.post(
        "/v1/subjects/me/objections",
        data={"record_id": str(judgment["record_id"]), "reason": "not mine"},
        headers=api.as_(subject),
    ).json()
    deadline = datetime.fromisoformat(case["deadline"])
    before = maintain(
        api.engine,
        AuditLog(api.audit_key),
        SYSTEM,
        now=deadline - timedelta(seconds=1),
        deliver=False,
        full=False,
    )
    assert before.overdue == []
    at = maintain(
        api.engine, AuditLog(api.audit_key), SYSTEM, now=deadline, deliver=False, full=False
    )
    assert at.overdue == [case["id"]] and at.rescored == 1
    assert last_actions(api, 1) == ["case.overdue"]
    after = maintain(
        api.engine,
        AuditLog(api.audit_key),
        SYSTEM,
        now=deadline + timedelta(hours=1),
        deliver=False,
        full=False,
    )
    assert after.overdue == []
    reviewer = api.key("reviewer")
    history = api.client.get(f"/v1/cases/{case['id']}", headers=api.as_(reviewer)).json()
    assert [e["action"] for e in history["history"]] == ["opened", "overdue"]


def public_black(api: Api) -> list[str]:
    body = api.client.get("/v1/public/lists/black").json()
    return [e["name"] for e in body["entries"]]


def test_list_entries_end_on_the_public_register_without_anyone_acting(api: Api) -> None:
    # Bad Trading Co.'s licence was revoked on 2026-04-01: on the black list for 3 years.
    assert public_black(api) == []  # never scored yet
    first = run(api, date(2026, 7, 1), deliver=False)
    assert first.score_run is not None  # the first run of the day scores everyone
    assert public_black(api) == ["Bad Trading Co."]
    assert run(api, date(2026, 7, 1), deliver=False).score_run is None  # once a day
    run(api, date(2029, 3, 31), deliver=False)
    assert public_black(api) == ["Bad Trading Co."]
    run(api, date(2029, 4, 1), deliver=False)
    assert public_black(api) == []
    body = api.client.get("/v1/public/lists/black").json()
    assert body["as_of"] == "2029-04-01"
    organisation = api.client.get(f"/v1/public/organisations/{BAD_CO}").json()
    assert organisation["name"] == "Bad Trading Co."


@pytest.mark.parametrize("full", [True, False])
def test_maintenance_on_an_empty_day_changes_nothing(api: Api, full: bool) -> None:
    report = run(api, date(2026, 7, 1), deliver=True, full=full)
    assert report.expired == 0 and report.overdue == []
    assert (report.score_run is not None) is full
    assert (report.delivered, report.failed) == (0, 0)


def test_a_providers_batch_reaches_the_public_register_at_the_next_maintenance(
    api: Api,
) -> None:
    log = AuditLog(api.audit_key)
    start = noon(date(2026, 7, 1))
    maintain(api.engine, log, SYSTEM, now=start, deliver=False)  # everyone scored today
    assert public_black(api) == ["Bad Trading Co."]
    api.clock.t = start + timedelta(hours=1)
    regulator = api.key("provider", provider="market_regulator")
    shop = record(
        "R-9", "business_licence_revoked", "2026-06-29", SHOP, kind="uscc", name="Good Noodles"
    )
    assert api.submit(regulator, [shop], "r9").status_code == 201
    assert public_black(api) == ["Bad Trading Co."]  # not yet
    later = start + timedelta(hours=2)
    report = maintain(api.engine, log, SYSTEM, now=later, deliver=False)
    assert report.score_run is None and report.rescored == 1
    assert public_black(api) == ["Bad Trading Co.", "Good Noodles Ltd."]
    again = maintain(api.engine, log, SYSTEM, now=later + timedelta(hours=1), deliver=False)
    assert again.rescored == 0


def test_one_maintenance_at_a_time(api: Api) -> None:
    with maintenance_lock(api.engine) as held:
        assert held
        with maintenance_lock(api.engine) as again:
            assert not again  # not even the same process twice
        skipped = run(api, date(2028, 5, 2), deliver=False)
        assert skipped.skipped and skipped.expired == 0 and skipped.score_run is None
    done = run(api, date(2028, 5, 2), deliver=False)
    assert not done.skipped and done.expired == 1 and done.score_run is not None


def test_serve_runs_maintenance_on_its_schedule(registry: Engine, now: datetime) -> None:
    """The app's lifespan starts the schedule: the first run scores everyone at once."""
    app = create_app(
        Settings(
            engine=registry,
            audit_key=AuditKey.generate(),
            clock=TickingClock(now),
            maintain_every=3600,
            deliver_every=3600,
        )
    )
    found = None
    with TestClient(app):
        deadline = clock.monotonic() + 30
        while found is None and clock.monotonic() < deadline:
            with registry.connect() as conn:
                found = score_store.latest_run(conn)
            clock.sleep(0.05)
    assert found is not None and found.as_of == now.date()
    with registry.connect() as conn:
        actions = {e.action for e in audit_store.iter_events(conn)}
    assert actions <= {"records.expire", "case.overdue"}  # nothing to do but score
