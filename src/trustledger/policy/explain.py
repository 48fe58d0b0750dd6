"""A score in plain language: one sentence per line, per list entry, per set-aside record.

Pure functions of a :class:`ScoreResult` and the policy that made it::

    >>> explain_text(result, policy)  # doctest: +SKIP
    ['Score 843.93 (grade C) = base 1000.00 − 156.07 (Finance and credit) ...',
     "Loan default of 12 March 2026, Example Bank: −150.00 points, now −106.39 after ..."]

Negative numbers carry a real minus sign (U+2212) and dates read "12 March 2026", because
these sentences are shown to the people they are about.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from trustledger.domain.duration import Duration, add_months
from trustledger.domain.score import (
    Contribution,
    LineKind,
    ListMembership,
    NotCounted,
    ScoreResult,
    cents_to_points,
)
from trustledger.policy.schema import Policy

__all__ = [
    "describe_line",
    "describe_membership",
    "describe_not_counted",
    "explain_text",
    "format_date",
    "format_points",
]

MINUS = "\u2212"

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

_NOT_COUNTED = {
    "retracted": "it was retracted, by its provider or after a review of an objection",
    "unknown record type": "this policy does not score records of this type",
    "not applicable": "records of this type do not apply to this kind of subject",
    "not yet valid": "it only takes effect later",
    "ended": "the situation it records has ended",
    "expired": "it has stopped counting",
    "disputed": "it is under objection and does not count until the review decides",
    "review overdue": "it is under objection and the review deadline passed without a "
    "decision, so it does not count until one is made",
    "repaired": "credit repair was approved: the obligation was fulfilled",
    "past retention": "the retention period ended and the record left the file",
}


def format_date(day: date) -> str:
    """A date as people write it.

    >>> format_date(date(2026, 3, 12))
    '12 March 2026'
    """
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def format_points(cents: int, *, signed: bool = False) -> str:
    """Points from cents, with a true minus sign; ``signed`` adds ``+`` to positives.

    >>> format_points(-10607), format_points(2000, signed=True), format_points(5)
    ('−106.07', '+20.00', '0.05')
    """
    sign = MINUS if cents < 0 else ("+" if signed and cents > 0 else "")
    return f"{sign}{cents_to_points(abs(cents))}"


def _magnitude(cents: int) -> str:
    return format_points(abs(cents))


def _age(start: date, end: date) -> Duration:
    """Whole calendar months then days from ``start`` to ``end`` (``end >= start``)."""
    months = (end.year - start.year) * 12 + end.month - start.month
    if add_months(start, months) > end:
        months -= 1
    return Duration(months=months, days=(end - add_months(start, months)).days)


def _record_type_title(policy: Policy, name: str | None) -> str:
    rt = policy.record_types.get(name or "")
    return rt.title if rt is not None else (name or "record")


def _domain_title(policy: Policy, name: str | None) -> str:
    domain = policy.domains.get(name or "")
    return domain.title if domain is not None else (name or "")


def describe_line(line: Contribution, policy: Policy, *, as_of: date) -> str:
    """One line of a score in a sentence.

    >>> describe_line(line, policy, as_of=date(2026, 9, 12))  # doctest: +SKIP
    'Unpaid court judgment of 12 March 2026, Intermediate People's Court of Example City:
    −200.00 points, does not fade, stops counting on 12 March 2031'
    """
    if line.kind is LineKind.CAP:
        return _describe_cap(line, policy)
    if line.kind is LineKind.BOUND:
        return _describe_bound(line, policy)

    title = _record_type_title(policy, line.record_type)
    provider = policy.providers.get(line.provider or "")
    parts = [title]
    if line.valid_from is not None:
        parts.append(f" of {format_date(line.valid_from)}")
    if line.provider:
        parts.append(f", {provider.title if provider is not None else line.provider}")
    full = line.full_cents if line.full_cents is not None else line.cents
    parts.append(f": {format_points(full, signed=True)} points")

    rt = policy.record_types.get(line.record_type or "")
    decay = rt.decay if rt is not None else None
    if decay is None or decay.kind == "none" or decay.period is None:
        parts.append(", does not fade")
    else:
        if line.valid_from is not None and as_of > line.valid_from:
            age = f"after {_age(line.valid_from, as_of).describe()}"
        else:
            age = "on its first day"
        parts.append(f", now {format_points(line.cents, signed=True)} {age}")
        if decay.kind == "half_life":
            parts.append(f", halves every {decay.period.describe()}")
        else:
            parts.append(f", falls to zero evenly over {decay.period.describe()}")
    if line.stops_counting is not None:
        parts.append(f", stops counting on {format_date(line.stops_counting)}")
    if line.disputed and line.dispute_settled:
        parts.append(
            " (under objection again; an earlier objection to it was reviewed and upheld, so "
            "it keeps counting until the review decides)"
        )
    elif line.disputed:
        parts.append(
            " (under objection; this type keeps counting until the review decides, and stops "
            "if the review deadline passes first)"
        )
    return "".join(parts)


def _describe_cap(line: Contribution, policy: Policy) -> str:
    domain = policy.domains.get(line.domain or "")
    negative = line.rule.endswith(".cap_negative")
    cap = None
    if domain is not None:
        cap = domain.cap_negative if negative else domain.cap_positive
    limit = "" if cap is None else f" by at most {_magnitude(int(cap * 100))} points"
    verb, outcome = ("lower", "given back") if negative else ("raise", "taken off")
    return (
        f"Cap on {_domain_title(policy, line.domain)}: the domain may {verb} the score{limit}, "
        f"so {_magnitude(line.cents)} points are {outcome}"
    )


def _describe_bound(line: Contribution, policy: Policy) -> str:
    low = line.rule == "policy.min_score"
    bound = policy.policy.min_score if low else policy.policy.max_score
    limit = "" if bound is None else f" {format_points(int(bound * 100))}"
    which, outcome = ("Lowest", "given back") if low else ("Highest", "taken off")
    return f"{which} possible score{limit}: {_magnitude(line.cents)} points are {outcome}"


def describe_membership(m: ListMembership, policy: Policy) -> str:
    """A list entry in a sentence, with its end date or what ends it.

    >>> describe_membership(m, policy)  # doctest: +SKIP
    'On the black list "Low scores" (not public) since 1 May 2026 until the score recovers:
    the score 743.93 is below 800.00'
    """
    list_def = policy.lists.get(m.list)
    title = list_def.title if list_def is not None else m.list
    rule = None
    if list_def is not None:
        rule = next((r for r in list_def.rules if r.id == m.rule), None)
    visibility = "public" if m.public else "not public"
    head = f"On the {m.kind} list \u201c{title}\u201d ({visibility}) since {format_date(m.since)}"

    if m.until is not None:
        end = f"until {format_date(m.until)}"
    elif m.kind == "red":
        end = "for as long as the conditions hold"
    else:
        end = "until the score recovers"

    if rule is None:
        why = m.reason
    elif rule.record_types:
        types = " or ".join(_record_type_title(policy, t) for t in rule.record_types)
        lasts = f"; an entry lasts {rule.duration.describe()}" if rule.duration else ""
        why = f"because of a counting record of type {types}{lasts}"
    elif rule.score_below is not None:
        why = f"the score fell below {format_points(int(rule.score_below * 100))}"
        if rule.duration is not None:
            why += f"; an entry lasts at least {rule.duration.describe()}"
    else:
        assert rule.score_at_least is not None
        why = f"the score is at least {format_points(int(rule.score_at_least * 100))}"
        if rule.no_negative_within is not None:
            why += (
                f" and no negative record counts from the last {rule.no_negative_within.describe()}"
            )
    records = ""
    if m.record_ids:
        records = " (based on record" + ("s " if len(m.record_ids) > 1 else " ")
        records += ", ".join(str(i) for i in m.record_ids) + ")"
    return f"{head} {end}: {why}{records}"


def describe_not_counted(item: NotCounted, policy: Policy) -> str:
    """Why a record in the file does not count.

    >>> describe_not_counted(NotCounted(17, "late_payment", "expired"), policy)  # doctest: +SKIP
    'Late payment (record 17) does not count: it has stopped counting'
    """
    title = _record_type_title(policy, item.record_type)
    why = _NOT_COUNTED.get(item.reason, item.reason)
    return f"{title} (record {item.record_id}) does not count: {why}"


def _header(result: ScoreResult, policy: Policy) -> str:
    terms: list[str] = []
    for domain, cents in sorted(result.domain_totals().items()):
        terms.append(f"{_term(cents)} ({_domain_title(policy, domain)})")
    for line in result.lines:
        if line.kind is LineKind.BOUND:
            which = "lowest" if line.rule == "policy.min_score" else "highest"
            terms.append(f"{_term(line.cents)} ({which} possible score)")
    head = (
        f"Score {format_points(result.score_cents)} (grade {result.grade}) "
        f"= base {format_points(result.base_cents)}"
    )
    if not terms:
        return head + " (no record counts)"
    return head + " " + " ".join(terms)


def _term(cents: int) -> str:
    return f"{MINUS if cents < 0 else '+'} {_magnitude(cents)}"


def explain_text(result: ScoreResult, policy: Policy) -> list[str]:
    """The whole explanation: the sum, each line, each list entry, each set-aside record."""
    out = [_header(result, policy)]
    out.extend(describe_line(line, policy, as_of=result.as_of) for line in result.lines)
    out.extend(describe_membership(m, policy) for m in result.lists)
    out.extend(_not_counted_summary(result.not_counted, policy))
    return out


#: How many record ids a summary line names before it says "and N more".
_MAX_IDS = 8


def _not_counted_summary(items: Sequence[NotCounted], policy: Policy) -> list[str]:
    """One line per reason, so a long file stays readable; ``--json`` has every record."""
    if len(items) <= 3:
        return [describe_not_counted(item, policy) for item in items]
    by_reason: dict[str, list[NotCounted]] = {}
    for item in items:
        by_reason.setdefault(item.reason, []).append(item)
    lines = []
    for reason, group in by_reason.items():
        why = _NOT_COUNTED.get(reason, reason)
        ids = ", ".join(str(i.record_id) for i in group[:_MAX_IDS])
        more = f" and {len(group) - _MAX_IDS} more" if len(group) > _MAX_IDS else ""
        noun = "record does" if len(group) == 1 else "records do"
        label = "record" if len(group) == 1 else "records"
        lines.append(f"{len(group)} {noun} not count: {why} ({label} {ids}{more})")
    return lines
