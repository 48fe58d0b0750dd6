"""The operators' dashboard: the registry in figures, for the dashboard page.

=====================================  ====================================================
use case                               who
=====================================  ====================================================
``figures``                            operators only
=====================================  ====================================================

Everything is counted, nothing named: grades and lists from the current state, records
per domain and month, the review queue, each provider's records and objections, the
latest files ingested with their outcome, the batches waiting in quarantine, and the
latest batches sent over the API. One transaction reads it all and appends one audit
event (``dashboard.read``, about no subject).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from trustledger.domain.principal import Actor, Role
from trustledger.domain.subject import SubjectKind
from trustledger.errors import FieldError, Forbidden
from trustledger.policy.schema import Policy
from trustledger.service.audit import Entry
from trustledger.store import batches as batch_store
from trustledger.store import cases as case_store
from trustledger.store import scores as score_store
from trustledger.store import stats

if TYPE_CHECKING:
    from trustledger.service.registry import Registry

__all__ = ["MAX_MONTHS", "RECENT_BATCHES", "Dashboard", "month_range"]

#: The longest history ``records_by_domain`` covers, and how many API batches are shown.
MAX_MONTHS = 120
RECENT_BATCHES = 20
#: The window of a provider's "recent" records.
RECENT_DAYS = 30

_PERSON = SubjectKind.PERSON.value
_ORGANISATION = SubjectKind.ORGANISATION.value
OUTCOMES = ("upheld", "corrected", "retracted", "approved", "refused")
_KINDS = ("objection", "repair")


def month_range(today: date, months: int) -> list[str]:
    """The ``months`` months ending with ``today``'s, oldest first, as ``YYYY-MM``.

    >>> month_range(date(2026, 2, 14), 3)
    ['2025-12', '2026-01', '2026-02']
    """
    index = today.year * 12 + today.month - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index - months + 1, index + 1)]


@dataclass
class Dashboard:
    """The dashboard's use cases, over the registry's transactions, policy and log."""

    registry: Registry

    def figures(self, actor: Actor, *, months: int = 24) -> dict[str, Any]:
        """The registry in figures, with ``months`` (1 to 120) of records per domain.

        * ``as_of``, ``updated_at``: how fresh the current state is (None before any
          scoring); ``policy_version``: the policy in force;
        * ``grades``: per grade of the policy, best first, ``persons`` and
          ``organisations`` with that current grade;
        * ``lists``: per list of the policy, its ``name``, ``title``, ``kind``, ``public``
          and the ``persons``, ``organisations`` and ``subjects`` with an entry in force
          today;
        * ``records_by_domain``: ``months`` (``YYYY-MM``, oldest first, ending with this
          month in the policy's time zone) and per domain of the policy its ``counts``,
          one a month, of the records valid from a day of that month that are still in
          the registry (each record once, by its newest version; retracted and expired
          ones left out);
        * ``cases``: ``open``, ``overdue``, ``by_outcome``, ``by_kind``, ``review_days``
          (of each decided case) and ``median_review_days``;
        * ``providers``: the policy's providers (then any other that sent records) with
          ``live_records``, ``received_last_30_days`` (new records) and ``objections``
          (received, open, upheld, corrected, retracted, median review hours);
        * ``ingest``: the latest 20 batches sent over the API, newest first, with what
          their report said was stored;
        * ``files``: the latest 20 files ingested (``trustledger ingest``), newest first,
          with their outcome (``status``: accepted, quarantined, retried) and counts;
          ``quarantine``: every file batch waiting in quarantine, with its problem count
          and the (at most three) columns most of its problems are in.
        """
        if actor.role is not Role.OPERATOR:
            raise Forbidden(f"only an operator reads the dashboard, not {actor.role.with_article}")
        if not 1 <= months <= MAX_MONTHS:
            raise FieldError("months", f"give 1 to {MAX_MONTHS} months, got {months}")
        reg = self.registry
        now = reg.clock()
        with reg._transaction() as conn:
            active = reg._policy(conn)
            policy = active.policy
            today = now.astimezone(policy.policy.zone).date()
            labels = month_range(today, months)
            start = date.fromisoformat(f"{labels[0]}-01")
            fresh = score_store.current_as_of(conn)
            grades = stats.grade_counts_by_kind(conn)
            lists = stats.list_counts_by_kind(conn, today)
            by_month = stats.records_by_type_and_month(conn, start=start, end=today, known_at=now)
            cases = stats.case_figures(conn, now=now)
            quality = {q.provider: q for q in case_store.provider_quality(conn)}
            live = stats.live_records_by_provider(conn, known_at=now)
            recent = stats.new_records_by_provider(
                conn, since=now - timedelta(days=RECENT_DAYS), until=now
            )
            batches = stats.recent_batches(conn, limit=RECENT_BATCHES)
            files = batch_store.list_batches(conn, limit=RECENT_BATCHES)
            waiting = batch_store.list_batches(conn, statuses=(batch_store.QUARANTINED,))
            reg.audit.append(
                conn,
                actor.with_purpose(actor.purpose or "registry_administration"),
                [Entry("dashboard.read", None, {"months": months})],
                now=now,
            )

        per_domain: dict[str, list[int]] = {name: [0] * months for name in policy.domains}
        position = {label: i for i, label in enumerate(labels)}
        for (record_type, month), n in by_month.items():
            rt = policy.record_types.get(record_type)
            if rt is not None and rt.domain in per_domain and month in position:
                per_domain[rt.domain][position[month]] += n

        names = list(policy.providers)
        names += sorted((set(quality) | set(live) | set(recent)) - set(names))
        providers = []
        for name in names:
            q = quality.get(name)
            known = policy.providers.get(name)
            providers.append(
                {
                    "provider": name,
                    "title": known.title if known else name,
                    "live_records": live.get(name, 0),
                    "received_last_30_days": recent.get(name, 0),
                    "objections": {
                        "received": q.received if q else 0,
                        "open": q.open if q else 0,
                        "upheld": q.upheld if q else 0,
                        "corrected": q.corrected if q else 0,
                        "retracted": q.retracted if q else 0,
                        "median_review_hours": q.median_review_hours if q else None,
                    },
                }
            )

        outcomes = dict.fromkeys(OUTCOMES, 0) | cases.by_outcome
        return {
            "as_of": fresh[0].isoformat() if fresh else None,
            "updated_at": fresh[1].isoformat() if fresh else None,
            "policy_version": active.label,
            "grades": [
                {
                    "grade": band.grade,
                    "meaning": band.meaning,
                    "persons": grades.get((band.grade, _PERSON), 0),
                    "organisations": grades.get((band.grade, _ORGANISATION), 0),
                }
                for band in policy.grades
            ],
            "lists": [
                {
                    "name": name,
                    "title": d.title,
                    "kind": d.kind,
                    "public": d.public,
                    "persons": lists.get((name, _PERSON), 0),
                    "organisations": lists.get((name, _ORGANISATION), 0),
                    "subjects": lists.get((name, _PERSON), 0) + lists.get((name, _ORGANISATION), 0),
                }
                for name, d in policy.lists.items()
            ],
            "records_by_domain": {
                "months": labels,
                "domains": [
                    {"domain": name, "title": d.title, "counts": per_domain[name]}
                    for name, d in policy.domains.items()
                ],
            },
            "cases": {
                "open": cases.open,
                "overdue": cases.overdue,
                "by_outcome": outcomes,
                "by_kind": dict.fromkeys(_KINDS, 0) | cases.by_kind,
                "review_days": cases.review_days,
                "median_review_days": (
                    round(statistics.median(cases.review_days), 2) if cases.review_days else None
                ),
            },
            "providers": providers,
            "files": [_file_batch(b, policy) for b in files],
            "quarantine": [_file_batch(b, policy) for b in waiting],
            "ingest": [
                {
                    "provider": b.provider,
                    "title": (
                        policy.providers[b.provider].title
                        if b.provider in policy.providers
                        else b.provider
                    ),
                    "received_at": b.received_at.isoformat(),
                    "idempotency_key": b.idempotency_key,
                    "batch": b.response.get("batch"),
                    "rows": _int(b.response.get("rows")),
                    "stored": sum(
                        _int(b.response.get(k)) for k in ("created", "corrected", "retracted")
                    ),
                    "created": _int(b.response.get("created")),
                    "corrected": _int(b.response.get("corrected")),
                    "retracted": _int(b.response.get("retracted")),
                    "unchanged": _int(b.response.get("unchanged")),
                }
                for b in batches
            ],
        }


def _file_batch(b: batch_store.BatchRow, policy: Policy) -> dict[str, Any]:
    """A provider's file batch in figures: its outcome and counts, and for a refused one
    the fields its problems are in (column names only: nothing of a row's content)."""
    counts = b.report.get("counts", {})
    fields: dict[str, int] = {}
    for problem in b.report.get("problems", []):
        fields[str(problem[2])] = fields.get(str(problem[2]), 0) + 1
    return {
        "id": b.id,
        "provider": b.provider,
        "title": policy.providers[b.provider].title
        if b.provider in policy.providers
        else b.provider,
        "received_at": b.received_at.isoformat(),
        "file": b.source.replace("\\", "/").rsplit("/", 1)[-1],
        "format": b.format,
        "status": b.status,
        "rows": b.rows,
        "problems": b.problems,
        "problem_fields": sorted(fields.items(), key=lambda kv: (-kv[1], kv[0]))[:3],
        **{
            k: _int(counts.get(k))
            for k in ("created", "corrected", "retracted", "unchanged", "linked", "duplicates")
        },
    }


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
