"""Unit tests of the policy evaluator, one rule at a time.

Fixtures: the small default policy of ``tests/factories.py``; a test overrides the one
section it is about. Expected cents are written out, not recomputed with the formula.
"""

from __future__ import annotations

import dataclasses
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest

from tests.factories import make_policy, make_record, policy_document, retracted
from trustledger.domain.duration import Duration
from trustledger.domain.record import RecordVersion
from trustledger.domain.score import (
    Contribution,
    LineKind,
    ListMembership,
    NotCounted,
    ScoreResult,
)
from trustledger.domain.subject import SubjectKind
from trustledger.policy.evaluate import (
    decayed_cents,
    evaluate,
    measure_score,
    round_half_away_from_zero,
)
from trustledger.policy.schema import Policy

AS_OF = date(2026, 9, 12)
PERSON = SubjectKind.PERSON
ORG = SubjectKind.ORGANISATION


def score(
    policy: Policy,
    records: list[RecordVersion],
    as_of: date = AS_OF,
    kind: SubjectKind = PERSON,
) -> ScoreResult:
    return evaluate(
        policy, records, subject_id=1, subject_kind=kind, as_of=as_of, policy_version="t1"
    )


def with_type(name: str = "custom", **fields: Any) -> dict[str, Any]:
    """The default record types plus one more (domain ``judicial``, no cap)."""
    types: dict[str, Any] = policy_document()["record_types"]
    types[name] = {
        "domain": "judicial",
        "title": "Custom",
        "points": "-100",
        "counts_for": "5y",
        "legal_basis": "Test Act",
        **fields,
    }
    return types


def identity_holds(result: ScoreResult) -> bool:
    return result.score_cents == result.base_cents + sum(line.cents for line in result.lines)


# --- contract with domain/score.py ----------------------------------------------------


def test_contribution_field_order():
    # evaluate() builds record lines positionally for speed; this pins the order it uses.
    assert [f.name for f in dataclasses.fields(Contribution)] == [
        "kind",
        "rule",
        "cents",
        "domain",
        "record_id",
        "record_version",
        "record_type",
        "provider",
        "valid_from",
        "full_cents",
        "stops_counting",
        "disputed",
        "dispute_settled",
    ]


def test_record_line_carries_the_record():
    r = make_record(7, "loan_default", date(2026, 3, 12), version=2, disputed=False)
    (line,) = score(make_policy(), [r]).lines
    assert line == Contribution(
        kind=LineKind.RECORD,
        rule="record_types.loan_default",
        cents=-10579,
        domain="finance",
        record_id=7,
        record_version=2,
        record_type="loan_default",
        provider="bank",
        valid_from=date(2026, 3, 12),
        full_cents=-15000,
        stops_counting=date(2031, 3, 12),
        disputed=False,
    )


def test_no_records_scores_the_base():
    result = score(make_policy(), [])
    assert (result.base_cents, result.score_cents, result.grade) == (100000, 100000, "B")
    assert result.lines == () and result.not_counted == ()
    assert (result.subject_id, result.as_of, result.policy_version) == (1, AS_OF, "t1")


# --- what does not count, and why -----------------------------------------------------

CJ = "court_judgment_unfulfilled"


@pytest.mark.parametrize(
    ("record", "kind", "reason"),
    [
        (retracted(make_record(1, CJ, date(2026, 1, 1))), PERSON, "retracted"),
        (make_record(1, "parking_ticket", date(2026, 1, 1)), PERSON, "unknown record type"),
        (make_record(1, "tax_arrears", date(2026, 1, 1)), PERSON, "not applicable"),
        (make_record(1, "volunteer_work", date(2026, 9, 1)), ORG, "not applicable"),
        (make_record(1, CJ, AS_OF + timedelta(days=1)), PERSON, "not yet valid"),
        (make_record(1, CJ, date(2026, 1, 1), valid_to=AS_OF), PERSON, "ended"),
        (make_record(1, CJ, date(2021, 9, 12)), PERSON, "expired"),  # exactly 5 years
        (make_record(1, CJ, date(2026, 1, 1), disputed=True), PERSON, "disputed"),
        # Several reasons: the first in the documented order wins.
        (retracted(make_record(1, "parking_ticket", date(2030, 1, 1))), PERSON, "retracted"),
        (make_record(1, CJ, date(2020, 1, 1), disputed=True), PERSON, "expired"),
        (make_record(1, CJ, date(2020, 1, 1), valid_to=date(2021, 1, 1)), PERSON, "ended"),
    ],
)
def test_not_counted_reason(record, kind, reason):
    result = score(make_policy(), [record], kind=kind)
    assert result.lines == ()
    assert result.not_counted == (NotCounted(1, record.record_type, reason),)
    assert result.score_cents == result.base_cents


@pytest.mark.parametrize(
    "record",
    [
        make_record(1, CJ, AS_OF),  # valid from today
        make_record(1, CJ, date(2021, 9, 13)),  # the last day of its five years
        make_record(1, CJ, date(2026, 1, 1), valid_to=AS_OF + timedelta(days=1)),
        make_record(1, "tax_arrears", date(2026, 1, 1), disputed=True),  # disputed_counts
    ],
)
def test_counts_at_the_edges(record):
    kind = ORG if record.record_type == "tax_arrears" else PERSON
    result = score(make_policy(), [record], kind=kind)
    assert result.not_counted == ()
    (line,) = result.lines
    assert line.record_id == 1 and line.disputed == record.disputed


@pytest.mark.parametrize("overdue", [False, True])
def test_an_objection_after_an_upheld_one_leaves_the_record_counting(overdue):
    # CJ stops counting while disputed; once an objection to this version was upheld, a
    # new one does not set it aside, not even past its deadline.
    disputed = replace(make_record(1, CJ, date(2026, 1, 1), disputed=True), review_overdue=overdue)
    assert [n.reason for n in score(make_policy(), [disputed]).not_counted] == ["disputed"]
    settled = replace(disputed, dispute_settled=True)
    result = score(make_policy(), [settled])
    (line,) = result.lines
    assert result.not_counted == () and line.disputed and line.dispute_settled


def test_not_counted_is_sorted_by_record_id():
    records = [make_record(i, "parking_ticket", date(2026, 1, 1)) for i in (5, 2, 9)]
    assert [n.record_id for n in score(make_policy(), records).not_counted] == [2, 5, 9]


# --- decay ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "expected"),
    [(0.0, 0), (0.49, 0), (0.5, 1), (2.5, 3), (-0.5, -1), (-2.5, -3), (-1414.2, -1414)],
)
def test_round_half_away_from_zero(x, expected):
    assert round_half_away_from_zero(x) == expected


@pytest.mark.parametrize(
    ("decay", "points", "age", "cents"),
    [
        ({"kind": "none"}, "-150", 0, -15000),
        ({"kind": "none"}, "-150", 1000, -15000),
        ({"kind": "half_life", "period": "10d"}, "-20", 0, -2000),
        ({"kind": "half_life", "period": "10d"}, "-20", 5, -1414),  # 2000 / sqrt(2)
        ({"kind": "half_life", "period": "10d"}, "-20", 10, -1000),
        ({"kind": "half_life", "period": "10d"}, "-20", 20, -500),
        ({"kind": "half_life", "period": "10d"}, "20", 30, 250),
        ({"kind": "half_life", "period": "1y"}, "-20", 365, -1000),  # 365.2425 days
        ({"kind": "half_life", "period": "1y"}, "-150", 184, -10579),
        ({"kind": "linear", "period": "10d"}, "-100", 4, -6000),
        ({"kind": "linear", "period": "3d"}, "100", 1, 6667),
        ({"kind": "linear", "period": "2d"}, "-0.01", 1, -1),  # -0.5 cents rounds away
        ({"kind": "linear", "period": "2d"}, "0.01", 1, 1),
        ({"kind": "linear", "period": "10d"}, "-100", 10, 0),  # faded, still counting
        ({"kind": "linear", "period": "10d"}, "-100", 15, 0),
    ],
)
def test_decay_at_known_ages(decay, points, age, cents):
    policy = make_policy(record_types=with_type(points=points, decay=decay, counts_for="5y"))
    as_of = date(2026, 1, 1) + timedelta(days=age)
    result = score(policy, [make_record(1, "custom", date(2026, 1, 1))], as_of=as_of)
    (line,) = result.lines
    assert (line.cents, line.full_cents) == (cents, int(float(points) * 100))
    assert decayed_cents(policy.record_types["custom"], age) == cents
    assert result.score_cents == 100000 + cents


# --- caps, bounds, grades -------------------------------------------------------------


def test_negative_cap_is_one_line():
    records = [make_record(i, "loan_default", AS_OF) for i in (1, 2, 3)]  # -450 at age 0
    result = score(make_policy(), records)
    *recs, cap = result.lines
    assert [line.cents for line in recs] == [-15000] * 3
    assert cap == Contribution(
        kind=LineKind.CAP, rule="domains.finance.cap_negative", cents=5000, domain="finance"
    )
    assert result.score_cents == 60000 and identity_holds(result)
    assert result.domain_totals() == {"finance": -40000}


def test_positive_cap_is_one_line():
    records = [make_record(i, "volunteer_work", AS_OF) for i in (1, 2, 3, 4)]  # +80
    result = score(make_policy(), records)
    caps = [line for line in result.lines if line.kind is LineKind.CAP]
    assert caps == [
        Contribution(
            kind=LineKind.CAP, rule="domains.civic.cap_positive", cents=-3000, domain="civic"
        )
    ]
    assert result.score_cents == 105000 and identity_holds(result)


def test_total_at_the_cap_adds_no_line():
    records = [make_record(i, "volunteer_work", AS_OF) for i in (1, 2)]
    policy = make_policy(
        domains={**policy_document()["domains"], "civic": {"title": "Civic", "cap_positive": "40"}}
    )
    assert all(line.kind is LineKind.RECORD for line in score(policy, records).lines)


def test_min_score_bound_comes_after_caps():
    records = [make_record(i, "loan_default", AS_OF) for i in (1, 2, 3)] + [
        make_record(4, CJ, AS_OF),
        make_record(5, CJ, AS_OF),
    ]
    result = score(make_policy(min_score="300"), records)
    kinds = [line.kind for line in result.lines]
    assert kinds == [LineKind.RECORD] * 5 + [LineKind.CAP, LineKind.BOUND]
    # 1000 - 450 + 50 (cap) - 400 = 200, lifted to 300.
    assert result.lines[-1] == Contribution(
        kind=LineKind.BOUND, rule="policy.min_score", cents=10000
    )
    assert result.score_cents == 30000 and identity_holds(result)


def test_max_score_bound():
    records = [make_record(i, "volunteer_work", AS_OF) for i in (1, 2)]
    result = score(make_policy(max_score="1010"), records)
    assert result.lines[-1] == Contribution(
        kind=LineKind.BOUND, rule="policy.max_score", cents=-3000
    )
    assert result.score_cents == 101000 and identity_holds(result)


def test_bounds_not_reached_add_no_line():
    result = score(make_policy(min_score="500", max_score="1100"), [make_record(1, CJ, AS_OF)])
    assert [line.kind for line in result.lines] == [LineKind.RECORD]


@pytest.mark.parametrize(
    ("base", "grade"),
    [("1050", "A"), ("1049.99", "B"), ("950", "B"), ("949.99", "C"), ("800", "C"),
     ("799.99", "D"), ("0", "D")],
)  # fmt: skip
def test_grades_at_band_edges(base, grade):
    result = score(make_policy(base_score=base), [])
    assert result.grade == grade


def test_lines_are_ordered_by_domain_date_and_id():
    records = [
        make_record(9, "late_payment", date(2026, 5, 1)),
        make_record(3, "volunteer_work", date(2026, 5, 1)),
        make_record(4, "late_payment", date(2026, 4, 1)),
        make_record(2, "late_payment", date(2026, 5, 1)),
        make_record(1, CJ, date(2026, 1, 1)),
    ]
    result = score(make_policy(), records)
    assert [(line.domain, line.record_id) for line in result.lines] == [
        ("civic", 3),
        ("finance", 4),
        ("finance", 2),
        ("finance", 9),
        ("judicial", 1),
    ]


# --- record-type list rules -----------------------------------------------------------


def test_record_type_rule_lists_the_subject():
    result = score(make_policy(), [make_record(4, CJ, date(2026, 3, 12))])
    (entry,) = [m for m in result.lists if m.list == "dishonest_debtors"]
    assert entry == ListMembership(
        list="dishonest_debtors",
        kind="black",
        rule="unfulfilled_judgment",
        since=date(2026, 3, 12),
        until=date(2029, 3, 12),
        reason="court_judgment_unfulfilled of 2026-03-12 (intermediate_court): "
        "on the list for 3 years",
        record_ids=(4,),
        public=True,
    )


def test_record_type_rule_merges_records():
    records = [make_record(8, CJ, date(2026, 3, 12)), make_record(5, CJ, date(2025, 1, 2))]
    (entry,) = [m for m in score(make_policy(), records).lists if m.rule == "unfulfilled_judgment"]
    assert (entry.since, entry.until, entry.record_ids) == (
        date(2025, 1, 2),
        date(2029, 3, 12),
        (5, 8),
    )
    assert entry.reason.count("on the list for 3 years") == 2


def test_record_type_entry_ends_before_the_record_stops_counting():
    records = [make_record(1, CJ, date(2023, 3, 12))]  # counts 5 years, listed 3
    lists = score(make_policy(), records, as_of=date(2026, 3, 11)).lists
    assert [m.list for m in lists] == ["dishonest_debtors"]
    later = score(make_policy(), records, as_of=date(2026, 3, 12))
    assert later.lines and "dishonest_debtors" not in [m.list for m in later.lists]


@pytest.mark.parametrize(
    "record",
    [
        retracted(make_record(1, CJ, date(2026, 3, 12))),
        make_record(1, CJ, date(2026, 3, 12), disputed=True),
        make_record(1, CJ, date(2026, 3, 12), valid_to=date(2026, 6, 1)),
        make_record(1, CJ, date(2026, 10, 1)),
    ],
)
def test_record_type_rule_ignores_records_that_do_not_count(record):
    lists = score(make_policy(), [record]).lists
    assert "dishonest_debtors" not in [m.list for m in lists]


# --- threshold list rules: score_below ------------------------------------------------


def below_policy(threshold: str = "800", duration: str | None = "1y", **types: Any) -> Policy:
    rule: dict[str, Any] = {"id": "low", "score_below": threshold}
    if duration is not None:
        rule["duration"] = duration
    lists = {"watch": {"kind": "black", "title": "Watch", "legal_basis": "Act", "rules": [rule]}}
    if types:
        return make_policy(lists=lists, measures={}, record_types=types)
    return make_policy(lists=lists, measures={})


def test_score_below_member_since_until_recovery():
    records = [make_record(1, CJ, date(2026, 1, 10)), make_record(2, CJ, date(2026, 3, 12))]
    result = score(below_policy(), records)
    assert result.score_cents == 60000
    (entry,) = result.lists
    assert entry == ListMembership(
        list="watch",
        kind="black",
        rule="low",
        since=date(2026, 3, 12),  # the newest negative record's day, below 800 then
        until=date(2031, 1, 10),  # record 1 stops counting: back to 800.00
        reason="score 600.00 is below 800.00; stays on the list for at least 1 year",
        record_ids=(1, 2),
        public=False,
    )


def test_score_below_since_is_the_day_the_unbroken_stretch_began():
    # -200 alone (800) is not below 800; with the second record (650) it is.
    records = [
        make_record(1, CJ, date(2026, 1, 10)),
        make_record(2, "custom", date(2026, 6, 1)),
        make_record(3, "late_payment", date(2026, 9, 1)),  # latest, still below
    ]
    policy = below_policy(duration=None, **with_type(points="-150"))
    (entry,) = score(policy, records).lists
    assert entry.since == date(2026, 6, 1)  # below from the second record on, unbroken
    assert entry.record_ids == (1, 2, 3)  # largest negative first
    only_two = score(policy, records[:2]).lists[0]
    assert only_two.since == date(2026, 6, 1)


def test_score_below_since_falls_back_to_as_of():
    result = score(below_policy(threshold="1100", duration=None), [])
    (entry,) = result.lists
    assert (entry.since, entry.until, entry.record_ids) == (AS_OF, None, ())


def test_score_below_until_is_the_projected_recovery_day():
    # -150 halving every year: below 900 until |points| <= 100, on day 214.
    records = [make_record(1, "loan_default", date(2026, 1, 1))]
    policy = below_policy(threshold="900", duration=None)
    as_of = date(2026, 3, 1)
    (entry,) = score(policy, records, as_of=as_of).lists
    assert entry.until == date(2026, 8, 3)
    assert score(policy, records, as_of=date(2026, 8, 2)).score_cents < 90000
    assert score(policy, records, as_of=date(2026, 8, 3)).score_cents >= 90000
    assert score(policy, records, as_of=date(2026, 8, 3)).lists == ()


def test_score_below_until_is_at_least_the_minimum_stay():
    records = [make_record(1, "late_payment", date(2026, 9, 1))]
    policy = below_policy(threshold="990", duration="1y")
    (entry,) = score(policy, records).lists
    assert entry.since == date(2026, 9, 1)
    assert entry.until == date(2027, 9, 1)  # recovery comes earlier than the stay ends


def test_score_below_never_recovers_within_the_horizon():
    policy = below_policy(threshold="1100", duration="1y")
    (entry,) = score(policy, [make_record(1, CJ, date(2026, 1, 1))]).lists
    assert entry.until is None and entry.since == date(2026, 1, 1)


def test_minimum_stay_outlives_recovery_and_the_record():
    policy = below_policy(**with_type(points="-300", counts_for="6m"))
    records = [make_record(5, "custom", date(2026, 1, 1))]
    during = score(policy, records, as_of=date(2026, 3, 1))
    assert during.score_cents == 70000
    assert (during.lists[0].since, during.lists[0].until) == (date(2026, 1, 1), date(2027, 1, 1))

    after = score(policy, records, as_of=date(2026, 9, 1))  # record expired on 1 July
    assert after.score_cents == 100000 and after.lines == ()
    (entry,) = after.lists
    assert (entry.since, entry.until, entry.record_ids) == (
        date(2026, 1, 1),
        date(2027, 1, 1),
        (5,),
    )
    assert entry.reason == (
        "score fell below 800.00 on 2026-01-01; stays on the list for at least 1 year"
    )
    assert score(policy, records, as_of=date(2027, 1, 1)).lists == ()


def test_no_minimum_stay_without_duration():
    policy = below_policy(duration=None, **with_type(points="-300", counts_for="6m"))
    records = [make_record(5, "custom", date(2026, 1, 1))]
    assert score(policy, records, as_of=date(2026, 9, 1)).lists == ()


def test_minimum_stay_ignores_negatives_that_never_crossed():
    policy = below_policy()
    records = [make_record(1, "late_payment", date(2026, 9, 1))]
    assert score(policy, records).lists == ()


def test_minimum_stay_needs_the_score_strictly_below():
    # The faded record makes the floor 750, but the score never went below 800.00:
    # 950.00 on 1 May, exactly 800.00 from 1 June.
    faded = {"kind": "linear", "period": "10d"}
    policy = below_policy(**with_type(points="-50", decay=faded))
    records = [make_record(1, "custom", date(2026, 5, 1)), make_record(2, CJ, date(2026, 6, 1))]
    result = score(policy, records)
    assert result.score_cents == 80000
    assert result.lists == ()


# --- threshold list rules: score_at_least (red lists) ---------------------------------


def red(result: ScoreResult) -> list[ListMembership]:
    return [m for m in result.lists if m.list == "trustworthy"]


def test_red_list_member_since_the_stretch_began_or_the_first_record():
    records = [
        make_record(1, "volunteer_work", date(2026, 2, 1)),
        make_record(2, "volunteer_work", date(2026, 5, 1)),
    ]
    (entry,) = red(score(make_policy(), records))
    assert entry.kind == "red" and entry.public and entry.until is None
    assert entry.since == date(2026, 2, 1)  # at least 1000 since the first record we hold
    assert entry.record_ids == (2, 1)  # largest contribution first: +12.66, +7.79
    assert entry.reason == (
        "score 1020.45 is at least 1000.00 with no negative record within 2 years"
    )


def test_red_list_without_records_since_as_of():
    (entry,) = red(score(make_policy(), []))
    assert entry.since == AS_OF  # nothing is known before


def test_red_list_refuses_recent_negative_record():
    records = [
        make_record(1, "volunteer_work", date(2026, 5, 1)),
        make_record(2, "late_payment", date(2025, 1, 1)),  # 1000 + 20*... - 6.18 > 1000
    ]
    result = score(make_policy(), records)
    assert result.score_cents >= 100000
    assert red(result) == []


def test_red_list_accepts_negative_record_older_than_window():
    records = [
        make_record(1, "volunteer_work", date(2026, 9, 1)),
        make_record(2, "late_payment", date(2024, 9, 12)),  # exactly 2 years: outside
    ]
    result = score(make_policy(), records)
    assert any(line.record_id == 2 for line in result.lines)  # still counting (3 years)
    (entry,) = red(result)
    assert entry.since == AS_OF  # the negative record left the window today
    with_day_later = [records[0], make_record(2, "late_payment", date(2024, 9, 13))]
    assert red(score(make_policy(), with_day_later)) == []


def test_red_list_needs_the_score():
    assert red(score(make_policy(base_score="999.99"), [])) == []


def test_memberships_are_sorted_by_list_and_rule():
    records = [make_record(1, CJ, date(2026, 1, 1)), make_record(2, CJ, date(2026, 2, 1))]
    assert [(m.list, m.rule) for m in score(make_policy(), records).lists] == [
        ("dishonest_debtors", "unfulfilled_judgment"),
        ("low_score", "below_800"),
    ]


# --- measures -------------------------------------------------------------------------


def test_measure_score_counts_only_its_domains():
    records = [
        make_record(1, "loan_default", AS_OF),
        make_record(2, CJ, AS_OF),
        make_record(3, "volunteer_work", AS_OF),
    ]
    policy = make_policy()
    result = score(policy, records)
    assert result.score_cents == 100000 - 15000 - 20000 + 2000
    assert measure_score(result, policy, "loan_rate") == (85000, "C")
    assert measure_score(result, policy, "fast_lane") == (102000, "B")


def test_measure_score_includes_caps_and_recomputes_bounds():
    records = [make_record(i, "loan_default", AS_OF) for i in (1, 2, 3)] + [
        make_record(4, CJ, AS_OF),
        make_record(5, CJ, AS_OF),
    ]
    policy = make_policy(min_score="700")
    result = score(policy, records)
    assert result.score_cents == 70000  # 200 lifted to 700
    # Finance alone: 1000 - 450 + 50 = 600, lifted to 700 on its own subtotal.
    assert measure_score(result, policy, "loan_rate") == (70000, "D")
    assert measure_score(result, policy, "fast_lane") == (100000, "B")
    with pytest.raises(KeyError):
        measure_score(result, policy, "no_such_measure")


# --- the policy cache -----------------------------------------------------------------


def test_each_policy_object_is_compiled_for_itself():
    records = [make_record(1, CJ, AS_OF)]
    a, b = make_policy(), make_policy(base_score="900")
    assert score(a, records).score_cents == 80000
    assert score(b, records).score_cents == 70000
    assert score(a, records).score_cents == 80000
    for _ in range(20):  # more policies than the cache holds
        score(make_policy(base_score="500"), records)
    assert score(b, records).score_cents == 70000


def test_durations_are_calendar_months():
    # counts_for "5y" from 29 February ends on 28 February five years on.
    record = make_record(1, CJ, date(2024, 2, 29))
    (line,) = score(make_policy(), [record], as_of=date(2029, 2, 27)).lines
    assert line.stops_counting == date(2029, 2, 28) == Duration(months=60).after(date(2024, 2, 29))


def test_a_record_type_entry_starts_where_the_unbroken_stretch_began():
    # Judgments of 2022 and 2024 keep the debtor listed without a break (3-year entries).
    records = [
        make_record(1, "court_judgment_unfulfilled", date(2022, 11, 30)),
        make_record(2, "court_judgment_unfulfilled", date(2024, 5, 19)),
    ]
    policy = make_policy()
    (entry,) = [
        m
        for m in score(policy, records, as_of=date(2026, 11, 23)).lists
        if m.list == "dishonest_debtors"
    ]
    assert (entry.since, entry.until, entry.record_ids) == (
        date(2022, 11, 30),
        date(2027, 5, 19),
        (2,),
    )
    # With a gap between the two entries, the current stretch began with the second.
    gap = [make_record(1, "court_judgment_unfulfilled", date(2020, 1, 10)), records[1]]
    (entry,) = [
        m
        for m in score(policy, gap, as_of=date(2026, 11, 23)).lists
        if m.list == "dishonest_debtors"
    ]
    assert entry.since == date(2024, 5, 19)


def test_record_version_field_order():
    # store/records.py builds record versions positionally for speed; this pins the order.
    from trustledger.domain.record import RecordVersion

    assert [f.name for f in dataclasses.fields(RecordVersion)] == [
        "record_id",
        "version",
        "subject_id",
        "record_type",
        "provider",
        "valid_from",
        "recorded_at",
        "action",
        "valid_to",
        "reference",
        "amount",
        "note",
        "disputed",
        "review_overdue",
        "repaired_on",
        "attributes",
        "dispute_settled",
    ]
