"""The public register's search (``Registry.public_search``) on SQLite and PostgreSQL:
organisations by part of a name or by their credit code, never persons, never erased
subjects, LIKE wildcards taken literally, and an audit event without the search text.

Fixture strategy: the example policy, a handful of organisations and one person sent
through ``submit_records`` as a provider would, and a score run for the current state.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from trustledger.audit import AuditKey
from trustledger.domain.principal import ANONYMOUS, Actor, Principal, Role
from trustledger.errors import FieldError
from trustledger.identifiers import make_ric, make_uscc
from trustledger.service.audit import AuditLog
from trustledger.service.registry import Registry
from trustledger.service.scoring import score_all
from trustledger.store import audit as audit_store

NOODLES = make_uscc("9", "1", "440300", "MA5FXX1K")  # Good Noodles Ltd.
CANTEEN = make_uscc("9", "1", "440300", "MA5FXX3M")  # 好味道餐饮有限公司
BAD_CO = make_uscc("9", "1", "110105", "MA5FXX2L")  # Bad Trading Co.: black list
ZETA = make_uscc("9", "1", "310101", "MA5FXX4N")  # Zeta Foods; a rival's name holds its code
PURE = make_uscc("9", "1", "310101", "MA5FXX5P")  # 100% Pure_Juice Co.
PUREX = make_uscc("9", "1", "310101", "MA5FXX6Q")  # 100 PureXJuice Co.
ERASED = make_uscc("9", "1", "440300", "MA5FXX7R")  # Good Old Erased Co.
FAN = make_ric("440305", date(1985, 4, 12), 123)  # a person called "Good Noodles Fan"


class Clock:
    """Starts at ``start`` and moves a millisecond each time it is read."""

    def __init__(self, start: datetime) -> None:
        self.t = start

    def __call__(self) -> datetime:
        self.t += timedelta(milliseconds=1)
        return self.t


def principal(role: Role, **scope: Any) -> Actor:
    return Actor(Principal(f"key-{role.value}", role, **scope), f"req-{role.value}")


PUBLIC = Actor(ANONYMOUS, "req-public")
OPERATOR = principal(Role.OPERATOR)


def org(reference: str, code: str, name: str, record_type: str, valid_from: str) -> dict[str, Any]:
    return {
        "reference": reference,
        "record_type": record_type,
        "valid_from": valid_from,
        "subject_id_kind": "uscc",
        "subject_id": code,
        "subject_name": name,
    }


def submit(reg: Registry, provider: str, rows: list[dict[str, Any]], key: str) -> None:
    report, replayed = reg.submit_records(principal(Role.PROVIDER, provider=provider), key, rows)
    assert not replayed and report["created"] == len(rows)


@pytest.fixture
def reg(registry: Engine, now: datetime) -> Registry:
    """The example policy and the organisations above, scored (all but Zeta Foods, which
    arrives after the run), and Good Old Erased Co. erased."""
    r = Registry(registry, AuditLog(AuditKey.generate()), Clock(now))
    submit(
        r,
        "market_regulator",
        [
            org("R-1", NOODLES, "Good Noodles Ltd.", "annual_report_filed", "2026-03-01"),
            org("R-2", CANTEEN, "好味道餐饮有限公司", "annual_report_filed", "2026-03-02"),
            org("R-3", BAD_CO, "Bad Trading Co.", "business_licence_revoked", "2023-07-10"),
            org("R-4", PURE, "100% Pure_Juice Co.", "annual_report_filed", "2026-03-03"),
            org("R-5", PUREX, "100 PureXJuice Co.", "annual_report_filed", "2026-03-04"),
            org("R-6", ERASED, "Good Old Erased Co.", "annual_report_filed", "2026-03-05"),
            org(
                "R-7",
                make_uscc("9", "1", "440300", "MA5FXX8T"),
                f"Agency for {ZETA}",
                "annual_report_filed",
                "2026-03-06",
            ),
        ],
        "seed-regulator",
    )
    submit(
        r,
        "city_rail_transit",
        [
            {
                "reference": "F-1",
                "record_type": "fare_evasion",
                "valid_from": "2026-05-02",
                "subject_id_kind": "cn_ric",
                "subject_id": FAN,
                "subject_name": "Good Noodles Fan",
            }
        ],
        "seed-rail",
    )
    at = r.clock()
    score_all(registry, as_of=now.date(), known_at=at, now=at, current=True)
    submit(
        r,
        "market_regulator",
        [org("R-8", ZETA, "Zeta Foods", "annual_report_filed", "2026-03-07")],
        "seed-zeta",
    )
    r.rights.erase(OPERATOR, ERASED, "Personal Information Protection Law, art. 47")
    return r


def search(reg: Registry, q: str, *, page: int = 1, per_page: int = 20) -> dict[str, Any]:
    return reg.public_search(PUBLIC, q, page=page, per_page=per_page)


def names(body: dict[str, Any]) -> list[str]:
    return [r["name"] for r in body["results"]]


def test_part_of_a_chinese_name(reg: Registry) -> None:
    body = search(reg, "  餐饮 ")
    assert body["q"] == "餐饮" and body["total"] == 1
    (hit,) = body["results"]
    assert hit == {
        "name": "好味道餐饮有限公司",
        "uscc": CANTEEN,
        "grade": "A",
        "grade_meaning": "Good: the ordinary grade of someone with no serious record.",
        "public_lists": [],
    }


def test_latin_names_any_case_and_never_persons_or_erased(reg: Registry) -> None:
    # "Good Noodles Fan" is a person and "Good Old Erased Co." was erased.
    assert names(search(reg, "good")) == ["Good Noodles Ltd."]
    assert names(search(reg, "NOODLES LTD")) == ["Good Noodles Ltd."]
    assert search(reg, "Good Noodles Fan")["total"] == 0
    assert search(reg, "Erased")["total"] == 0
    assert search(reg, ERASED)["total"] == 0


def test_a_whole_code_however_typed_comes_first(reg: Registry) -> None:
    # The agency's name contains the code, so it matches by name; the exact code first.
    body = search(reg, ZETA.lower())
    assert names(body) == ["Zeta Foods", f"Agency for {ZETA}"]
    zeta = body["results"][0]
    assert zeta["uscc"] == ZETA
    assert zeta["grade"] is None and zeta["grade_meaning"] is None  # not scored yet
    # Grouped with hyphens and spaces, the code is still the code (not the agency's name).
    assert names(search(reg, f" {ZETA[:8]}-{ZETA[8:12]} {ZETA[12:]} ")) == ["Zeta Foods"]
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in NOODLES)  # ９１４４…
    assert names(search(reg, full_width)) == ["Good Noodles Ltd."]


def test_a_code_prefix_of_six_characters_or_more(reg: Registry) -> None:
    # 914403...: the division 440300, shared by Good Noodles, the canteen and the agency
    # (and the erased company, which is not shown).
    assert names(search(reg, "914403")) == [
        f"Agency for {ZETA}",
        "Good Noodles Ltd.",
        "好味道餐饮有限公司",
    ]
    assert names(search(reg, "9144030")) == names(search(reg, "914403"))
    # Five characters are not a code: nobody's name contains "91440".
    assert search(reg, "91440")["total"] == 0
    assert names(search(reg, NOODLES[:15])) == ["Good Noodles Ltd."]


def test_like_wildcards_are_taken_literally(reg: Registry) -> None:
    assert names(search(reg, "100%")) == ["100% Pure_Juice Co."]
    assert names(search(reg, "%")) == ["100% Pure_Juice Co."]
    assert names(search(reg, "e_J")) == ["100% Pure_Juice Co."]
    assert names(search(reg, "_")) == ["100% Pure_Juice Co."]
    assert search(reg, "\\")["total"] == 0
    assert names(search(reg, "100")) == ["100 PureXJuice Co.", "100% Pure_Juice Co."]


def test_public_lists_are_those_in_force_today(reg: Registry, now: datetime) -> None:
    (hit,) = search(reg, "bad trading")["results"]
    assert hit["public_lists"] == ["black"]
    assert hit["grade"] == "B"
    # The licence was revoked on 2023-07-10: the entry ends on 2026-07-10. Without a new
    # score run, the entry is still in the current state, but no longer in force.
    assert isinstance(reg.clock, Clock)
    reg.clock.t = datetime(2026, 7, 11, 12, 0, tzinfo=now.tzinfo)
    (hit,) = search(reg, "bad trading")["results"]
    assert hit["public_lists"] == []


def test_pages(reg: Registry) -> None:
    first = search(reg, "co", per_page=2)
    second = search(reg, "co", page=2, per_page=2)
    assert first["total"] == second["total"] == 3
    assert names(first) == ["100 PureXJuice Co.", "100% Pure_Juice Co."]
    assert names(second) == ["Bad Trading Co."]
    assert (second["page"], second["per_page"]) == (2, 2)
    assert search(reg, "co", page=3, per_page=2)["results"] == []


@pytest.mark.parametrize(
    ("q", "page", "per_page", "field"),
    [
        ("", 1, 20, "q"),
        ("   ", 1, 20, "q"),
        ("x" * 101, 1, 20, "q"),
        ("good\x00", 1, 20, "q"),
        ("good\x07noodles", 1, 20, "q"),
        ("good", 0, 20, "page"),
        ("good", 1, 0, "per_page"),
        ("good", 1, 101, "per_page"),
    ],
)
def test_refused_searches(reg: Registry, q: str, page: int, per_page: int, field: str) -> None:
    with pytest.raises(FieldError) as caught:
        search(reg, q, page=page, per_page=per_page)
    assert caught.value.field == field


def test_a_hundred_characters_are_enough(reg: Registry) -> None:
    assert search(reg, "y" * 100)["total"] == 0


def test_the_audit_event_keeps_no_search_text(reg: Registry) -> None:
    with reg.engine.connect() as conn:
        before = len(list(audit_store.iter_events(conn)))
    search(reg, "  好味道 ", page=1, per_page=5)
    with reg.engine.connect() as conn:
        events = list(audit_store.iter_events(conn))[before:]
    (event,) = events
    assert event.action == "public.search"
    assert event.subject_id is None
    assert event.purpose == "public_register"
    assert json.loads(event.detail) == {"q_length": 3, "page": 1, "results": 1}
    assert "好味道" not in event.detail
