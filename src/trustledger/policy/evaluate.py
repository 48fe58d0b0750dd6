"""Score one subject: a pure function of its records, a policy and a date::

    result = evaluate(policy, records, subject_id=7, subject_kind=SubjectKind.PERSON,
                      as_of=date(2026, 9, 12), policy_version="v3")
    assert result.score_cents == result.base_cents + sum(l.cents for l in result.lines)

Everything is in hundredths of a point ("cents"), so the score is *exactly* the base plus
the sum of its lines. The one non-integer step is decay, and it is kept deliberately simple
so that a SQL engine can reproduce it bit for bit (see :func:`decayed_cents`)::

    factor = 1                                        -- decay "none"
    factor = 0.5 ** (age_days / period_days)          -- decay "half_life"
    factor = max(0.0, 1 - age_days / period_days)     -- decay "linear"
    cents  = sign(x) * floor(abs(x) + 0.5)  where x = points_cents * factor  (IEEE doubles)

``age_days`` is ``(as_of - valid_from).days`` and ``period_days`` is
:meth:`Duration.approx_days` (a month is 365.2425 / 12 days).

Nothing here reads a clock, a file or a database. Per-policy lookups are compiled once and
kept in a small cache keyed by the policy object's identity (policies are immutable); the
cache only saves work, it never changes a result.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from operator import attrgetter
from typing import Literal

from trustledger.domain.duration import Duration, add_months
from trustledger.domain.record import RecordAction, RecordId, RecordVersion
from trustledger.domain.score import (
    Contribution,
    LineKind,
    ListMembership,
    NotCounted,
    ScoreResult,
    cents_to_points,
)
from trustledger.domain.subject import SubjectId, SubjectKind
from trustledger.policy.schema import Decay, ListDef, ListRule, Policy, RecordType

__all__ = [
    "decay_factor",
    "decayed_cents",
    "evaluate",
    "measure_score",
    "round_half_away_from_zero",
]

#: At most this many records are named on a threshold list entry.
MAX_LIST_RECORDS = 10


def round_half_away_from_zero(x: float) -> int:
    """Round to the nearest integer, halves away from zero (SQL ``ROUND`` on most engines).

    >>> round_half_away_from_zero(2.5), round_half_away_from_zero(-2.5)
    (3, -3)
    """
    n = int(math.floor(abs(x) + 0.5))
    return -n if x < 0 else n


def decay_factor(decay: Decay, age_days: int) -> float:
    """The share of a record's points left ``age_days`` after its ``valid_from``.

    >>> decay_factor(Decay(kind="linear", period=Duration(days=10)), 4)
    0.6
    """
    if decay.kind == "none" or decay.period is None:
        return 1.0
    period = decay.period.approx_days()
    if decay.kind == "half_life":
        return float(0.5 ** (age_days / period))
    return max(0.0, 1.0 - age_days / period)


def decayed_cents(record_type: RecordType, age_days: int) -> int:
    """A record's contribution in cents at an age, before caps and bounds.

    >>> from decimal import Decimal
    >>> rt = RecordType(domain="finance", title="t", points=Decimal("-150"),
    ...                 decay=Decay(kind="half_life", period=Duration(months=12)),
    ...                 counts_for=Duration(months=60), legal_basis="x")
    >>> decayed_cents(rt, 181)
    -10639
    """
    full = int(record_type.points * 100)
    return round_half_away_from_zero(full * decay_factor(record_type.decay, age_days))


# --------------------------------------------------------------------------------------
# The policy, compiled once into plain lookups.


class _Type:
    """One record type with its decay memoised by age (the decay only depends on it)."""

    __slots__ = (
        "applies_to",
        "counts_for",
        "decays",
        "disputed_counts",
        "domain",
        "full_cents",
        "name",
        "rule",
        "record_type",
        "_by_age",
        "_stops",
    )

    def __init__(self, name: str, rt: RecordType) -> None:
        self.name = name
        self.record_type = rt
        self.rule = f"record_types.{name}"
        self.domain = rt.domain
        self.full_cents = int(rt.points * 100)
        self.decays = rt.decay.kind != "none"
        self.counts_for = rt.counts_for
        self.applies_to = frozenset(rt.applies_to)
        self.disputed_counts = rt.disputed_counts
        self._by_age: dict[int, int] = {}
        self._stops: dict[date, date] = {}

    def cents_at(self, age_days: int) -> int:
        if not self.decays:
            return self.full_cents
        cents = self._by_age.get(age_days)
        if cents is None:
            cents = decayed_cents(self.record_type, age_days)
            if len(self._by_age) < 100_000:
                self._by_age[age_days] = cents
        return cents

    def stop(self, valid_from: date) -> date:
        """The first day the record no longer counts (``counts_for`` after ``valid_from``)."""
        end = self._stops.get(valid_from)
        if end is None:
            end = self.counts_for.after(valid_from)
            if len(self._stops) < 100_000:
                self._stops[valid_from] = end
        return end


@dataclass(frozen=True, slots=True)
class _Rule:
    list_name: str
    list_def: ListDef
    rule: ListRule
    kind: Literal["record_types", "score_below", "score_at_least"]
    threshold: int  # cents; 0 for record-type rules
    record_types: frozenset[str]


@dataclass(frozen=True, slots=True)
class _Compiled:
    base: int
    min_score: int | None
    max_score: int | None
    types: dict[str, _Type]
    #: Only the domains that have a cap, sorted: domain -> (cap_negative, cap_positive).
    caps: tuple[tuple[str, int | None, int | None], ...]
    rules: tuple[_Rule, ...]
    #: Whether a rule looks at other dates than as_of: every list rule finds where the
    #: unbroken stretch on its list began, and score_below rules project the recovery.
    needs_facts: bool


def _cents(value: Decimal | None) -> int | None:
    return None if value is None else int(value * 100)


def _compile(policy: Policy) -> _Compiled:
    header = policy.policy
    rules: list[_Rule] = []
    for list_name in sorted(policy.lists):
        list_def = policy.lists[list_name]
        for rule in sorted(list_def.rules, key=attrgetter("id")):
            kind: Literal["record_types", "score_below", "score_at_least"]
            if rule.record_types:
                kind, threshold = "record_types", None
            elif rule.score_below is not None:
                kind, threshold = "score_below", rule.score_below
            else:
                kind, threshold = "score_at_least", rule.score_at_least
            rules.append(
                _Rule(
                    list_name,
                    list_def,
                    rule,
                    kind,
                    _cents(threshold) or 0,
                    frozenset(rule.record_types),
                )
            )
    return _Compiled(
        base=int(header.base_score * 100),
        min_score=_cents(header.min_score),
        max_score=_cents(header.max_score),
        types={name: _Type(name, rt) for name, rt in policy.record_types.items()},
        caps=tuple(
            (name, _cents(d.cap_negative), _cents(d.cap_positive))
            for name, d in sorted(policy.domains.items())
            if d.cap_negative is not None or d.cap_positive is not None
        ),
        rules=tuple(rules),
        needs_facts=bool(rules),
    )


# Keyed by id(policy); the policy itself is kept in the entry so the id cannot be reused
# while the entry lives. Pydantic models with dict fields are not hashable, hence no
# functools.lru_cache.
_CACHE: dict[int, tuple[Policy, _Compiled]] = {}
_CACHE_SIZE = 8


def _compiled(policy: Policy) -> _Compiled:
    entry = _CACHE.get(id(policy))
    if entry is not None and entry[0] is policy:
        return entry[1]
    compiled = _compile(policy)
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)))
    _CACHE[id(policy)] = (policy, compiled)
    return compiled


# --------------------------------------------------------------------------------------
# Caps and bounds, shared by the full evaluation and the score-at-a-date helper.


def _cap_adjustments(comp: _Compiled, totals: dict[str, int]) -> list[tuple[str, str, int]]:
    """(domain, rule, cents) for each capped domain whose total lies beyond its cap."""
    out: list[tuple[str, str, int]] = []
    for domain, low, high in comp.caps:
        total = totals.get(domain, 0)
        if low is not None and total < low:
            out.append((domain, f"domains.{domain}.cap_negative", low - total))
        elif high is not None and total > high:
            out.append((domain, f"domains.{domain}.cap_positive", high - total))
    return out


def _bound_adjustment(comp: _Compiled, subtotal: int) -> tuple[str, int] | None:
    """(rule, cents) bringing ``subtotal`` back inside min_score / max_score, if needed."""
    if comp.min_score is not None and subtotal < comp.min_score:
        return "policy.min_score", comp.min_score - subtotal
    if comp.max_score is not None and subtotal > comp.max_score:
        return "policy.max_score", comp.max_score - subtotal
    return None


# --------------------------------------------------------------------------------------
# Records that passed the date-independent checks, for re-evaluation at other dates.


#: A record that passed the date-independent checks: (valid_from, end, type, record_id),
#: where ``end`` is the first day it no longer counts (``counts_for`` ran out or the
#: fact ended). It counts on ``day`` when ``valid_from <= day < end``. Plain tuples:
#: a subject's facts are built on every evaluation, so they must be cheap.
_Fact = tuple[date, date, _Type, RecordId]


def _score_at(comp: _Compiled, facts: Sequence[_Fact], day: date) -> int:
    """The score in cents on ``day`` from these facts: records, caps and bounds; no lists."""
    total = 0
    if comp.caps:
        totals: dict[str, int] = {}
        for valid_from, end, t, _ in facts:
            if valid_from <= day < end:
                cents = t.cents_at((day - valid_from).days)
                total += cents
                totals[t.domain] = totals.get(t.domain, 0) + cents
        total += sum(c for _, _, c in _cap_adjustments(comp, totals))
    else:
        for valid_from, end, t, _ in facts:
            if valid_from <= day < end:
                total += t.cents_at((day - valid_from).days)
    subtotal = comp.base + total
    bound = _bound_adjustment(comp, subtotal)
    return subtotal if bound is None else subtotal + bound[1]


def _score_floor(comp: _Compiled, facts: Iterable[_Fact]) -> int:
    """A score no date can go below while only these facts count.

    Decay only shrinks points and caps and bounds only pull towards the base, so every
    negative record at full weight, no positive one, each domain held at its negative
    cap and the total at min_score give a floor.
    """
    by_domain: dict[str, int] = {}
    for _, _, t, _ in facts:
        if t.full_cents < 0:
            by_domain[t.domain] = by_domain.get(t.domain, 0) + t.full_cents
    caps = {domain: low for domain, low, _ in comp.caps if low is not None}
    floor = comp.base
    for domain, cents in by_domain.items():
        low = caps.get(domain)
        floor += cents if low is None else max(cents, low)
    return floor if comp.min_score is None else max(floor, comp.min_score)


# --------------------------------------------------------------------------------------
# The evaluation.

_LINE_ORDER = attrgetter("domain", "valid_from", "record_id", "record_version")


def evaluate(
    policy: Policy,
    records: Iterable[RecordVersion],
    *,
    subject_id: SubjectId,
    subject_kind: SubjectKind,
    as_of: date,
    policy_version: str,
) -> ScoreResult:
    """Score a subject from the current version of each of its records.

    ``records`` holds one version per record (the store picked the latest); a version
    whose action is ``retract`` withdraws its record. The result lists every counting
    record as a line, every other record with the reason it does not count, the cap and
    bound adjustments as lines of their own, and the subject's list memberships.
    ``score_cents == base_cents + sum(line.cents for line in lines)`` always holds.
    """
    comp = _compiled(policy)
    types = comp.types
    lines: list[Contribution] = []
    not_counted: list[NotCounted] = []
    facts: list[_Fact] = []  # only kept when a score_below rule needs them
    retract = RecordAction.RETRACT
    expire = RecordAction.EXPIRE
    record_kind = LineKind.RECORD

    keep_facts = comp.needs_facts
    for r in records:
        if r.action is retract:
            not_counted.append(NotCounted(r.record_id, r.record_type, "retracted"))
            continue
        if r.action is expire:
            not_counted.append(NotCounted(r.record_id, r.record_type, "past retention"))
            continue
        t = types.get(r.record_type)
        if t is None:
            not_counted.append(NotCounted(r.record_id, r.record_type, "unknown record type"))
            continue
        if subject_kind not in t.applies_to:
            not_counted.append(NotCounted(r.record_id, r.record_type, "not applicable"))
            continue
        valid_from = r.valid_from
        valid_to = r.valid_to
        stop = t.stop(valid_from)
        # A disputed record counts meanwhile only if its type says so, and never once
        # the review deadline has passed without a decision; unless an earlier objection
        # to this same version was upheld, which settled the facts.
        set_aside = (
            r.disputed and not r.dispute_settled and (not t.disputed_counts or r.review_overdue)
        )
        repaired = r.repaired_on
        if keep_facts and not set_aside:
            end = stop if valid_to is None or valid_to > stop else valid_to
            if repaired is not None and repaired < end:
                end = repaired
            facts.append((valid_from, end, t, r.record_id))
        if valid_from > as_of:
            reason = "not yet valid"
        elif valid_to is not None and valid_to <= as_of:
            reason = "ended"
        elif as_of >= stop:
            reason = "expired"
        elif repaired is not None and repaired <= as_of:
            reason = "repaired"
        elif set_aside:
            reason = "review overdue" if r.review_overdue and t.disputed_counts else "disputed"
        else:
            # Positional for speed (keywords cost ~0.8 us a line); the field order is
            # pinned by tests/policy_eval/test_evaluate.py::test_contribution_field_order.
            lines.append(
                Contribution(
                    record_kind,  # kind
                    t.rule,  # rule
                    t.cents_at((as_of - valid_from).days),  # cents
                    t.domain,  # domain
                    r.record_id,  # record_id
                    r.version,  # record_version
                    t.name,  # record_type
                    r.provider,  # provider
                    valid_from,  # valid_from
                    t.full_cents,  # full_cents
                    stop,  # stops_counting
                    r.disputed,  # disputed
                    r.dispute_settled,  # dispute_settled
                )
            )
            continue
        not_counted.append(NotCounted(r.record_id, r.record_type, reason))

    lines.sort(key=_LINE_ORDER)
    subtotal = comp.base + sum(line.cents for line in lines)
    if comp.caps:
        totals: dict[str, int] = {}
        for line in lines:
            assert line.domain is not None
            totals[line.domain] = totals.get(line.domain, 0) + line.cents
        for domain, rule, cents in _cap_adjustments(comp, totals):
            lines.append(Contribution(kind=LineKind.CAP, rule=rule, cents=cents, domain=domain))
            subtotal += cents
    bound = _bound_adjustment(comp, subtotal)
    score = subtotal
    if bound is not None:
        lines.append(Contribution(kind=LineKind.BOUND, rule=bound[0], cents=bound[1]))
        score += bound[1]

    memberships = _memberships(comp, lines, facts, score, as_of) if comp.rules else ()
    not_counted.sort(key=attrgetter("record_id", "reason"))
    return ScoreResult(
        subject_id=subject_id,
        as_of=as_of,
        policy_version=policy_version,
        base_cents=comp.base,
        score_cents=score,
        grade=policy.grade_for(score),
        lines=tuple(lines),
        lists=memberships,
        not_counted=tuple(not_counted),
    )


def measure_score(result: ScoreResult, policy: Policy, measure_name: str) -> tuple[int, str]:
    """A measure's own score and grade: the base plus the lines of its ``affected_by``
    domains only (record lines and caps), with min_score / max_score applied to that
    subtotal. A fare evasion cannot lower the score a loan measure looks at unless the
    measure names the domain.

    Raises ``KeyError`` for a measure the policy does not define.
    """
    comp = _compiled(policy)
    domains = policy.measures[measure_name].affected_by
    subtotal = result.base_cents + sum(
        line.cents
        for line in result.lines
        if line.kind is not LineKind.BOUND and line.domain in domains
    )
    bound = _bound_adjustment(comp, subtotal)
    cents = subtotal if bound is None else subtotal + bound[1]
    return cents, policy.grade_for(cents)


# --------------------------------------------------------------------------------------
# Lists.


def _memberships(
    comp: _Compiled,
    lines: list[Contribution],
    facts: list[_Fact],
    score: int,
    as_of: date,
) -> tuple[ListMembership, ...]:
    records = [line for line in lines if line.kind is LineKind.RECORD]
    out: list[ListMembership] = []
    for rule in comp.rules:
        if rule.kind == "record_types":
            m = _record_type_entry(rule, records, facts, as_of)
        elif rule.kind == "score_below":
            m = _score_below_entry(comp, rule, records, facts, score, as_of)
        else:
            m = _score_at_least_entry(comp, rule, records, facts, score, as_of)
        if m is not None:
            out.append(m)
    out.sort(key=attrgetter("list", "rule"))
    return tuple(out)


def _entry(
    rule: _Rule,
    since: date,
    until: date | None,
    reason: str,
    record_ids: Iterable[RecordId],
) -> ListMembership:
    return ListMembership(
        list=rule.list_name,
        kind=rule.list_def.kind,
        rule=rule.rule.id,
        since=since,
        until=until,
        reason=reason,
        record_ids=tuple(record_ids),
        public=rule.list_def.public,
    )


def _record_type_entry(
    rule: _Rule, records: list[Contribution], facts: list[_Fact], as_of: date
) -> ListMembership | None:
    duration = rule.rule.duration
    assert duration is not None  # the schema requires it on record-type rules
    hits: list[tuple[date, date, Contribution]] = []
    # A record's entry ends with the record: when it stops counting, its situation ends
    # or a credit repair takes effect, if that comes before the rule's duration runs out.
    ends = {f[3]: f[1] for f in facts}
    for line in records:
        if line.record_type in rule.record_types:
            assert line.valid_from is not None
            end = duration.after(line.valid_from)
            if line.record_id in ends:
                end = min(end, ends[line.record_id])
            if as_of < end:
                hits.append((line.valid_from, end, line))
    if not hits:
        return None
    hits.sort(key=lambda h: (h[0], h[2].record_id or 0))
    reason = "; ".join(
        f"{line.record_type} of {start.isoformat()} ({line.provider}): "
        f"on the list for {duration.describe()}"
        for start, _, line in hits
    )
    return _entry(
        rule,
        since=_stretch_start(rule, facts, duration, min(h[0] for h in hits)),
        until=max(h[1] for h in hits),
        reason=reason,
        record_ids=(h[2].record_id for h in hits if h[2].record_id is not None),
    )


def _stretch_start(rule: _Rule, facts: list[_Fact], duration: Duration, start: date) -> date:
    """Where the unbroken stretch on the list that reaches ``start`` began.

    Earlier records of the rule's types (since expired or out of their duration) kept the
    subject on the list until each one's entry ended; if those entries overlap or touch
    the current one, the subject has been on the list since the first of them.
    """
    spans = sorted(
        (f[0], min(duration.after(f[0]), f[1]))
        for f in facts
        if f[2].name in rule.record_types and f[0] < start
    )
    since = start
    for begin, end in reversed(spans):
        if end >= since:
            since = min(since, begin)
    return since


def _score_below_entry(
    comp: _Compiled,
    rule: _Rule,
    records: list[Contribution],
    facts: list[_Fact],
    score: int,
    as_of: date,
) -> ListMembership | None:
    threshold = rule.threshold
    duration = rule.rule.duration
    # Trigger candidates: dates of negative records that passed the date-independent
    # checks. A record that has expired since still proves where the score stood on its
    # date, so a minimum stay outlives the record that started it.
    known = [f for f in facts if f[0] <= as_of]
    dates = sorted({f[0] for f in known if f[2].full_cents < 0}, reverse=True)

    if score >= threshold:
        if duration is None:
            return None
        window: list[date] = []
        for day in dates:  # newest first: the first one out of the window ends it
            if as_of >= duration.after(day):
                break
            window.append(day)
        if not window or _score_floor(comp, (f for f in known if f[1] > window[-1])) >= threshold:
            return None
        for day in window:
            if _score_at(comp, known, day) < threshold:
                triggers = sorted(f[3] for f in known if f[0] == day and f[2].full_cents < 0)
                return _entry(
                    rule,
                    since=day,
                    until=duration.after(day),
                    reason=(
                        f"score fell below {_points(threshold)} on {day.isoformat()}; "
                        f"stays on the list for at least {duration.describe()}"
                    ),
                    record_ids=triggers[:MAX_LIST_RECORDS],
                )
        return None

    since = _stretch_back(
        lambda day: _score_at(comp, known, day) < threshold, as_of, _earliest(known, as_of)
    )
    counting = [f for f in known if as_of < f[1]]
    recovery = _recovery_date(comp, counting, as_of, threshold)
    until: date | None = recovery
    if recovery is not None and duration is not None:
        until = max(duration.after(since), recovery)
    worst = sorted(
        (line for line in records if (line.full_cents or 0) < 0),
        key=lambda line: (line.cents, line.full_cents or 0, line.record_id or 0),
    )
    reason = f"score {_points(score)} is below {_points(threshold)}"
    if duration is not None:
        reason += f"; stays on the list for at least {duration.describe()}"
    return _entry(
        rule,
        since=since,
        until=until,
        reason=reason,
        record_ids=[
            line.record_id for line in worst[:MAX_LIST_RECORDS] if line.record_id is not None
        ],
    )


def _recovery_date(
    comp: _Compiled, counting: list[_Fact], as_of: date, threshold: int
) -> date | None:
    """The first day after ``as_of`` the score reaches ``threshold`` with no new records.

    Steps a month at a time up to the day the last record stops counting (after it the
    score no longer moves), then searches the days of the month where the score crossed
    (assuming it does not dip back within that month). ``None`` when it has not
    recovered by then.
    """
    if not counting:
        return None
    horizon = max(f[1] for f in counting)
    previous = as_of
    months = 0
    while previous < horizon:
        months += 1
        day = min(add_months(as_of, months), horizon)
        if _score_at(comp, counting, day) >= threshold:
            low, high = previous, day  # below on low, recovered on high
            while (high - low).days > 1:
                mid = low + timedelta(days=(high - low).days // 2)
                if _score_at(comp, counting, mid) >= threshold:
                    high = mid
                else:
                    low = mid
            return high
        previous = day
    return None


def _score_at_least_entry(
    comp: _Compiled,
    rule: _Rule,
    records: list[Contribution],
    facts: list[_Fact],
    score: int,
    as_of: date,
) -> ListMembership | None:
    if score < rule.threshold:
        return None
    window = rule.rule.no_negative_within

    def clean(day: date) -> bool:
        """No negative record counting on ``day`` began within the window before it."""
        if window is None:
            return True
        start = _before(day, window)
        return not any(f[2].full_cents < 0 and start < f[0] <= day < f[1] for f in facts)

    if not clean(as_of):
        return None
    positive = sorted(
        (line for line in records if (line.full_cents or 0) > 0),
        key=lambda line: (-line.cents, -(line.full_cents or 0), line.record_id or 0),
    )
    known = [f for f in facts if f[0] <= as_of]
    since = _stretch_back(
        lambda day: clean(day) and _score_at(comp, known, day) >= rule.threshold,
        as_of,
        _earliest(known, as_of),
    )
    reason = f"score {_points(score)} is at least {_points(rule.threshold)}"
    if window is not None:
        reason += f" with no negative record within {window.describe()}"
    return _entry(
        rule,
        since=since,
        until=None,
        reason=reason,
        record_ids=[
            line.record_id for line in positive[:MAX_LIST_RECORDS] if line.record_id is not None
        ],
    )


def _earliest(facts: Sequence[_Fact], as_of: date) -> date:
    return min((f[0] for f in facts), default=as_of)


#: How far back, in steps of three months, a list entry's unbroken stretch is traced.
_STRETCH_STEPS = 40


def _stretch_back(holds: Callable[[date], bool], as_of: date, earliest: date) -> date:
    """The first day of the unbroken stretch, ending on ``as_of``, on which ``holds``.

    Steps back three months at a time (at most ten years), then finds the day inside the
    step where the condition began by halving. ``holds(as_of)`` must be true. Nothing is
    known before ``earliest`` (the subject's first record): a stretch that reaches it
    began there, as far as the registry can say.
    """
    good = as_of
    for step in range(1, _STRETCH_STEPS + 1):
        day = max(add_months(as_of, -3 * step), earliest)
        if day >= good:
            return good
        if not holds(day):
            bad = day
            while (good - bad).days > 1:
                middle = bad + timedelta(days=(good - bad).days // 2)
                if holds(middle):
                    good = middle
                else:
                    bad = middle
            return good
        good = day
    return good


def _before(day: date, duration: Duration) -> date:
    """The day ``duration`` before ``day`` (calendar months, then days)."""
    return add_months(day, -duration.months) - timedelta(days=duration.days)


def _points(cents: int) -> str:
    return str(cents_to_points(cents))
