"""What happens without anyone acting: records leave the file at the end of their
retention, reviews pass their deadline, list entries end, notifications are delivered.

``trustledger maintain`` runs :func:`maintain` once; ``trustledger serve`` runs it on a
schedule. Each step is its own transaction with its audit events, so a crash between
steps leaves a consistent registry and the next run carries on. One run at a time per
database (:func:`~trustledger.store.locks.maintenance_lock`): with several ``serve``
workers, or a cron job beside them, the others skip their turn.

1. **Expiry.** Every record whose retention (``retention``, else ``counts_for``) has run
   out by today, in the policy's time zone, gets an ``expire`` version: it no longer
   counts and leaves the subject's file. As-of questions about earlier times still see it.
2. **Overdue reviews.** An open case past its deadline is flagged once (a case event and an
   audit event). Its record stops counting by itself from the deadline (scoring reads it).
3. **Current state.** Once a day (when the current state is older than today) every
   subject is scored afresh into a new score run, so that decayed points, records that
   stopped counting and list entries that ended show on the public register; otherwise
   only the subjects steps 1 and 2 touched, and those whose records a provider's batch
   changed since their last rescore, are rescored.
4. **Delivery.** Notifications due are sent to their webhooks (outside any transaction).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, Engine

from trustledger.domain.principal import Actor
from trustledger.domain.record import RecordAction
from trustledger.service import outbox
from trustledger.service.audit import AuditLog, Entry
from trustledger.service.policies import active_policy
from trustledger.service.rights import remake_decisions
from trustledger.service.scoring import rescore_subjects, score_all
from trustledger.store import cases as case_store
from trustledger.store import records as record_store
from trustledger.store import scores as score_store
from trustledger.store import sessions as session_store
from trustledger.store.locks import maintenance_lock
from trustledger.store.records import NewVersion

__all__ = ["MaintenanceReport", "maintain"]


#: How long ended web sessions and used or expired sign-in codes are kept.
SESSION_KEEP = timedelta(days=30)


@dataclass(slots=True)
class MaintenanceReport:
    today: date
    expired: int = 0
    overdue: list[str] = field(default_factory=list)
    rescored: int = 0
    score_run: int | None = None
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    #: Web sessions and sign-in codes over a month past their end, deleted.
    sessions_purged: int = 0
    #: Another process was maintaining this database: this run did nothing.
    skipped: bool = False


def maintain(
    engine: Engine,
    audit: AuditLog,
    actor: Actor,
    *,
    now: datetime,
    deliver: bool = True,
    full: bool | None = None,
    begin: Callable[[], AbstractContextManager[Connection]] | None = None,
) -> MaintenanceReport:
    """Run every step once as of ``now``. ``full`` forces (True) or skips (False) the
    whole-population rescore; by default it runs once a day. ``begin`` opens each write
    transaction (default ``engine.begin``; the service passes its own, which queues SQLite
    writers in the process instead of in SQLite's busy handler)."""
    with maintenance_lock(engine) as held:
        if not held:
            with engine.connect() as conn:
                active = active_policy(conn)
            today = now.astimezone(active.policy.policy.zone).date()
            return MaintenanceReport(today, skipped=True)
        return _maintain(engine, audit, actor, now=now, deliver=deliver, full=full, begin=begin)


def _maintain(
    engine: Engine,
    audit: AuditLog,
    actor: Actor,
    *,
    now: datetime,
    deliver: bool,
    full: bool | None,
    begin: Callable[[], AbstractContextManager[Connection]] | None,
) -> MaintenanceReport:
    begin = begin or engine.begin
    with engine.connect() as conn:
        active = active_policy(conn)
    policy = active.policy
    today = now.astimezone(policy.policy.zone).date()
    report = MaintenanceReport(today)
    touched: set[int] = set()

    # 1. Expiry, per record type: a coarse date bound in SQL, the exact rule in Python.
    with begin() as conn:
        versions: list[NewVersion] = []
        for name, rt in policy.record_types.items():
            kept = rt.kept_for
            # kept_for.after(valid_from) <= today implies valid_from <= today - kept days
            # (a month is at least 28 days): a safe bound that the exact check refines.
            bound = today - timedelta(days=kept.months * 28 + kept.days)
            for cur in record_store.live_records_before(conn, name, bound, known_at=now):
                if kept.after(cur.valid_from) <= today:
                    versions.append(
                        record_store.next_version(
                            cur,
                            RecordAction.EXPIRE,
                            f"maintain:{today.isoformat()}",
                            amount=None,
                            note=None,
                        )
                    )
        if versions:
            record_store.insert_versions(conn, versions, now=now)
            by_subject: dict[int, list[int]] = {}
            for v in versions:
                by_subject.setdefault(v.subject_id, []).append(v.record_id)
            audit.append(
                conn,
                actor,
                [
                    Entry("records.expire", sid, {"records": ids, "day": today.isoformat()})
                    for sid, ids in sorted(by_subject.items())
                ],
                now=now,
            )
            touched.update(by_subject)
        report.expired = len(versions)

    # Web sign-in: sessions and codes a month past their end are of no use to anyone.
    with begin() as conn:
        report.sessions_purged = session_store.purge(conn, before=now - SESSION_KEEP)

    # 2. Reviews past their deadline.
    with begin() as conn:
        late = case_store.overdue_cases(conn, now)
        for case in late:
            case_store.add_event(
                conn,
                case.id,
                at=now,
                actor="maintain",
                role=actor.role.value,
                action="overdue",
                detail={"deadline": case.deadline.isoformat()},
            )
        if late:
            entries = [Entry("case.overdue", c.subject_id, {"case": c.id}) for c in late]
            # A disputed record that kept counting stops at its deadline: decisions resting
            # on it are made again.
            # (Not one whose facts an upheld objection settled: that keeps counting.)
            disputes = case_store.disputes_as_of(conn, now)
            stopped = [
                c.record_id
                for c in late
                if c.kind == "objection"
                and (kind := policy.record_types.get(c.record_type)) is not None
                and kind.disputed_counts
                and not (c.record_id in disputes and disputes[c.record_id].settled)
            ]
            if stopped:
                _, remade = remake_decisions(
                    conn,
                    active,
                    actor,
                    stopped,
                    now=now,
                    cause={"event": "review_overdue", "records": stopped},
                )
                entries.extend(remade)
            audit.append(conn, actor, entries, now=now)
        report.overdue = [c.id for c in late]
        touched.update(c.subject_id for c in late)

    # 3. The current state.
    with engine.connect() as conn:
        fresh = score_store.current_as_of(conn)
    if full or (full is None and (fresh is None or fresh[0] < today)):
        summary = score_all(engine, as_of=today, known_at=now, now=now, begin=begin)
        report.score_run = summary.run.id
        report.rescored = summary.run.subjects
    else:
        with begin() as conn:
            # Also whoever a provider's batch changed since its last rescore.
            touched.update(score_store.stale_subjects(conn))
            if touched:
                report.rescored = len(rescore_subjects(conn, active, sorted(touched), now=now))

    # 4. Delivery.
    if deliver:
        delivery = outbox.deliver_due(engine, now=now)
        report.delivered = delivery.delivered
        report.retrying = delivery.retrying
        report.failed = delivery.failed
    return report
