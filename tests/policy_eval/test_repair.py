"""Paths to repair: known answers from a small policy written here.

The policy: base 1000; grades A >= 950, B >= 850, C >= 700, D below. A court judgment
(-200, no decay, repair 6 months after paying) lists the subject for 3 years; a loan
default (-150, half-life 1 year, repair after 1 year); a fraud conviction that cannot be
repaired; tax arrears (-60, repair after 3 months); a positive volunteer record; and a
"Low scores" black list below 750 with no minimum stay.
"""

from __future__ import annotations

import copy
import dataclasses
from datetime import date, timedelta
from typing import Any

import pytest

from tests.factories import make_record
from trustledger.domain.record import RecordVersion
from trustledger.domain.subject import SubjectKind
from trustledger.policy.evaluate import evaluate
from trustledger.policy.repair import (
    ListEffect,
    Outlook,
    RepairPath,
    earliest_repair,
    first_change,
    horizon_for,
    outlook,
    paths_to_repair,
)
from trustledger.policy.schema import Policy, check_references

MINUS = "\u2212"

DOC: dict[str, Any] = {
    "policy": {"name": "repair", "title": "Repair test", "base_score": "1000"},
    "grades": [
        {"grade": "A", "min_score": "950"},
        {"grade": "B", "min_score": "850"},
        {"grade": "C", "min_score": "700"},
        {"grade": "D"},
    ],
    "domains": {
        "finance": {"title": "Finance"},
        "judicial": {"title": "Courts"},
        "civic": {"title": "Civic life"},
    },
    "record_types": {
        "judgment": {
            "domain": "judicial",
            "title": "Unpaid court judgment",
            "points": "-200",
            "counts_for": "5y",
            "legal_basis": "Civil Procedure Law",
            "repair_after": "6m",
        },
        "default": {
            "domain": "finance",
            "title": "Loan default",
            "points": "-150",
            "decay": {"kind": "half_life", "period": "1y"},
            "counts_for": "5y",
            "legal_basis": "Credit Reporting Act",
            "repair_after": "1y",
        },
        "fraud": {
            "domain": "judicial",
            "title": "Fraud conviction",
            "points": "-100",
            "counts_for": "3y",
            "legal_basis": "Criminal Law",
        },
        "arrears": {
            "domain": "finance",
            "title": "Tax arrears",
            "points": "-60",
            "counts_for": "2y",
            "legal_basis": "Tax Law",
            "repair_after": "3m",
        },
        "volunteer": {
            "domain": "civic",
            "title": "Volunteer work",
            "points": "20",
            "counts_for": "1y",
            "legal_basis": "Volunteer Regulation",
        },
    },
    "lists": {
        "debtors": {
            "kind": "black",
            "title": "Dishonest judgment debtors",
            "legal_basis": "Provisions on Dishonest Debtors",
            "rules": [{"id": "judgment", "record_types": ["judgment"], "duration": "3y"}],
        },
        "low": {
            "kind": "black",
            "title": "Low scores",
            "legal_basis": "Credit Reporting Act",
            "rules": [{"id": "below_750", "score_below": "750"}],
        },
    },
}
POLICY = Policy.model_validate(DOC)
assert not check_references(POLICY)

KW: dict[str, Any] = {"subject_id": 1, "subject_kind": SubjectKind.PERSON, "policy_version": "t"}
MARCH_12 = date(2026, 3, 12)


def paths(records: list[RecordVersion], as_of: date, policy: Policy = POLICY) -> list[RepairPath]:
    return paths_to_repair(policy, records, as_of=as_of, **KW)


def brute_force_change(
    records: list[RecordVersion], as_of: date, horizon: date, policy: Policy = POLICY
) -> Outlook | None:
    """The first day the grade or the list entries differ from ``as_of``'s, day by day."""
    start = outlook(policy, records, day=as_of, **KW)
    day = as_of
    while day < horizon:
        day += timedelta(days=1)
        o = outlook(policy, records, day=day, **KW)
        if (o.grade, o.lists) != (start.grade, start.lists):
            return o
    return None


def horizon(records: list[RecordVersion], as_of: date) -> date:
    result = evaluate(POLICY, records, as_of=as_of, **KW)
    return horizon_for(POLICY, records, as_of=as_of, result=result)


# --------------------------------------------------------------------------------------
# A record-type list rule, no decay.


def test_judgment_path_known_answer():
    records = [make_record(17, "judgment", MARCH_12, provider="court")]
    (path,) = paths(records, date(2026, 4, 1))
    assert path.text == (
        f"Unpaid court judgment of 12 March 2026 (record 17): {MINUS}200.00 points until "
        "12 March 2031; it keeps you on the black list \u201cDishonest judgment debtors\u201d "
        "until 12 March 2029. Fulfil the obligation (pay what is owed or do what was "
        "ordered) and keep the proof; 6 months after it was fulfilled you may ask for credit "
        "repair (from 1 October 2026 if you fulfil it today; sooner if you already have), "
        "and then your grade would be A and you would be on no list."
    )
    assert path.record_id == 17
    assert path.record_type == "judgment"
    assert path.stops_counting == date(2031, 3, 12)
    assert path.lists == (ListEffect("debtors", "judgment", date(2029, 3, 12)),)
    assert path.repairable is True
    assert path.cure == (
        "Fulfil the obligation (pay what is owed or do what was ordered) and keep the proof; "
        "6 months after it was fulfilled, ask for credit repair"
    )
    assert path.repair_from == date(2026, 10, 1)
    # Without action the grade stays C (800) and the entry ends on its own day.
    assert path.next_change == Outlook(date(2029, 3, 12), 80000, "C", ())
    # Repaired on 1 October 2026: the record no longer counts nor lists.
    assert path.after_repair == Outlook(date(2026, 10, 1), 100000, "A", ())


def test_first_change_finds_the_day_a_list_entry_ends():
    records = [make_record(17, "judgment", MARCH_12)]
    as_of = date(2026, 4, 1)
    assert outlook(POLICY, records, day=as_of, **KW) == Outlook(
        as_of, 80000, "C", ("debtors:judgment",)
    )
    found = first_change(POLICY, records, as_of=as_of, **KW)
    assert found == Outlook(date(2029, 3, 12), 80000, "C", ())
    assert found == brute_force_change(records, as_of, horizon(records, as_of))


def test_first_change_after_the_entry_ended_is_the_day_the_record_stops():
    records = [make_record(17, "judgment", MARCH_12)]
    as_of = date(2029, 6, 1)
    assert horizon(records, as_of) == date(2031, 3, 12)
    found = first_change(POLICY, records, as_of=as_of, **KW)
    assert found == Outlook(date(2031, 3, 12), 100000, "A", ())
    assert found == brute_force_change(records, as_of, date(2031, 3, 12))


def test_first_change_within_an_explicit_horizon():
    records = [make_record(17, "judgment", MARCH_12)]
    as_of = date(2026, 4, 1)
    assert first_change(POLICY, records, as_of=as_of, horizon=date(2029, 3, 11), **KW) is None
    found = first_change(POLICY, records, as_of=as_of, horizon=date(2029, 3, 12), **KW)
    assert found is not None and found.day == date(2029, 3, 12)


def test_first_change_with_nothing_to_change():
    assert first_change(POLICY, [], as_of=MARCH_12, **KW) is None
    assert paths([], MARCH_12) == []


# --------------------------------------------------------------------------------------
# Half-life decay crossing a grade band.


def test_first_change_finds_the_day_decay_crosses_a_grade_band():
    records = [make_record(3, "default", date(2026, 1, 1))]
    as_of = date(2026, 1, 1)
    assert outlook(POLICY, records, day=as_of, **KW) == Outlook(as_of, 85000, "B", ())
    found = first_change(POLICY, records, as_of=as_of, **KW)
    # 150 * 0.5 ** (age / 365.2425) rounds to 49.99 on day 579.
    assert found == Outlook(date(2027, 8, 3), 95001, "A", ())
    assert outlook(POLICY, records, day=date(2027, 8, 2), **KW).grade == "B"
    assert found == brute_force_change(records, as_of, horizon(records, as_of))

    (path,) = paths(records, as_of)
    assert path.next_change == found
    assert path.text == (
        f"Loan default of 1 January 2026 (record 3): {MINUS}150.00 points now and fading, "
        "until 1 January 2031. Fulfil the obligation (pay what is owed or do what was "
        "ordered) and keep the proof; 1 year after it was fulfilled you may ask for credit "
        "repair (from 1 January 2027 if you fulfil it today; sooner if you already have), "
        "and then your grade would be A and you would be on no list."
    )
    assert path.after_repair == Outlook(date(2027, 1, 1), 100000, "A", ())


# --------------------------------------------------------------------------------------
# A threshold rule: both records keep the subject on "Low scores".


def test_threshold_rule_and_record_type_rule_together():
    records = [
        make_record(17, "judgment", MARCH_12, provider="court"),
        make_record(3, "default", MARCH_12),
        make_record(5, "volunteer", date(2026, 3, 1)),  # positive: no path
    ]
    as_of = date(2026, 4, 1)
    today = evaluate(POLICY, records, as_of=as_of, **KW)
    assert today.grade == "D"
    (low,) = [m for m in today.lists if m.list == "low"]
    assert low.until == date(2027, 10, 12)

    default, judgment = paths(records, as_of)  # in line order: finance before judicial
    assert (default.record_id, judgment.record_id) == (3, 17)

    assert default.lists == (ListEffect("low", "below_750", date(2027, 10, 12)),)
    assert judgment.lists == (
        ListEffect("debtors", "judgment", date(2029, 3, 12)),
        ListEffect("low", "below_750", date(2027, 10, 12)),
    )
    # 1000 - 200 - 150 * 0.5 ** (20 / 365.2425) + 20 = 675.59
    assert default.text.startswith(
        f"Loan default of 12 March 2026 (record 3): {MINUS}144.41 points now and fading, "
        "until 12 March 2031; it keeps you on the black list \u201cLow scores\u201d "
        "for a score below 750.00 until 12 October 2027. "
    )
    assert judgment.text.startswith(
        f"Unpaid court judgment of 12 March 2026 (record 17): {MINUS}200.00 points until "
        "12 March 2031; it keeps you on the black list \u201cDishonest judgment debtors\u201d "
        "until 12 March 2029 and on the black list \u201cLow scores\u201d for a score below "
        "750.00 until 12 October 2027."
    )
    # Repairing the default leaves the judgment's entry; the volunteer record has expired.
    assert default.after_repair == Outlook(date(2027, 4, 1), 80000, "C", ("debtors:judgment",))
    assert default.text.endswith(
        "and then your grade would be C and you would be on the black list "
        "\u201cDishonest judgment debtors\u201d."
    )
    # Repairing the judgment ends both entries: 1000 - 150 * 0.5 ** (203 / 365.2425) + 20.
    assert judgment.after_repair == Outlook(date(2026, 10, 1), 91796, "B", ())

    # No action: the score climbs past 700 (grade C) before any entry ends, on the day
    # the default has decayed below 120 points (age 118 days: 1020 - 119.90 = 700.10).
    change = first_change(POLICY, records, as_of=as_of, **KW)
    assert change == Outlook(date(2026, 7, 8), 70010, "C", ("debtors:judgment", "low:below_750"))
    assert outlook(POLICY, records, day=date(2026, 7, 7), **KW).grade == "D"
    assert change == brute_force_change(records, as_of, horizon(records, as_of))
    assert default.next_change == judgment.next_change == change


def test_two_rules_of_one_list_are_named_in_one_phrase():
    doc = copy.deepcopy(DOC)
    low = doc["lists"].pop("low")
    doc["lists"]["debtors"]["rules"].append(low["rules"][0])
    policy = Policy.model_validate(doc)
    records = [make_record(17, "judgment", MARCH_12), make_record(3, "default", MARCH_12)]
    _, judgment = paths(records, date(2026, 4, 1), policy)
    assert judgment.lists == (
        ListEffect("debtors", "below_750", date(2027, 10, 12)),
        ListEffect("debtors", "judgment", date(2029, 3, 12)),
    )
    assert (
        "; it keeps you on the black list \u201cDishonest judgment debtors\u201d until "
        "12 March 2029 and for a score below 750.00 until 12 October 2027. " in judgment.text
    )
    assert judgment.after_repair == Outlook(date(2026, 10, 1), 89796, "B", ())
    assert judgment.text.endswith("your grade would be B and you would be on no list.")


# --------------------------------------------------------------------------------------
# Types that cannot be repaired, records that end, records already repaired.


def test_non_repairable_type():
    (path,) = paths([make_record(8, "fraud", date(2026, 2, 1))], date(2026, 5, 1))
    assert path.repairable is False
    assert path.repair_from is None
    assert path.after_repair is None
    assert path.stops_counting == date(2029, 2, 1)
    assert path.cure == (
        "This type of record cannot be repaired early; it stops counting on 1 February 2029"
    )
    assert path.text == (
        f"Fraud conviction of 1 February 2026 (record 8): {MINUS}100.00 points until "
        "1 February 2029. This type of record cannot be repaired early; it stops counting "
        "on 1 February 2029."
    )
    assert path.next_change == Outlook(date(2029, 2, 1), 100000, "A", ())


def test_record_with_a_future_end_stops_counting_then():
    record = make_record(4, "arrears", date(2026, 1, 1), valid_to=date(2027, 3, 1))
    (path,) = paths([record], date(2026, 6, 1))
    assert path.stops_counting == date(2027, 3, 1)  # before counts_for ends (1 January 2028)
    assert path.repair_from == date(2026, 9, 1)  # not ended: 3 months from today
    assert path.after_repair == Outlook(date(2026, 9, 1), 100000, "A", ())
    assert path.next_change == Outlook(date(2027, 3, 1), 100000, "A", ())


def test_repair_that_would_come_after_the_record_stops():
    record = make_record(4, "arrears", date(2026, 1, 1), valid_to=date(2026, 8, 1))
    (path,) = paths([record], date(2026, 6, 1))
    assert path.repair_from == date(2026, 9, 1)
    assert path.stops_counting == date(2026, 8, 1)
    assert path.text.endswith(
        "(from 1 September 2026 if you fulfil it today; sooner if you already have); by then "
        "it has stopped counting by itself, on 1 August 2026."
    )


@pytest.mark.parametrize(
    ("valid_to", "expected"),
    [
        (date(2026, 2, 1), date(2026, 6, 1)),  # paid long ago: the wait is over, today
        (date(2026, 5, 1), date(2026, 8, 1)),  # paid a month ago: 3 months after paying
        (None, date(2026, 9, 1)),  # not paid: 3 months after paying today
    ],
)
def test_earliest_repair_runs_from_the_day_the_record_ended(valid_to, expected):
    record = make_record(4, "arrears", date(2026, 1, 1), valid_to=valid_to)
    rt = POLICY.record_types["arrears"]
    assert earliest_repair(record, rt, date(2026, 6, 1)) == expected


def test_earliest_repair_none_when_not_repairable_or_repaired():
    as_of = date(2026, 6, 1)
    fraud = make_record(8, "fraud", date(2026, 2, 1))
    assert earliest_repair(fraud, POLICY.record_types["fraud"], as_of) is None
    repaired = dataclasses.replace(make_record(4, "arrears"), repaired_on=date(2026, 7, 1))
    assert earliest_repair(repaired, POLICY.record_types["arrears"], as_of) is None


def test_ended_record_has_no_path():
    # Paid on 1 February 2026: it no longer counts, so there is nothing to repair.
    record = make_record(4, "arrears", date(2026, 1, 1), valid_to=date(2026, 2, 1))
    assert paths([record], date(2026, 6, 1)) == []


def test_repaired_record_has_no_path():
    record = dataclasses.replace(make_record(17, "judgment", MARCH_12), repaired_on=MARCH_12)
    assert paths([record], date(2026, 4, 1)) == []
    assert outlook(POLICY, [record], day=date(2026, 4, 1), **KW) == Outlook(
        date(2026, 4, 1), 100000, "A", ()
    )


def test_repair_approved_for_a_later_day():
    record = dataclasses.replace(
        make_record(17, "judgment", MARCH_12), repaired_on=date(2026, 5, 1)
    )
    (path,) = paths([record], date(2026, 4, 1))
    assert path.repairable is True
    assert path.repair_from is None
    assert path.after_repair is None
    assert path.stops_counting == date(2026, 5, 1)
    assert path.lists == (ListEffect("debtors", "judgment", date(2026, 5, 1)),)
    assert path.cure == "Credit repair was approved; it stops counting on 1 May 2026"
    assert path.next_change == Outlook(date(2026, 5, 1), 100000, "A", ())


# --------------------------------------------------------------------------------------
# JSON.


def test_as_json():
    (path,) = paths([make_record(17, "judgment", MARCH_12)], date(2026, 4, 1))
    assert path.as_json() == {
        "record_id": 17,
        "record_type": "judgment",
        "text": path.text,
        "stops_counting": "2031-03-12",
        "lists": [{"list": "debtors", "rule": "judgment", "until": "2029-03-12"}],
        "repairable": True,
        "cure": path.cure,
        "repair_from": "2026-10-01",
        "next_change": {"day": "2029-03-12", "score": 800.0, "grade": "C", "lists": []},
        "after_repair": {"day": "2026-10-01", "score": 1000.0, "grade": "A", "lists": []},
    }
    (fraud,) = paths([make_record(8, "fraud", date(2026, 2, 1))], date(2026, 5, 1))
    data = fraud.as_json()
    assert data["repair_from"] is None and data["after_repair"] is None
    assert data["next_change"] == {"day": "2029-02-01", "score": 1000.0, "grade": "A", "lists": []}
