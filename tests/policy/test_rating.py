"""A record type's ``rating``: how the loader takes it and refuses it, and the ratings on an
organisation's public page (``Registry.public_organisation``), on SQLite and PostgreSQL.

Fixture strategy: the example policy's text, changed a line at a time for the loader; for
the public page, one organisation's food inspections sent through ``submit_records`` with
the clock set to the day each provider sent them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.conftest import EXAMPLE_POLICY
from trustledger.audit import AuditKey
from trustledger.domain.principal import ANONYMOUS, Actor, Principal, Role
from trustledger.errors import PolicyError
from trustledger.identifiers import make_uscc
from trustledger.policy.lint import lint_policy
from trustledger.policy.load import load_policy, parse_policy
from trustledger.policy.schema import RATINGS
from trustledger.service.audit import AuditLog
from trustledger.service.maintain import maintain
from trustledger.service.policies import install_policy
from trustledger.service.registry import Registry

TEXT = EXAMPLE_POLICY.read_text(encoding="utf-8")
FILE = "city.toml"
SHOP = make_uscc("9", "1", "440300", "MA5FXX1K")
PUBLIC = Actor(ANONYMOUS, "req-public")
SYSTEM = Actor(Principal(None, Role.OPERATOR, "test schedule"), "maintain-test")


def line_no(text: str, needle: str, after: str = "") -> int:
    start = text.index(after) if after else 0
    return text[: text.index(needle, start)].count("\n") + 1


def problems(text: str) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text, filename=FILE)
    return [str(p) for p in caught.value.problems]


# -- the policy file ---------------------------------------------------------------------


def test_the_example_policy_rates_its_food_inspections() -> None:
    loaded = load_policy(EXAMPLE_POLICY)
    types = loaded.policy.record_types
    assert types["food_inspection_excellent"].rating == "excellent"
    assert types["food_inspection_fail"].rating == "poor"
    assert types["food_safety_major_incident"].rating is None
    rated = {name for name, rt in types.items() if rt.rating is not None}
    assert rated == {"food_inspection_excellent", "food_inspection_fail"}
    assert lint_policy(loaded) == []


def test_the_ratings_best_first() -> None:
    assert RATINGS == ("excellent", "good", "fair", "poor")


@pytest.mark.parametrize("public", ["", "public = false\n"])
def test_a_rating_needs_a_public_record_type(public: str) -> None:
    # tax_filing_late is not public; give it a rating (and, the second time, say so).
    needle = 'legal_basis = "Tax Collection and Administration Law of the PRC, arts. 25 and 62"\n'
    text = TEXT.replace(needle, needle + public + 'rating = "fair"\n')
    assert text != TEXT
    line = line_no(text, 'rating = "fair"')
    assert problems(text) == [
        f"{FILE}:{line}: record_types.tax_filing_late.rating: a rating is shown on the public "
        "register: only a record type with public = true may have one"
    ]


def test_an_unknown_rating_is_refused_with_the_choices() -> None:
    text = TEXT.replace('rating = "poor"', 'rating = "bad"')
    line = line_no(text, 'rating = "bad"')
    assert problems(text) == [
        f"{FILE}:{line}: record_types.food_inspection_fail.rating: expected 'excellent', "
        "'good', 'fair' or 'poor', got 'bad'"
    ]


def test_a_rating_is_text() -> None:
    text = TEXT.replace('rating = "poor"', "rating = 2")
    line = line_no(text, "rating = 2")
    (problem,) = problems(text)
    assert problem.startswith(f"{FILE}:{line}: record_types.food_inspection_fail.rating: ")


def test_a_rating_changes_the_policy_version() -> None:
    without = TEXT.replace('rating = "excellent"\n', "")
    assert parse_policy(without, filename=FILE).sha256 != load_policy(EXAMPLE_POLICY).sha256
    assert (
        parse_policy(without, filename=FILE).policy.record_types["food_inspection_excellent"].rating
        is None
    )


# -- the organisation's public page ------------------------------------------------------


class Clock:
    """A settable clock that moves a millisecond each time it is read."""

    def __init__(self, start: datetime) -> None:
        self.t = start

    def __call__(self) -> datetime:
        self.t += timedelta(milliseconds=1)
        return self.t


def inspection(reference: str, record_type: str, valid_from: str, **extra: str) -> dict[str, Any]:
    return {
        "reference": reference,
        "record_type": record_type,
        "valid_from": valid_from,
        "subject_id_kind": "uscc",
        "subject_id": SHOP,
        "subject_name": "Good Noodles Ltd.",
        **extra,
    }


def at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(hour=4, tzinfo=UTC)  # noon in Shanghai


def send(reg: Registry, provider: str, day: str, rows: list[dict[str, Any]]) -> None:
    assert isinstance(reg.clock, Clock)
    reg.clock.t = at(day)
    actor = Actor(Principal(f"key-{provider}", Role.PROVIDER, provider=provider), "req")
    reg.submit_records(actor, f"{provider}-{day}-{rows[0]['reference']}", rows)


@pytest.fixture
def reg(registry: Engine, now: datetime) -> Registry:
    return Registry(registry, AuditLog(AuditKey.generate()), Clock(now))


def ratings(reg: Registry, day: str) -> list[dict[str, Any]]:
    assert isinstance(reg.clock, Clock)
    reg.clock.t = at(day)
    body = reg.public_organisation(PUBLIC, SHOP)
    return list(body["ratings"])


FOOD = "Example City Food Safety Inspectorate"


def test_the_latest_inspection_is_shown_whether_or_not_it_counts(reg: Registry) -> None:
    send(
        reg,
        "food_inspectorate",
        "2022-12-05",
        [inspection("I-1", "food_inspection_fail", "2022-12-01")],
    )
    send(
        reg,
        "food_inspectorate",
        "2023-03-02",
        [inspection("I-2", "food_inspection_excellent", "2023-03-01")],
    )
    # A major incident is public but not an inspection: it has no rating.
    send(
        reg,
        "food_inspectorate",
        "2023-04-02",
        [inspection("I-3", "food_safety_major_incident", "2023-04-01")],
    )
    assert ratings(reg, "2024-01-01") == [
        {
            "domain": "food_safety",
            "domain_title": "Food safety",
            "rating": "excellent",
            "record_type": "food_inspection_excellent",
            "title": "Food safety inspection: excellent",
            "inspected_on": "2023-03-01",
            "provider": FOOD,
            "disputed": False,
        }
    ]
    # 2024-03-01: the excellent inspection stops counting (counts_for 1y) but stays in the
    # file (retention 3y): the door sign still shows it.
    page = reg.public_organisation(PUBLIC, SHOP)
    assert {r["record_type"] for r in page["records"]} == {
        "food_inspection_fail",
        "food_inspection_excellent",
        "food_safety_major_incident",
    }
    assert [r["rating"] for r in ratings(reg, "2024-06-01")] == ["excellent"]
    assert "food_inspection_excellent" not in [
        r["record_type"] for r in reg.public_organisation(PUBLIC, SHOP)["records"]
    ]
    # 2026-03-01: the excellent inspection leaves the file; the failed one of 2022, which
    # stopped counting on 2025-12-01 but is kept five years, is the latest still there.
    (poor,) = ratings(reg, "2026-03-02")
    assert (poor["rating"], poor["inspected_on"]) == ("poor", "2022-12-01")
    # Once maintenance has written the expiry, the answer is the same.
    report = maintain(reg.engine, reg.audit, SYSTEM, now=at("2026-03-02"), deliver=False)
    assert report.expired == 1 and not report.skipped
    (poor,) = ratings(reg, "2026-03-03")
    assert poor["rating"] == "poor"


def test_a_retracted_inspection_is_not_shown(reg: Registry) -> None:
    send(
        reg,
        "food_inspectorate",
        "2026-01-02",
        [inspection("I-1", "food_inspection_fail", "2026-01-01")],
    )
    send(
        reg,
        "food_inspectorate",
        "2026-03-02",
        [inspection("I-2", "food_inspection_excellent", "2026-03-01")],
    )
    assert [r["rating"] for r in ratings(reg, "2026-04-01")] == ["excellent"]
    send(reg, "food_inspectorate", "2026-04-02", [{"reference": "I-2", "action": "retract"}])
    assert [r["rating"] for r in ratings(reg, "2026-04-03")] == ["poor"]


def test_two_inspections_on_one_day_the_later_record_wins(reg: Registry) -> None:
    send(
        reg,
        "food_inspectorate",
        "2026-05-02",
        [
            inspection("I-1", "food_inspection_excellent", "2026-05-01"),
            inspection("I-2", "food_inspection_fail", "2026-05-01"),
        ],
    )
    assert [r["rating"] for r in ratings(reg, "2026-05-03")] == ["poor"]


def test_no_rated_record_no_ratings(reg: Registry) -> None:
    send(
        reg,
        "market_regulator",
        "2026-05-02",
        [inspection("R-1", "annual_report_filed", "2026-05-01")],
    )
    assert ratings(reg, "2026-05-03") == []


def test_one_rating_per_domain_in_the_policys_order(
    engine: Engine, now: datetime, tmp_path: Path
) -> None:
    # A variant of the example policy where the tax bureau's A grade is public and rated.
    needle = 'chapter 4"\n'
    assert TEXT.count(needle) == 1
    variant = tmp_path / "variant.toml"
    variant.write_text(TEXT.replace(needle, needle + 'public = true\nrating = "good"\n'))
    install_policy(engine, variant, now=now)
    reg = Registry(engine, AuditLog(AuditKey.generate()), Clock(now))
    send(
        reg,
        "food_inspectorate",
        "2026-02-02",
        [inspection("I-1", "food_inspection_excellent", "2026-02-01")],
    )
    send(reg, "tax_bureau", "2026-04-02", [inspection("T-1", "tax_grade_a_taxpayer", "2026-04-01")])
    found = ratings(reg, "2026-05-01")
    # Tax comes before food safety in the policy's domains.
    assert [(r["domain"], r["rating"], r["provider"]) for r in found] == [
        ("tax", "good", "Example City Tax Bureau"),
        ("food_safety", "excellent", FOOD),
    ]
