"""A subject's path to repair: for each negative record, what it costs, how long, and what
would change if the subject fulfilled the obligation behind it::

    paths = paths_to_repair(policy, records, subject_id=7, subject_kind=SubjectKind.PERSON,
                            as_of=date(2026, 3, 12), policy_version="v3")
    paths[0].text
    # 'Unpaid court judgment of 12 March 2026 (record 17): −200.00 points until 12 March
    #  2031; it keeps you on the black list “Dishonest judgment debtors” until 12 March
    #  2029. Fulfil the obligation (pay what is owed or do what was ordered) and keep the
    #  proof; 6 months after it was fulfilled you may ask for credit repair (from 12
    #  September 2026 if you fulfil it today; sooner if you already have), and then your
    #  grade would be A and you would be on no list.'

Every answer is derived by re-running :func:`~trustledger.policy.evaluate.evaluate` on
other days (and, for repair, on the record with ``repaired_on`` set): nothing here
projects a score by its own arithmetic, so a path can never disagree with the score the
subject will actually get. An :class:`Outlook` is "the status on that day if nothing else
changes": the same records, no new ones, no objection decided.

Like the rest of the policy package these are pure functions: no clock, no I/O. The
sentences are for the people the records are about: a true minus sign and dates written
"12 March 2026" (see :mod:`trustledger.policy.explain`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from trustledger.domain.duration import add_months
from trustledger.domain.record import RecordVersion
from trustledger.domain.score import LineKind, ListMembership, ScoreResult, cents_to_points
from trustledger.domain.subject import SubjectId, SubjectKind
from trustledger.policy.evaluate import evaluate
from trustledger.policy.explain import format_date, format_points
from trustledger.policy.schema import Policy, RecordType

__all__ = [
    "MAX_HORIZON_MONTHS",
    "ListEffect",
    "Outlook",
    "RepairPath",
    "earliest_repair",
    "first_change",
    "horizon_for",
    "outlook",
    "paths_to_repair",
]

#: :func:`first_change` looks at most this far ahead of ``as_of`` (ten years).
MAX_HORIZON_MONTHS = 120


@dataclass(frozen=True, slots=True)
class Outlook:
    """The subject's status on ``day`` if nothing else changes."""

    day: date
    score_cents: int
    grade: str
    #: ``"list:rule"`` of every list entry on that day, sorted.
    lists: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "score": float(cents_to_points(self.score_cents)),
            "grade": self.grade,
            "lists": list(self.lists),
        }


@dataclass(frozen=True, slots=True)
class ListEffect:
    """A list entry a record puts or keeps the subject on.

    ``until`` is the first day the record no longer does so: for a record-type rule the
    end of this record's own entry (its rule's duration, or sooner if the record stops
    counting); for a threshold rule the entry's projected end, ``None`` when the score is
    not projected to recover within the evaluator's horizon.
    """

    list: str
    rule: str
    until: date | None

    def as_json(self) -> dict[str, Any]:
        return {
            "list": self.list,
            "rule": self.rule,
            "until": None if self.until is None else self.until.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class RepairPath:
    """One negative record that counts today: what it does and what would undo it."""

    record_id: int
    record_type: str
    #: One or two plain sentences for the subject.
    text: str
    #: The first day it no longer counts by itself: the end of ``counts_for``, the end
    #: of the situation (``valid_to``) or an approved repair, whichever comes first.
    stops_counting: date
    lists: tuple[ListEffect, ...]
    #: The record type allows credit repair (it has ``repair_after``).
    repairable: bool
    #: What cures it, in words.
    cure: str
    #: The earliest day repair may be asked if the obligation were fulfilled today (or on
    #: the day the record ended); ``None`` when not repairable or already repaired.
    repair_from: date | None
    #: The first day after ``as_of`` on which the grade or the list entries differ from
    #: today's with no action at all; the same for every path of a subject.
    next_change: Outlook | None
    #: The status on ``repair_from`` if the repair were approved to take effect that day.
    after_repair: Outlook | None

    def as_json(self) -> dict[str, Any]:
        return {
            "record_id": self.record_id,
            "record_type": self.record_type,
            "text": self.text,
            "stops_counting": self.stops_counting.isoformat(),
            "lists": [effect.as_json() for effect in self.lists],
            "repairable": self.repairable,
            "cure": self.cure,
            "repair_from": None if self.repair_from is None else self.repair_from.isoformat(),
            "next_change": None if self.next_change is None else self.next_change.as_json(),
            "after_repair": None if self.after_repair is None else self.after_repair.as_json(),
        }


# --------------------------------------------------------------------------------------
# Outlooks.


def _outlook_of(result: ScoreResult) -> Outlook:
    return Outlook(
        day=result.as_of,
        score_cents=result.score_cents,
        grade=result.grade,
        lists=tuple(sorted(f"{m.list}:{m.rule}" for m in result.lists)),
    )


def outlook(
    policy: Policy,
    records: Iterable[RecordVersion],
    *,
    subject_id: SubjectId,
    subject_kind: SubjectKind,
    policy_version: str,
    day: date,
) -> Outlook:
    """The subject's score, grade and list entries on ``day`` from these records as they
    stand (no new record, no objection decided, no repair)."""
    return _outlook_of(
        evaluate(
            policy,
            records,
            subject_id=subject_id,
            subject_kind=subject_kind,
            as_of=day,
            policy_version=policy_version,
        )
    )


def horizon_for(
    policy: Policy, records: Iterable[RecordVersion], *, as_of: date, result: ScoreResult
) -> date:
    """How far ahead anything can still change without action, at most ten years.

    The latest of: the day each record in the file stops counting (``counts_for``,
    ``valid_to``, ``repaired_on``), the day each list rule with a duration or a clean
    window lets go of each record, and the end of each list entry in ``result`` (the
    evaluation on ``as_of``). After the latest of them nothing moves any more. Capped at
    ``as_of`` plus :data:`MAX_HORIZON_MONTHS`.
    """
    cap = add_months(as_of, MAX_HORIZON_MONTHS)
    spans = [
        span
        for list_def in policy.lists.values()
        for rule in list_def.rules
        for span in (rule.duration, rule.no_negative_within)
        if span is not None
    ]
    latest = as_of
    for r in records:
        rt = policy.record_types.get(r.record_type)
        if rt is None or r.withdrawn:
            continue
        latest = max(latest, _stops(r, rt))
        for span in spans:
            latest = max(latest, span.after(r.valid_from))
    for m in result.lists:
        if m.until is not None:
            latest = max(latest, m.until)
    return min(latest, cap)


def first_change(
    policy: Policy,
    records: Iterable[RecordVersion],
    *,
    subject_id: SubjectId,
    subject_kind: SubjectKind,
    as_of: date,
    policy_version: str,
    horizon: date | None = None,
) -> Outlook | None:
    """The first day after ``as_of``, up to ``horizon``, on which the grade or the set of
    list entries (list and rule) differs from ``as_of``'s, if nothing else changes.

    The score moves every day while records decay, so the days are not tried one by one:
    the search steps a calendar month at a time from ``as_of`` and, at the first step
    whose status differs, finds the exact first day by halving between the last day that
    was unchanged and that day. **Assumption:** a change that reverts within one month
    step (a grade lost and won back inside the same month) can be missed, and if the
    status changes more than once inside one step the halving finds one of those days,
    not necessarily the first. Decay moves a score steadily towards the base and entries
    end on fixed days, so neither happens with the evaluator's rules unless records of
    both signs cross a boundary in opposite directions within a month.

    ``horizon`` defaults to :func:`horizon_for`. ``None`` when nothing changes by then.
    """
    records = list(records)

    def at(day: date) -> ScoreResult:
        return evaluate(
            policy,
            records,
            subject_id=subject_id,
            subject_kind=subject_kind,
            as_of=day,
            policy_version=policy_version,
        )

    today = at(as_of)
    if horizon is None:
        horizon = horizon_for(policy, records, as_of=as_of, result=today)
    return _first_change(at, _outlook_of(today), as_of, horizon)


def _state(o: Outlook) -> tuple[str, tuple[str, ...]]:
    return o.grade, o.lists


def _first_change(
    at: Callable[[date], ScoreResult], start: Outlook, as_of: date, horizon: date
) -> Outlook | None:
    """:func:`first_change` with the evaluation at a day given as ``at``."""
    baseline = _state(start)

    def look(day: date) -> Outlook:
        return _outlook_of(at(day))

    previous = as_of
    months = 0
    while previous < horizon:
        months += 1
        day = min(add_months(as_of, months), horizon)
        seen = look(day)
        if _state(seen) != baseline:
            low, high = previous, day  # unchanged on low, changed on high
            while (high - low).days > 1:
                middle = low + timedelta(days=(high - low).days // 2)
                probe = look(middle)
                if _state(probe) != baseline:
                    high, seen = middle, probe
                else:
                    low = middle
            return seen
        previous = day
    return None


# --------------------------------------------------------------------------------------
# Repair.


def _stops(record: RecordVersion, rt: RecordType) -> date:
    """The first day ``record`` no longer counts by itself."""
    end = rt.counts_for.after(record.valid_from)
    for other in (record.valid_to, record.repaired_on):
        if other is not None and other < end:
            end = other
    return end


def earliest_repair(record: RecordVersion, record_type: RecordType, as_of: date) -> date | None:
    """The earliest day credit repair may be asked for ``record``, seen from ``as_of``.

    The waiting period ``repair_after`` runs from the day the obligation was fulfilled:
    the record's ``valid_to`` when the situation has already ended (on or before
    ``as_of``), otherwise ``as_of`` (fulfilled today). A waiting period that is already
    over gives ``as_of``. ``None`` when the type allows no repair or a repair was
    already approved.
    """
    wait = record_type.repair_after
    if wait is None or record.repaired_on is not None:
        return None
    ended = record.valid_to is not None and record.valid_to <= as_of
    fulfilled = record.valid_to if ended and record.valid_to is not None else as_of
    return max(wait.after(fulfilled), as_of)


def paths_to_repair(
    policy: Policy,
    records: Iterable[RecordVersion],
    *,
    subject_id: SubjectId,
    subject_kind: SubjectKind,
    as_of: date,
    policy_version: str,
) -> list[RepairPath]:
    """One :class:`RepairPath` per negative record that counts on ``as_of``.

    A negative record is a record line of the score with ``full_cents < 0``; the paths
    come in the order of the score's lines. A record that does not count (ended,
    expired, repaired, set aside while disputed, ...) has no path: it already costs
    nothing. ``next_change`` is the subject's, shared by every path;
    ``after_repair`` re-scores the file with this one record repaired on
    ``repair_from`` and every other record as it is.
    """
    records = list(records)
    by_id = {r.record_id: r for r in records}

    def at(day: date, file: Sequence[RecordVersion] = records) -> ScoreResult:
        return evaluate(
            policy,
            file,
            subject_id=subject_id,
            subject_kind=subject_kind,
            as_of=day,
            policy_version=policy_version,
        )

    today = at(as_of)
    negative = [
        line
        for line in today.lines
        if line.kind is LineKind.RECORD and (line.full_cents or 0) < 0 and line.record_id in by_id
    ]
    if not negative:
        return []
    horizon = horizon_for(policy, records, as_of=as_of, result=today)
    change = _first_change(at, _outlook_of(today), as_of, horizon)

    paths: list[RepairPath] = []
    for line in negative:
        assert line.record_id is not None
        record = by_id[line.record_id]
        rt = policy.record_types[record.record_type]
        stops = _stops(record, rt)
        effects = _list_effects(policy, today.lists, record, stops)
        repair_from = earliest_repair(record, rt, as_of)
        after: Outlook | None = None
        if repair_from is not None:
            repaired = dataclasses.replace(record, repaired_on=repair_from)
            file = [repaired if r.record_id == record.record_id else r for r in records]
            after = _outlook_of(at(repair_from, file))
        cure = _cure(rt, stops, record, repair_from)
        head = _head(policy, rt, record, line.cents, stops, effects)
        tail = _tail(policy, rt, record, as_of, stops, cure, repair_from, after)
        paths.append(
            RepairPath(
                record_id=record.record_id,
                record_type=record.record_type,
                text=f"{head} {tail}",
                stops_counting=stops,
                lists=effects,
                repairable=rt.repair_after is not None,
                cure=cure,
                repair_from=repair_from,
                next_change=change,
                after_repair=after,
            )
        )
    return paths


def _list_effects(
    policy: Policy,
    memberships: Sequence[ListMembership],
    record: RecordVersion,
    stops: date,
) -> tuple[ListEffect, ...]:
    """The entries that name ``record`` among the records behind them."""
    out: list[ListEffect] = []
    for m in memberships:
        if record.record_id not in m.record_ids:
            continue
        until = m.until
        list_def = policy.lists.get(m.list)
        rule = None
        if list_def is not None:
            rule = next((r for r in list_def.rules if r.id == m.rule), None)
        if rule is not None and rule.record_types and rule.duration is not None:
            until = min(rule.duration.after(record.valid_from), stops)
        out.append(ListEffect(list=m.list, rule=m.rule, until=until))
    return tuple(out)


# --------------------------------------------------------------------------------------
# Sentences.


def _list_name(policy: Policy, name: str) -> str:
    list_def = policy.lists.get(name)
    if list_def is None:
        return f"the list \u201c{name}\u201d"
    return f"the {list_def.kind} list \u201c{list_def.title}\u201d"


def _head(
    policy: Policy,
    rt: RecordType,
    record: RecordVersion,
    cents: int,
    stops: date,
    effects: Sequence[ListEffect],
) -> str:
    """What the record does today: its points until it stops, and its list entries."""
    fades = rt.decay.kind != "none" and rt.decay.period is not None
    points = f"{format_points(cents)} points" + (" now and fading," if fades else "")
    text = (
        f"{rt.title} of {format_date(record.valid_from)} (record {record.record_id}): "
        f"{points} until {format_date(stops)}"
    )
    if effects:
        text += "; it keeps you on " + _effects_phrase(policy, effects)
    return text + "."


def _effects_phrase(policy: Policy, effects: Sequence[ListEffect]) -> str:
    """``the black list “X” until 12 March 2029 and for a score below 600.00 until ...``:
    one phrase per list; the record's own entries first, then threshold rules, which say
    so."""
    by_list: dict[str, list[tuple[bool, str]]] = {}
    for effect in effects:
        list_def = policy.lists.get(effect.list)
        rule = None
        if list_def is not None:
            rule = next((r for r in list_def.rules if r.id == effect.rule), None)
        why = ""
        if rule is not None and rule.score_below is not None:
            why = f"for a score below {format_points(int(rule.score_below * 100))} "
        elif rule is not None and rule.score_at_least is not None:
            why = f"for a score of at least {format_points(int(rule.score_at_least * 100))} "
        if effect.until is not None:
            end = f"until {format_date(effect.until)}"
        elif list_def is not None and list_def.kind == "red":
            end = "for as long as the conditions hold"
        else:
            end = "until the score recovers"
        by_list.setdefault(effect.list, []).append((bool(why), why + end))
    return " and on ".join(
        f"{_list_name(policy, name)} {' and '.join(end for _, end in sorted(ends))}"
        for name, ends in by_list.items()
    )


def _cure(rt: RecordType, stops: date, record: RecordVersion, repair_from: date | None) -> str:
    if record.repaired_on is not None:
        return f"Credit repair was approved; it stops counting on {format_date(stops)}"
    if rt.repair_after is None or repair_from is None:
        return (
            "This type of record cannot be repaired early; "
            f"it stops counting on {format_date(stops)}"
        )
    return (
        "Fulfil the obligation (pay what is owed or do what was ordered) and keep the proof; "
        f"{rt.repair_after.describe()} after it was fulfilled, ask for credit repair"
    )


def _tail(
    policy: Policy,
    rt: RecordType,
    record: RecordVersion,
    as_of: date,
    stops: date,
    cure: str,
    repair_from: date | None,
    after: Outlook | None,
) -> str:
    """What would cure the record and what the subject's status would be then."""
    if repair_from is None or rt.repair_after is None:
        return cure + "."
    wait = rt.repair_after.describe()
    if record.valid_to is not None and record.valid_to <= as_of:
        text = (
            f"It ended on {format_date(record.valid_to)}, so you may ask for credit repair "
            f"from {format_date(repair_from)}"
        )
    else:
        text = (
            "Fulfil the obligation (pay what is owed or do what was ordered) and keep the "
            f"proof; {wait} after it was fulfilled you may ask for credit repair (from "
            f"{format_date(repair_from)} if you fulfil it today; sooner if you already have)"
        )
    if repair_from >= stops or after is None:
        return text + f"; by then it has stopped counting by itself, on {format_date(stops)}."
    return text + f", and then your grade would be {after.grade} and {_on_lists(policy, after)}."


def _on_lists(policy: Policy, o: Outlook) -> str:
    names: list[str] = []
    for entry in o.lists:
        name = entry.partition(":")[0]
        if name not in names:
            names.append(name)
    if not names:
        return "you would be on no list"
    return "you would be on " + " and ".join(_list_name(policy, n) for n in names)
