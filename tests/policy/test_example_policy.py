"""The example policy: it loads, lints clean, and keeps the catalogue's names.

Fixture strategy: the real file, loaded once per module. The catalogue below is the
contract with the synthetic data generator (``src/trustledger/synth``): record types,
points, subjects and providers must not drift from it.
"""

from __future__ import annotations

import tomllib
from decimal import Decimal
from pathlib import Path

import pytest

from trustledger.domain.duration import Duration
from trustledger.domain.subject import SubjectKind
from trustledger.policy.lint import lint_policy
from trustledger.policy.load import LoadedPolicy, load_policy
from trustledger.policy.schema import IdentifierType

EXAMPLE = Path(__file__).resolve().parents[2] / "policies" / "example-city.toml"

BOTH = {SubjectKind.PERSON, SubjectKind.ORGANISATION}
PERSON = {SubjectKind.PERSON}
ORG = {SubjectKind.ORGANISATION}

# record type -> (domain, points, applies_to)
CATALOGUE: dict[str, tuple[str, int, set[SubjectKind]]] = {
    "loan_overdue_30d": ("finance", -20, BOTH),
    "loan_default_90d": ("finance", -80, BOTH),
    "credit_card_overdue": ("finance", -10, PERSON),
    "utility_arrears": ("finance", -10, BOTH),
    "loan_repaid_on_time": ("finance", 10, BOTH),
    "court_judgment_unfulfilled": ("judicial", -150, BOTH),
    "court_judgment_fulfilled_late": ("judicial", -30, BOTH),
    "fraud_conviction": ("judicial", -200, BOTH),
    "tax_arrears": ("tax", -100, BOTH),
    "tax_filing_late": ("tax", -15, BOTH),
    "tax_evasion_confirmed": ("tax", -250, BOTH),
    "tax_grade_a_taxpayer": ("tax", 30, ORG),
    "false_advertising_penalty": ("commerce", -60, ORG),
    "product_quality_violation": ("commerce", -80, ORG),
    "business_licence_revoked": ("commerce", -200, ORG),
    "abnormal_operations_listing": ("commerce", -40, ORG),
    "wage_arrears": ("commerce", -120, ORG),
    "annual_report_filed": ("commerce", 5, ORG),
    "fare_evasion": ("transport", -5, PERSON),
    "train_seat_occupation": ("transport", -10, PERSON),
    "traffic_violation_serious": ("transport", -20, PERSON),
    "food_inspection_excellent": ("food_safety", 20, ORG),
    "food_inspection_fail": ("food_safety", -60, ORG),
    "food_safety_major_incident": ("food_safety", -300, ORG),
    "volunteer_service": ("civic", 5, PERSON),
    "blood_donation": ("civic", 15, PERSON),
    "civic_award": ("civic", 50, BOTH),
    "charitable_donation": ("civic", 10, BOTH),
}

PROVIDERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "intermediate_court": (
        "court",
        ("court_judgment_unfulfilled", "court_judgment_fulfilled_late", "fraud_conviction"),
    ),
    "tax_bureau": (
        "tax_office",
        ("tax_arrears", "tax_filing_late", "tax_evasion_confirmed", "tax_grade_a_taxpayer"),
    ),
    "city_commercial_bank": (
        "bank",
        ("loan_overdue_30d", "loan_default_90d", "credit_card_overdue", "loan_repaid_on_time"),
    ),
    "water_power_utility": ("utility", ("utility_arrears",)),
    "city_rail_transit": ("transit_operator", ("fare_evasion", "train_seat_occupation")),
    "traffic_police": ("police", ("traffic_violation_serious",)),
    "market_regulator": (
        "regulator",
        (
            "false_advertising_penalty",
            "product_quality_violation",
            "business_licence_revoked",
            "abnormal_operations_listing",
            "annual_report_filed",
        ),
    ),
    "labour_inspectorate": ("inspector", ("wage_arrears",)),
    "food_inspectorate": (
        "inspector",
        ("food_inspection_excellent", "food_inspection_fail", "food_safety_major_incident"),
    ),
    "civic_affairs_office": ("agency", ("volunteer_service", "civic_award", "charitable_donation")),
    "blood_centre": ("agency", ("blood_donation",)),
}

CAPS = {
    "finance": (-400, 40),
    "judicial": (-500, 0),
    "tax": (-400, 40),
    "commerce": (-400, 20),
    "transport": (-60, 0),
    "food_safety": (-400, 40),
    "civic": (0, 80),
}


@pytest.fixture(scope="module")
def loaded() -> LoadedPolicy:
    return load_policy(EXAMPLE)


def test_lints_clean(loaded: LoadedPolicy) -> None:
    assert [str(p) for p in lint_policy(loaded)] == []


def test_header_and_grades(loaded: LoadedPolicy) -> None:
    policy = loaded.policy
    assert policy.policy.base_score == 1000
    assert [(g.grade, g.min_score) for g in policy.grades] == [
        ("AAA", 1050),
        ("AA", 1030),
        ("A", 960),
        ("B", 850),
        ("C", 600),
        ("D", None),
    ]
    assert all(g.meaning for g in policy.grades)


def test_domains_and_caps(loaded: LoadedPolicy) -> None:
    caps = {n: (d.cap_negative, d.cap_positive) for n, d in loaded.policy.domains.items()}
    assert caps == CAPS


def test_record_types_follow_the_catalogue(loaded: LoadedPolicy) -> None:
    types = loaded.policy.record_types
    assert len(types) >= 25
    assert {rt.domain for rt in types.values()} == set(CAPS)
    actual = {n: (rt.domain, int(rt.points), set(rt.applies_to)) for n, rt in types.items()}
    assert actual == CATALOGUE


def test_record_types_are_explained(loaded: LoadedPolicy) -> None:
    five_years = Duration.parse("5y")
    for name, rt in loaded.policy.record_types.items():
        assert rt.legal_basis.strip() and rt.title and rt.description, name
        assert rt.points == rt.points.quantize(Decimal(1)), name
        assert rt.kept_for >= rt.counts_for
        if rt.points <= -80 and rt.decay.kind != "none":
            # serious negatives: half-life of 1-2 years, counting for 5 years
            assert rt.decay.kind == "half_life", name
            assert rt.decay.period in (Duration.parse("1y"), Duration.parse("2y")), name
            assert rt.counts_for == five_years, name
        elif rt.points > 0:
            # positives fade linearly over the whole time they count
            assert rt.decay.kind == "linear" and rt.decay.period == rt.counts_for, name
        else:
            assert Duration.parse("1y") <= rt.counts_for <= five_years, name
        if rt.disputed_counts:
            assert rt.domain == "judicial", name
        if rt.repair_after is not None:
            assert rt.points < 0, name


def test_only_food_safety_inspections_are_public(loaded: LoadedPolicy) -> None:
    public = {n for n, rt in loaded.policy.record_types.items() if rt.public}
    assert public == {
        "food_inspection_excellent",
        "food_inspection_fail",
        "food_safety_major_incident",
    }


def test_lists_follow_the_catalogue(loaded: LoadedPolicy) -> None:
    lists = loaded.policy.lists
    assert set(lists) == {"black", "red"}
    black, red = lists["black"], lists["red"]
    assert (black.kind, black.public, red.kind, red.public) == ("black", True, "red", True)
    rules = {r.id: r for r in black.rules}
    assert rules["dishonest_debtor"].record_types == ("court_judgment_unfulfilled",)
    assert rules["dishonest_debtor"].duration == Duration.parse("3y")
    assert set(rules["serious_violation"].record_types) == {
        "tax_evasion_confirmed",
        "business_licence_revoked",
        "food_safety_major_incident",
        "fraud_conviction",
    }
    assert rules["serious_violation"].duration == Duration.parse("3y")
    assert rules["low_score"].score_below == 600
    assert rules["low_score"].duration == Duration.parse("1y")
    (high,) = red.rules
    assert (high.id, high.score_at_least, high.no_negative_within) == (
        "high_score",
        1050,
        Duration.parse("2y"),
    )


def test_measures(loaded: LoadedPolicy) -> None:
    measures = loaded.policy.measures
    assert len(measures) >= 8
    assert {m.kind for m in measures.values()} == {"sanction", "incentive"}
    for name, m in measures.items():
        assert m.legal_basis.strip() and all(b.strip() for b in m.affected_by.values()), name
        assert "civic" not in m.affected_by or m.kind == "incentive", name
    expected = {
        "restrict_air_travel": {"judicial"},
        "restrict_high_speed_rail_first_class": {"judicial"},
        "government_procurement_ban": {"judicial", "tax", "commerce"},
        "loan_rate_review": {"finance"},
        "bike_rental_deposit_waiver": {"finance", "transport"},
        "food_business_licence_restriction": {"food_safety"},
        "library_deposit_waiver": {"finance"},
        "fast_track_business_approval": {"commerce", "tax"},
        "tax_green_channel": {"tax"},
    }
    assert {n: set(measures[n].affected_by) for n in expected} == expected
    assert measures["loan_rate_review"].effect == "allow_with_conditions"
    assert measures["bike_rental_deposit_waiver"].kind == "incentive"


def test_purposes_and_providers(loaded: LoadedPolicy) -> None:
    policy = loaded.policy
    assert set(policy.purposes) == {
        "credit_assessment",
        "tenancy_screening",
        "ticket_sale",
        "public_procurement",
        "licensing",
        "benefit_administration",
    }
    assert all(text.strip().endswith(".") for text in policy.purposes.values())
    providers = {n: (p.kind, p.grants) for n, p in policy.providers.items()}
    assert providers == PROVIDERS
    granted = [g for p in policy.providers.values() for g in p.grants]
    assert sorted(granted) == sorted(policy.record_types)  # each type has one provider


def test_commented_passport_identifier_is_valid(loaded: LoadedPolicy) -> None:
    lines = loaded.source.splitlines()
    start = lines.index("# [identifier_types.passport]")
    block = "\n".join(line.removeprefix("# ") for line in lines[start : start + 4])
    data = tomllib.loads(block)["identifier_types"]["passport"]
    passport = IdentifierType.model_validate(data)
    assert passport.subject_kind is SubjectKind.PERSON
    assert loaded.policy.identifier_types == {}


def test_the_file_explains_itself(loaded: LoadedPolicy) -> None:
    comments = [line for line in loaded.source.splitlines() if line.lstrip().startswith("#")]
    assert len(comments) > 100
