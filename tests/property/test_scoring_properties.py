"""Properties of the policy evaluator that hold for any file of records.

Fixtures: three policies built once from ``tests/factories.py`` (the default with caps and
lists, one with min/max bounds, one with neither caps nor bounds); hypothesis draws small
files of records (at most 12) and dates. Runs are derandomised so that CI is repeatable.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.factories import make_policy, make_record, policy_document, retracted
from trustledger.domain.duration import add_months
from trustledger.domain.record import RecordAction, RecordVersion
from trustledger.domain.score import LineKind, ScoreResult
from trustledger.domain.subject import SubjectKind
from trustledger.policy.evaluate import evaluate
from trustledger.policy.schema import Policy

DEFAULT = make_policy()
BOUNDED = make_policy(min_score="700", max_score="1010")
_PLAIN_DOMAINS = {name: {"title": d["title"]} for name, d in policy_document()["domains"].items()}
PLAIN = make_policy(domains=_PLAIN_DOMAINS)  # no caps, no bounds

TYPES = [*policy_document()["record_types"], "parking_ticket"]
DECAYING = ["late_payment", "loan_default", "tax_arrears", "volunteer_work"]
FIRST, LAST = date(2018, 1, 1), date(2028, 12, 31)

SETTINGS = settings(max_examples=120, deadline=None, derandomize=True)

dates = st.dates(min_value=FIRST, max_value=LAST)
kinds = st.sampled_from([SubjectKind.PERSON, SubjectKind.ORGANISATION])
policies = st.sampled_from([DEFAULT, BOUNDED, PLAIN])


@st.composite
def record_files(
    draw: st.DrawFn, max_size: int = 12, types: list[str] = TYPES, within: st.SearchStrategy = dates
) -> list[RecordVersion]:
    """Up to ``max_size`` records with distinct ids, some retracted, disputed or ended."""
    n = draw(st.integers(min_value=0, max_value=max_size))
    out = []
    for record_id in range(1, n + 1):
        valid_from = draw(within)
        ends = draw(st.integers(0, 2)) == 0
        valid_to = valid_from + timedelta(days=draw(st.integers(1, 2000))) if ends else None
        record = make_record(
            record_id,
            draw(st.sampled_from(types)),
            valid_from,
            valid_to=valid_to,
            disputed=draw(st.integers(0, 4)) == 0,
            version=draw(st.integers(1, 3)),
        )
        out.append(retracted(record) if draw(st.integers(0, 9)) == 0 else record)
    return out


def run(
    policy: Policy,
    records: Iterable[RecordVersion],
    as_of: date,
    kind: SubjectKind = SubjectKind.PERSON,
) -> ScoreResult:
    return evaluate(
        policy, records, subject_id=42, subject_kind=kind, as_of=as_of, policy_version="p"
    )


@SETTINGS
@given(policy=policies, records=record_files(), as_of=dates, kind=kinds)
def test_score_is_base_plus_lines(policy, records, as_of, kind):
    result = run(policy, records, as_of, kind)
    assert result.score_cents == result.base_cents + sum(line.cents for line in result.lines)
    assert result.grade == policy.grade_for(result.score_cents)
    # Every record is either a line or set aside, never both.
    counted = [line.record_id or 0 for line in result.lines if line.kind is LineKind.RECORD]
    assert sorted(counted + [n.record_id for n in result.not_counted]) == sorted(
        r.record_id for r in records
    )
    if policy is BOUNDED:
        assert 70000 <= result.score_cents <= 101000


@SETTINGS
@given(
    record_type=st.sampled_from(DECAYING),
    valid_from=dates,
    first=st.integers(0, 2000),
    step=st.integers(0, 2000),
)
def test_decay_never_grows_a_record(record_type, valid_from, first, step):
    record = make_record(1, record_type, valid_from)
    kind = SubjectKind.ORGANISATION if record_type == "tax_arrears" else SubjectKind.PERSON
    earlier = run(PLAIN, [record], valid_from + timedelta(days=first), kind)
    later = run(PLAIN, [record], valid_from + timedelta(days=first + step), kind)
    cents = [abs(r.lines[0].cents) if r.lines else 0 for r in (earlier, later)]
    assert cents[1] <= cents[0] <= abs(int(PLAIN.record_types[record_type].points * 100))


@SETTINGS
@given(record_type=st.sampled_from(TYPES[:-1]), valid_from=dates, extra=st.integers(0, 3000))
def test_an_expired_record_contributes_nothing(record_type, valid_from, extra):
    rt = DEFAULT.record_types[record_type]
    as_of = rt.counts_for.after(valid_from) + timedelta(days=extra)
    kind = SubjectKind.ORGANISATION if record_type == "tax_arrears" else SubjectKind.PERSON
    result = run(DEFAULT, [make_record(1, record_type, valid_from)], as_of, kind)
    assert result.lines == ()
    assert result.score_cents == result.base_cents
    assert [n.reason for n in result.not_counted] == ["expired"]
    assert all(1 not in m.record_ids for m in result.lists)


@SETTINGS
@given(records=record_files(), as_of=dates, kind=kinds, data=st.data())
def test_retracting_a_record_removes_exactly_its_line(records, as_of, kind, data):
    live = [r for r in records if r.action is not RecordAction.RETRACT]
    if not live:
        return
    target = data.draw(st.sampled_from(live))
    before = run(PLAIN, records, as_of, kind)
    after = run(PLAIN, [retracted(r) if r is target else r for r in records], as_of, kind)
    own = [line for line in before.lines if line.record_id == target.record_id]
    assert after.score_cents == before.score_cents - sum(line.cents for line in own)
    assert list(after.lines) == [line for line in before.lines if line not in own]
    assert [n for n in after.not_counted if n.record_id == target.record_id][0].reason == (
        "retracted"
    )


@SETTINGS
@given(
    policy=policies,
    records=record_files(),
    as_of=dates,
    kind=kinds,
    order=st.randoms(use_true_random=False),
)
def test_result_ignores_input_order(policy, records, as_of, kind, order):
    shuffled = list(records)
    order.shuffle(shuffled)
    assert run(policy, iter(shuffled), as_of, kind) == run(policy, records, as_of, kind)


@SETTINGS
@given(policy=policies, records=record_files(), other=record_files(), as_of=dates, kind=kinds)
def test_result_depends_only_on_its_arguments(policy, records, other, as_of, kind):
    first = run(policy, records, as_of, kind)
    # Unrelated evaluations in between (other files, policies and dates) and an equal
    # copy of the policy must not change anything.
    for p in (DEFAULT, BOUNDED, PLAIN):
        run(p, other, as_of + timedelta(days=400))
    assert run(policy, records, as_of, kind) == first
    assert run(copy.deepcopy(policy), list(records), as_of, kind) == first


# Mostly heavy negative records in a few recent years, so that many files reach the lists.
_RECENT = st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31))
_HEAVY = ["court_judgment_unfulfilled", "loan_default", "loan_default", "volunteer_work"]


@SETTINGS
@given(records=record_files(types=_HEAVY, within=_RECENT), as_of=_RECENT)
def test_threshold_lists_follow_the_score(records, as_of):
    result = run(DEFAULT, records, as_of)
    on = {m.list for m in result.lists}
    if result.score_cents < 80000:
        assert "low_score" in on
    if "trustworthy" in on:
        assert result.score_cents >= 100000
        assert not any(
            (line.full_cents or 0) < 0 and line.valid_from > add_months(as_of, -24)
            for line in result.lines
            if line.valid_from is not None
        )
    for m in result.lists:
        assert m.since <= as_of
        assert m.until is None or m.until > as_of
        if m.list == "low_score":
            # The day the entry dates from was a day the score stood below 800.00.
            assert run(DEFAULT, records, m.since).score_cents < 80000
