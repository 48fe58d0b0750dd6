"""The operators' dashboard (``Registry.dashboard.figures``) on SQLite and PostgreSQL: every
figure equals what the test put in, months without records are zeros, and only operators
may read it.

Fixture strategy: the example policy; three persons, two organisations and one person who
is erased, their records sent through ``submit_records`` as providers would (some
corrected or retracted), three objections and a repair request through ``rights``, one
score run. The clock is set to the day each thing happens.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from trustledger.audit import AuditKey
from trustledger.domain.principal import ANONYMOUS, Actor, Principal, Role
from trustledger.errors import FieldError, Forbidden
from trustledger.identifiers import make_ric, make_uscc
from trustledger.service.audit import AuditLog
from trustledger.service.dashboard import month_range
from trustledger.service.maintain import maintain
from trustledger.service.registry import Registry
from trustledger.service.rights import Upload
from trustledger.service.scoring import score_all
from trustledger.store import audit as audit_store
from trustledger.store import records as record_store

DEBTOR = make_ric("440305", date(1985, 4, 12), 123)
BORROWER = make_ric("110105", date(1990, 1, 31), 456)
SAVER = make_ric("310101", date(1979, 7, 1), 8)
GONE = make_ric("440106", date(1990, 1, 1), 77)
BAD_CO = make_uscc("9", "1", "440300", "MA5FXX2L")
SHOP = make_uscc("9", "1", "440300", "MA5FXX1K")
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


class Clock:
    """A settable clock that moves a millisecond each time it is read."""

    def __init__(self, start: datetime) -> None:
        self.t = start

    def __call__(self) -> datetime:
        self.t += timedelta(milliseconds=1)
        return self.t


def who(role: Role, **scope: Any) -> Actor:
    return Actor(Principal(f"key-{role.value}", role, **scope), f"req-{role.value}")


OPERATOR = who(Role.OPERATOR)


def row(
    reference: str, record_type: str, valid_from: str, identifier: str, **extra: Any
) -> dict[str, Any]:
    kind = "uscc" if len(identifier) == 18 and not identifier[:17].isdigit() else "cn_ric"
    return {
        "reference": reference,
        "record_type": record_type,
        "valid_from": valid_from,
        "subject_id_kind": kind,
        "subject_id": identifier,
        "subject_name": f"Subject {identifier[-4:]}",
        **extra,
    }


def noon(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=4, tzinfo=UTC)  # noon in Shanghai


def set_day(reg: Registry, day: str, hour: int = 4) -> None:
    assert isinstance(reg.clock, Clock)
    reg.clock.t = datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def send(reg: Registry, provider: str, day: str, rows: list[dict[str, Any]]) -> None:
    set_day(reg, day)
    actor = who(Role.PROVIDER, provider=provider)
    report, _ = reg.submit_records(actor, f"{provider}-{day}-{rows[0]['reference']}", rows)
    assert report["rows"] == len(rows)


def record_id(reg: Registry, provider: str, reference: str) -> int:
    with reg.engine.connect() as conn:
        return record_store.current_by_reference(conn, provider, [reference])[reference].record_id


@pytest.fixture
def reg(registry: Engine, now: datetime) -> Registry:
    r = Registry(registry, AuditLog(AuditKey.generate()), Clock(now))
    court, bank = "intermediate_court", "city_commercial_bank"
    send(
        r,
        court,
        "2026-05-15",
        [
            row("J-1", "court_judgment_unfulfilled", "2026-03-12", DEBTOR),
            row("J-2", "fraud_conviction", "2026-05-01", DEBTOR),
        ],
    )
    send(
        r,
        bank,
        "2026-05-15",
        [
            row("L-1", "loan_default_90d", "2026-02-01", BORROWER, amount=52000),
            row("L-2", "loan_overdue_30d", "2026-02-10", BORROWER),
            row("L-3", "loan_repaid_on_time", "2026-01-05", SAVER),
            row("L-4", "loan_overdue_30d", "2025-11-03", SAVER),
        ],
    )
    send(
        r, "water_power_utility", "2026-05-15", [row("U-1", "utility_arrears", "2024-06-15", SAVER)]
    )
    send(r, "tax_bureau", "2026-05-15", [row("T-1", "tax_filing_late", "2023-05-01", BORROWER)])
    send(
        r,
        "market_regulator",
        "2026-05-15",
        [
            row("R-1", "business_licence_revoked", "2026-04-01", BAD_CO),
            row("R-2", "annual_report_filed", "2026-03-01", SHOP),
        ],
    )
    send(
        r,
        "civic_affairs_office",
        "2026-05-15",
        [row("V-1", "volunteer_service", "2026-02-20", GONE)],
    )
    # The bank retracts one record and corrects the date of another.
    send(r, bank, "2026-05-16", [{"reference": "L-2", "action": "retract"}])
    send(
        r,
        bank,
        "2026-06-10",
        [row("L-4", "loan_overdue_30d", "2025-12-03", SAVER, action="correct")],
    )
    # New within the last 30 days: the company's unpaid judgment (a second rule of the
    # black list: the company is still one subject on it).
    send(r, court, "2026-06-10", [row("J-3", "court_judgment_unfulfilled", "2026-04-10", BAD_CO)])

    # Cases: one decided in two days, one overdue, one open in time, one repair request.
    set_day(r, "2026-05-20")
    overdue = r.rights.open_objection(OPERATOR, DEBTOR, record_id(r, court, "J-1"), "not mine")
    set_day(r, "2026-06-01")
    decided = r.rights.open_objection(OPERATOR, BORROWER, record_id(r, bank, "L-1"), "paid")
    set_day(r, "2026-06-03")
    r.rights.decide(who(Role.REVIEWER), decided["id"], "retracted", "the bank erred")
    set_day(r, "2026-06-20")
    r.rights.open_objection(
        OPERATOR, SHOP, record_id(r, "market_regulator", "R-2"), "the date is wrong"
    )
    r.rights.request_repair(
        OPERATOR,
        SAVER,
        record_id(r, bank, "L-4"),
        date(2025, 12, 20),
        "paid in full",
        [Upload("receipt.pdf", "application/pdf", PDF)],
    )
    assert overdue["kind"] == "objection"

    r.rights.erase(OPERATOR, GONE, "Personal Information Protection Law, art. 47")
    set_day(r, "2026-06-30", hour=12)
    at = r.clock()
    score_all(registry, as_of=date(2026, 6, 30), known_at=at, now=at, current=True)
    return r


def figures(reg: Registry, months: int = 24) -> dict[str, Any]:
    return reg.dashboard.figures(OPERATOR, months=months)


def test_state_and_grades(reg: Registry) -> None:
    body = figures(reg)
    assert body["as_of"] == "2026-06-30"
    assert body["updated_at"] is not None and body["updated_at"].startswith("2026-06-30T12:00")
    assert body["policy_version"] == "example-city@1"
    # SAVER and BORROWER (the default retracted) are A; DEBTOR, whose judgment stopped
    # counting when its review went overdue, still has a fraud conviction: C. The shop is
    # A, the company with a revoked licence and an unpaid judgment C. The erased person
    # is counted nowhere.
    grades = {g["grade"]: (g["persons"], g["organisations"]) for g in body["grades"]}
    assert list(grades) == ["AAA", "AA", "A", "B", "C", "D"]
    assert grades == {
        "AAA": (0, 0),
        "AA": (0, 0),
        "A": (2, 1),
        "B": (0, 0),
        "C": (1, 1),
        "D": (0, 0),
    }
    assert body["grades"][2]["meaning"].startswith("Good")


def test_lists_count_subjects_in_force(reg: Registry) -> None:
    lists = {entry["name"]: entry for entry in figures(reg)["lists"]}
    assert list(lists) == ["black", "red"]
    assert lists["black"] == {
        "name": "black",
        "title": "Example City list of seriously dishonest subjects",
        "kind": "black",
        "public": True,
        "persons": 1,
        "organisations": 1,
        "subjects": 2,
    }
    assert (lists["red"]["kind"], lists["red"]["subjects"]) == ("red", 0)
    # Three years on, the company's entries have ended (the revoked licence's on
    # 2029-04-01, the judgment's on 2029-04-10) while the debtor's (fraud, until
    # 2029-05-01) is still in force. Nothing was rescored: the entries are all still in
    # the current state, and only those in force count.
    set_day(reg, "2029-04-11")
    lists = {entry["name"]: entry for entry in figures(reg, months=1)["lists"]}
    assert (lists["black"]["persons"], lists["black"]["organisations"]) == (1, 0)


def test_records_by_domain_per_month(reg: Registry) -> None:
    by = figures(reg)["records_by_domain"]
    assert by["months"] == month_range(date(2026, 6, 30), 24)
    assert (by["months"][0], by["months"][-1], len(by["months"])) == ("2024-07", "2026-06", 24)
    counts = {d["domain"]: dict(zip(by["months"], d["counts"], strict=True)) for d in by["domains"]}
    assert list(counts) == [
        "finance",
        "judicial",
        "tax",
        "commerce",
        "transport",
        "food_safety",
        "civic",
    ]
    nonzero = {domain: {m: n for m, n in months.items() if n} for domain, months in counts.items()}
    assert nonzero == {
        # L-1 retracted by review, L-2 retracted by the bank, L-4 counted once, in its
        # corrected month; the utility arrears of 2024-06 are before the window.
        "finance": {"2025-12": 1, "2026-01": 1},
        "judicial": {"2026-03": 1, "2026-04": 1, "2026-05": 1},
        "tax": {},  # 2023: before the window
        "commerce": {"2026-03": 1, "2026-04": 1},
        "transport": {},
        "food_safety": {},
        "civic": {},  # the erased person's record is gone
    }
    assert [d["title"] for d in by["domains"]][0] == "Finance and credit"


def test_expired_records_are_not_counted(reg: Registry) -> None:
    # Over 48 months the tax return of 2023-05 is in the window; its retention (3y) ended
    # on 2026-05-01, and once maintenance wrote the expiry it is no longer counted.
    def tax() -> dict[str, int]:
        by = figures(reg, months=48)["records_by_domain"]
        (row,) = [d for d in by["domains"] if d["domain"] == "tax"]
        return {m: n for m, n in zip(by["months"], row["counts"], strict=True) if n}

    assert tax() == {"2023-05": 1}
    system = Actor(Principal(None, Role.OPERATOR, "test schedule"), "maintain-test")
    report = maintain(reg.engine, reg.audit, system, now=reg.clock(), deliver=False)
    assert report.expired >= 1
    assert tax() == {}


def test_cases(reg: Registry) -> None:
    cases = figures(reg)["cases"]
    assert cases["open"] == 3
    assert cases["overdue"] == 1
    assert cases["by_outcome"] == {
        "upheld": 0,
        "corrected": 0,
        "retracted": 1,
        "approved": 0,
        "refused": 0,
    }
    assert cases["by_kind"] == {"objection": 3, "repair": 1}
    assert cases["review_days"] == [2.0]
    assert cases["median_review_days"] == 2.0


def test_providers(reg: Registry) -> None:
    providers = {p["provider"]: p for p in figures(reg)["providers"]}
    assert list(providers)[:3] == ["intermediate_court", "tax_bureau", "city_commercial_bank"]
    court = providers["intermediate_court"]
    assert court["title"] == "Example City Intermediate People's Court"
    assert (court["live_records"], court["received_last_30_days"]) == (3, 1)
    assert court["objections"] == {
        "received": 1,
        "open": 1,
        "upheld": 0,
        "corrected": 0,
        "retracted": 0,
        "median_review_hours": None,
    }
    bank = providers["city_commercial_bank"]
    # L-1 and L-2 retracted; L-3 and L-4 live. L-4's correction is not a new record.
    assert (bank["live_records"], bank["received_last_30_days"]) == (2, 0)
    assert bank["objections"]["retracted"] == 1
    assert bank["objections"]["median_review_hours"] == pytest.approx(48.0, abs=0.01)
    assert providers["market_regulator"]["live_records"] == 2
    assert providers["civic_affairs_office"]["live_records"] == 0  # erased
    assert providers["blood_centre"] == {
        "provider": "blood_centre",
        "title": "Example City Blood Centre",
        "live_records": 0,
        "received_last_30_days": 0,
        "objections": {
            "received": 0,
            "open": 0,
            "upheld": 0,
            "corrected": 0,
            "retracted": 0,
            "median_review_hours": None,
        },
    }


def test_ingest_shows_the_latest_batches_first(reg: Registry) -> None:
    ingest = figures(reg)["ingest"]
    assert len(ingest) == 9
    first, second = ingest[0], ingest[1]
    assert first["provider"] == "intermediate_court"
    assert first["title"] == "Example City Intermediate People's Court"
    assert first["idempotency_key"] == "intermediate_court-2026-06-10-J-3"
    assert first["received_at"].startswith("2026-06-10T04:00")
    assert (first["rows"], first["stored"], first["created"]) == (1, 1, 1)
    assert second["idempotency_key"] == "city_commercial_bank-2026-06-10-L-4"
    assert (second["stored"], second["corrected"], second["created"]) == (1, 1, 0)
    bank = next(b for b in ingest if b["idempotency_key"] == "city_commercial_bank-2026-05-15-L-1")
    assert (bank["rows"], bank["stored"], bank["batch"]) == (
        4,
        4,
        "api:city_commercial_bank-2026-05-15-L-1",
    )


def test_months_without_records_are_zeros(registry: Engine, now: datetime) -> None:
    empty = Registry(registry, AuditLog(AuditKey.generate()), Clock(now))
    body = figures(empty, months=3)
    assert body["as_of"] is None and body["updated_at"] is None
    assert body["records_by_domain"]["months"] == ["2026-04", "2026-05", "2026-06"]
    assert all(d["counts"] == [0, 0, 0] for d in body["records_by_domain"]["domains"])
    assert all(g["persons"] == g["organisations"] == 0 for g in body["grades"])
    assert body["cases"]["median_review_days"] is None
    assert body["ingest"] == []


def test_the_month_is_the_policys_time_zone(registry: Engine) -> None:
    # 2026-06-30 20:00 UTC is already 1 July in Shanghai.
    late = Registry(
        registry, AuditLog(AuditKey.generate()), Clock(datetime(2026, 6, 30, 20, 0, tzinfo=UTC))
    )
    assert figures(late, months=2)["records_by_domain"]["months"] == ["2026-06", "2026-07"]


def test_month_range_across_years() -> None:
    assert month_range(date(2026, 1, 31), 3) == ["2025-11", "2025-12", "2026-01"]
    assert month_range(date(2026, 12, 1), 1) == ["2026-12"]
    assert len(month_range(date(2026, 6, 30), 120)) == 120


@pytest.mark.parametrize(
    "actor",
    [
        who(Role.REVIEWER),
        who(Role.PROVIDER, provider="intermediate_court"),
        who(Role.RELYING_PARTY, measures=("restrict_air_travel",)),
        who(Role.SUBJECT, subject_id=1),
        Actor(ANONYMOUS, "req-public"),
    ],
    ids=lambda a: a.role.value,
)
def test_only_operators(registry: Engine, now: datetime, actor: Actor) -> None:
    reg = Registry(registry, AuditLog(AuditKey.generate()), Clock(now))
    with pytest.raises(Forbidden):
        reg.dashboard.figures(actor)
    with registry.connect() as conn:
        assert list(audit_store.iter_events(conn)) == []


@pytest.mark.parametrize("months", [0, -1, 121])
def test_months_are_bounded(registry: Engine, now: datetime, months: int) -> None:
    reg = Registry(registry, AuditLog(AuditKey.generate()), Clock(now))
    with pytest.raises(FieldError) as caught:
        reg.dashboard.figures(OPERATOR, months=months)
    assert caught.value.field == "months"


def test_one_audit_event_about_no_subject(registry: Engine, now: datetime) -> None:
    reg = Registry(registry, AuditLog(AuditKey.generate()), Clock(now))
    figures(reg, months=6)
    with registry.connect() as conn:
        (event,) = list(audit_store.iter_events(conn))
    assert (event.action, event.subject_id, event.role) == ("dashboard.read", None, "operator")
    assert event.purpose == "registry_administration"
    assert json.loads(event.detail) == {"months": 6}
