"""The plain-language explanation of a score, sentence by sentence.

Fixtures: the default policy of ``tests/factories.py`` and a few records scored with it.
"""

from __future__ import annotations

import re
from datetime import date

from tests.factories import make_policy, make_record, retracted
from trustledger.domain.record import RecordVersion
from trustledger.domain.score import (
    Contribution,
    LineKind,
    ListMembership,
    NotCounted,
    ScoreResult,
)
from trustledger.domain.subject import SubjectKind
from trustledger.policy.evaluate import evaluate
from trustledger.policy.explain import (
    describe_line,
    describe_membership,
    describe_not_counted,
    explain_text,
    format_date,
    format_points,
)
from trustledger.policy.schema import Policy

AS_OF = date(2026, 9, 12)
CJ = "court_judgment_unfulfilled"
POLICY = make_policy()


def score(
    records: list[RecordVersion], policy: Policy = POLICY, as_of: date = AS_OF
) -> ScoreResult:
    return evaluate(
        policy,
        records,
        subject_id=1,
        subject_kind=SubjectKind.PERSON,
        as_of=as_of,
        policy_version="t1",
    )


def test_format_date_and_points():
    assert format_date(date(2026, 3, 12)) == "12 March 2026"
    assert format_date(date(2027, 12, 1)) == "1 December 2027"
    assert format_points(-10607) == "\u2212106.07"
    assert format_points(5) == "0.05"
    assert format_points(2000, signed=True) == "+20.00"
    assert format_points(0, signed=True) == "0.00"


def test_half_life_line():
    (line,) = score([make_record(1, "loan_default", date(2026, 3, 12))]).lines
    assert describe_line(line, POLICY, as_of=AS_OF) == (
        "Loan default of 12 March 2026, Example Bank: \u2212150.00 points, "
        "now \u2212105.79 after 6 months, halves every 1 year, "
        "stops counting on 12 March 2031"
    )


def test_line_that_does_not_fade_names_the_provider_title():
    (line,) = score([make_record(1, CJ, date(2026, 3, 12))]).lines
    assert describe_line(line, POLICY, as_of=AS_OF) == (
        "Unpaid court judgment of 12 March 2026, "
        "Intermediate People's Court of Example City: \u2212200.00 points, "
        "does not fade, stops counting on 12 March 2031"
    )


def test_linear_line_with_unknown_provider_uses_the_key():
    record = make_record(1, "volunteer_work", date(2026, 6, 1), provider="red_cross")
    (line,) = score([record]).lines
    assert describe_line(line, POLICY, as_of=AS_OF) == (
        "Volunteer work of 1 June 2026, red_cross: +20.00 points, "
        "now +14.36 after 3 months 11 days, falls to zero evenly over 1 year, "
        "stops counting on 1 June 2027"
    )


def test_line_on_its_first_day_and_disputed():
    record = make_record(1, "tax_arrears", AS_OF, disputed=True)
    result = evaluate(
        POLICY,
        [record],
        subject_id=1,
        subject_kind=SubjectKind.ORGANISATION,
        as_of=AS_OF,
        policy_version="t1",
    )
    text = describe_line(result.lines[0], POLICY, as_of=AS_OF)
    assert "now \u2212100.00 on its first day" in text
    assert text.endswith(
        "(under objection; this type keeps counting until the review decides, and stops if "
        "the review deadline passes first)"
    )


def test_negative_cap_line():
    line = Contribution(
        kind=LineKind.CAP, rule="domains.finance.cap_negative", cents=3500, domain="finance"
    )
    assert describe_line(line, POLICY, as_of=AS_OF) == (
        "Cap on Finance and credit: the domain may lower the score by at most 400.00 points, "
        "so 35.00 points are given back"
    )


def test_positive_cap_line():
    line = Contribution(
        kind=LineKind.CAP, rule="domains.civic.cap_positive", cents=-3000, domain="civic"
    )
    assert describe_line(line, POLICY, as_of=AS_OF) == (
        "Cap on Civic life: the domain may raise the score by at most 50.00 points, "
        "so 30.00 points are taken off"
    )


def test_bound_lines():
    policy = make_policy(min_score="300", max_score="1010")
    low = Contribution(kind=LineKind.BOUND, rule="policy.min_score", cents=10000)
    high = Contribution(kind=LineKind.BOUND, rule="policy.max_score", cents=-3000)
    assert describe_line(low, policy, as_of=AS_OF) == (
        "Lowest possible score 300.00: 100.00 points are given back"
    )
    assert describe_line(high, policy, as_of=AS_OF) == (
        "Highest possible score 1010.00: 30.00 points are taken off"
    )


def test_record_type_membership_has_its_end_date():
    result = score([make_record(4, CJ, date(2026, 3, 12))])
    (entry,) = result.lists
    assert describe_membership(entry, POLICY) == (
        "On the black list \u201cDishonest judgment debtors\u201d (public) since 12 March 2026 "
        "until 12 March 2029: because of a counting record of type Unpaid court judgment; "
        "an entry lasts 3 years (based on record 4)"
    )


def test_threshold_membership_without_end_waits_for_recovery():
    entry = ListMembership(
        list="low_score",
        kind="black",
        rule="below_800",
        since=date(2026, 5, 1),
        until=None,
        reason="score 700.00 is below 800.00",
        record_ids=(3, 1),
    )
    assert describe_membership(entry, POLICY) == (
        "On the black list \u201cLow scores\u201d (not public) since 1 May 2026 "
        "until the score recovers: the score fell below 800.00; "
        "an entry lasts at least 1 year (based on records 3, 1)"
    )


def test_red_list_membership():
    (entry,) = score([]).lists
    assert describe_membership(entry, POLICY) == (
        "On the red list \u201cTrustworthy\u201d (public) since 12 September 2026 "
        "for as long as the conditions hold: the score is at least 1000.00 "
        "and no negative record counts from the last 2 years"
    )


def test_not_counted():
    item = NotCounted(17, "late_payment", "expired")
    assert describe_not_counted(item, POLICY) == (
        "Late payment (record 17) does not count: it has stopped counting"
    )
    unknown = NotCounted(18, "parking_ticket", "unknown record type")
    assert describe_not_counted(unknown, POLICY) == (
        "parking_ticket (record 18) does not count: this policy does not score records of this type"
    )


def test_explain_text_sums_up_then_tells_each_line():
    records = [
        make_record(1, "loan_default", AS_OF),
        make_record(2, "loan_default", AS_OF),
        make_record(3, "loan_default", AS_OF),
        make_record(4, CJ, date(2026, 3, 12)),
        make_record(5, "volunteer_work", date(2026, 6, 1)),
        retracted(make_record(6, "late_payment", date(2026, 1, 1))),
    ]
    policy = make_policy(min_score="500")
    result = score(records, policy=policy)
    text = explain_text(result, policy)
    assert text[0] == (
        "Score 500.00 (grade D) = base 1000.00 + 14.36 (Civic life) "
        "\u2212 400.00 (Finance and credit) \u2212 200.00 (Judicial) "
        "+ 85.64 (lowest possible score)"
    )
    assert len(text) == 1 + len(result.lines) + len(result.lists) + len(result.not_counted)
    assert text[1].startswith("Volunteer work of 1 June 2026")
    assert "Cap on Finance and credit" in text[6]
    assert text[7] == "Lowest possible score 500.00: 85.64 points are given back"
    assert text[-1] == (
        "Late payment (record 6) does not count: it was retracted, by its provider or after "
        "a review of an objection"
    )
    # People read these: a real minus sign, never a hyphen before a number.
    assert not any(re.search(r"-\d", line) for line in text)


def test_explain_text_without_records():
    assert explain_text(score([], policy=make_policy(lists={}, measures={})), POLICY) == [
        "Score 1000.00 (grade B) = base 1000.00 (no record counts)"
    ]


def test_many_records_that_do_not_count_are_summed_up_by_reason():
    old = [make_record(i, "late_payment", date(2015, 1, i)) for i in range(1, 11)]
    gone = [retracted(make_record(20 + i, "late_payment", date(2026, 1, i + 1))) for i in range(2)]
    text = explain_text(score(old + gone), POLICY)
    assert text[-2:] == [
        "10 records do not count: it has stopped counting "
        "(records 1, 2, 3, 4, 5, 6, 7, 8 and 2 more)",
        "2 records do not count: it was retracted, by its provider or after a review of an "
        "objection (records 20, 21)",
    ]
