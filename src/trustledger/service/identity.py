"""Identity decisions by people: the review queue, accepting or rejecting a proposed
link, merging two subjects, splitting records off a subject or undoing a merge, and each
subject's identity history. Each use case runs in one transaction with its audit events.

=====================================  ====================================================
use case                               who
=====================================  ====================================================
``queue`` / ``show`` / ``history``     reviewers and operators
``accept`` / ``reject``                reviewers and operators
``merge`` / ``split``                  reviewers and operators
``load_model``                         operators
=====================================  ====================================================

A merge moves the merged-away subject's records to the subject it is merged into by a
new version of each record (recorded time now; "as known" before the merge they were
the other subject's), marks it ``merged_into`` so no lookup finds it, and moves its
profiles. A split moves records back the same way. Nothing is deleted: the decision a
split undoes is *ended* (``ended_at``, ``ended_by``), never edited. Both subjects are
rescored in the same transaction, and whoever received a decision resting on a moved
record gets it made again (the outbox).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import Connection

from trustledger.domain.principal import Actor, Role
from trustledger.domain.record import RecordAction
from trustledger.domain.subject import Subject, SubjectId
from trustledger.errors import Conflict, FieldError, Forbidden, NotFound
from trustledger.resolve import Resolution
from trustledger.resolve.model import MatchModel
from trustledger.resolve.names import name_forms
from trustledger.resolve.resolver import RESOLVER
from trustledger.service.audit import Entry
from trustledger.service.policies import ActivePolicy
from trustledger.service.rights import remake_decisions
from trustledger.service.scoring import rescore_subjects
from trustledger.store import identity as identity_store
from trustledger.store import records as record_store
from trustledger.store import subjects as subject_store
from trustledger.store.identity import DecisionRow, Profile
from trustledger.store.subjects import SubjectDraft

if TYPE_CHECKING:
    from trustledger.service.registry import Registry

__all__ = ["PURPOSE", "Identity", "decision_json", "link_entries"]

#: The purpose identity work is logged with.
PURPOSE: Final = "identity_review"
MAX_REASON: Final = 4000


def link_entries(links: Sequence[tuple[int, Resolution]]) -> list[Entry]:
    """The audit entries of the resolver's links (one per record), for ingestion to
    append with its own in the batch's transaction: ids, outcomes and weights, no names."""
    return [
        Entry(
            "identity.link",
            res.subject_id,
            {
                "record_id": record_id,
                "outcome": res.outcome,
                "candidate": res.candidate_subject_id,
                "match_weight": round(res.match_weight, 3)
                if res.match_weight is not None
                else None,
            },
        )
        for record_id, res in links
    ]


def _who(actor: Actor) -> str:
    return actor.key_id or actor.request_id


def _reason(value: str) -> str:
    value = value.strip()
    if not value:
        raise FieldError("reason", "is required: say why, for whoever reads the history")
    if len(value) > MAX_REASON:
        raise FieldError("reason", f"is {len(value):,} characters long; at most {MAX_REASON:,}")
    if any(ord(ch) < 32 and ch not in "\t\n\r" for ch in value):
        raise FieldError("reason", "contains a control character; only text is accepted")
    return value


def decision_json(d: DecisionRow) -> dict[str, Any]:
    return {
        "id": d.id,
        "kind": d.kind,
        "outcome": d.outcome,
        "record_id": d.record_id,
        "subject": d.subject_id,
        "other_subject": d.other_subject_id,
        "match_weight": d.match_weight,
        "match_probability": d.match_probability,
        "explanation": d.explanation,
        "evidence": d.evidence,
        "decided_at": d.decided_at.isoformat(),
        "decided_by": d.decided_by,
        "role": d.role,
        "live": d.live,
        "ended_at": d.ended_at.isoformat() if d.ended_at else None,
        "ended_by": d.ended_by,
    }


def _profile_json(p: Profile) -> dict[str, Any]:
    return {
        "source": p.source,
        "name": p.name,
        "birth_date": p.birth_date.isoformat() if p.birth_date else None,
        "address": p.address,
        "phone": p.phone,
    }


@dataclass
class Identity:
    """The identity use cases, over the registry's transactions, policy and log."""

    registry: Registry

    # -- helpers ---------------------------------------------------------------------------

    def _staff(self, actor: Actor, what: str) -> Actor:
        if actor.role not in (Role.OPERATOR, Role.REVIEWER):
            raise Forbidden(f"only a reviewer or an operator {what}, not {actor.role.with_article}")
        return actor.with_purpose(PURPOSE)

    def _decision(self, conn: Connection, decision_id: int, *, lock: bool = False) -> DecisionRow:
        found = identity_store.get_decision(conn, decision_id, for_update=lock)
        if found is None:
            raise NotFound(f"decision: no identity decision {decision_id}")
        return found

    def _subject_summary(self, conn: Connection, sid: SubjectId | None) -> dict[str, Any] | None:
        if sid is None:
            return None
        subject = subject_store.get_subject(conn, sid)
        if subject is None:
            return {"id": sid, "found": False}
        return {
            "id": subject.id,
            "found": True,
            "kind": subject.kind.value,
            "name": subject.name,
            "birth_date": subject.birth_date.isoformat() if subject.birth_date else None,
            "identifiers": [{"kind": i.kind, "value": i.value} for i in subject.identifiers],
        }

    def _detail(self, conn: Connection, d: DecisionRow) -> dict[str, Any]:
        """A decision with what a reviewer compares: both subjects and their profiles, and
        the record's current version."""
        body = decision_json(d)
        subjects = [s for s in (d.subject_id, d.other_subject_id) if s is not None]
        profiles = identity_store.profiles_of(conn, subjects)
        body["subjects"] = [self._subject_summary(conn, s) for s in subjects]
        body["profiles"] = {
            str(s): [_profile_json(p) for p in profiles if p.subject_id == s] for s in subjects
        }
        if d.record_id is not None:
            history = record_store.record_history(conn, d.record_id)
            if history:
                cur = history[-1]
                body["record"] = {
                    "record_id": cur.record_id,
                    "reference": cur.reference,
                    "provider": cur.provider,
                    "record_type": cur.record_type,
                    "valid_from": cur.valid_from.isoformat(),
                    "subject": cur.subject_id,
                    "action": cur.action.value,
                }
        return body

    def _rescored(
        self, conn: Connection, active: ActivePolicy, ids: list[SubjectId], now: datetime
    ) -> dict[str, Any]:
        results = rescore_subjects(conn, active, ids, now=now)
        return {
            str(sid): {
                "score": float(r.score),
                "grade": r.grade,
                "lists": [m.list for m in r.lists],
            }
            for sid, r in results.items()
        }

    def _check_movable(self, conn: Connection, record_ids: list[int]) -> None:
        open_cases = identity_store.open_cases_on(conn, record_ids)
        if open_cases:
            case, record = open_cases[0]
            raise Conflict(
                f"record {record} is under review in case {case}: decide the case first "
                "(its subject is the one the subject filed it as)"
            )

    def _move(
        self,
        conn: Connection,
        record_ids: list[int],
        *,
        to: SubjectId,
        batch: str,
        now: datetime,
    ) -> list[int]:
        """A new version of each record's current version, attached to ``to``. Retracted
        and expired records stay where they are (a version after them would bring them
        back); returns the records moved."""
        histories = record_store.record_histories(conn, record_ids)
        versions = []
        for rid in record_ids:
            history = histories.get(rid)
            if not history or history[-1].withdrawn or history[-1].subject_id == to:
                continue
            versions.append(
                record_store.next_version(history[-1], RecordAction.CORRECT, batch, subject_id=to)
            )
        record_store.insert_versions(conn, versions, now=now)
        return [v.record_id for v in versions]

    def _live_records(self, conn: Connection, sid: SubjectId, now: datetime) -> list[int]:
        return [
            r.record_id
            for r in record_store.records_as_of(conn, sid, known_at=now, include_retracted=True)
            if not r.withdrawn
        ]

    def _merge(
        self,
        conn: Connection,
        active: ActivePolicy,
        actor: Actor,
        survivor: Subject,
        absorbed: Subject,
        *,
        kind: str,
        reason: str,
        now: datetime,
        review: DecisionRow | None = None,
    ) -> tuple[DecisionRow, list[int]]:
        if survivor.id == absorbed.id:
            raise FieldError("absorbed", f"subject {survivor.id} cannot be merged into itself")
        if survivor.kind is not absorbed.kind:
            raise Conflict(
                f"subject {absorbed.id} is {'an' if absorbed.kind.value[0] == 'o' else 'a'} "
                f"{absorbed.kind.value} and subject {survivor.id} "
                f"{'an' if survivor.kind.value[0] == 'o' else 'a'} {survivor.kind.value}: "
                "they are not one subject"
            )
        legacy = {(x.kind, x.value) for x in active.policy.identity.legacy_identifiers}
        for a in survivor.identifiers:
            for b in absorbed.identifiers:
                if (
                    a.kind == b.kind
                    and a.value != b.value
                    and (a.kind, a.value) not in legacy
                    and (b.kind, b.value) not in legacy
                ):
                    raise Conflict(
                        f"subjects {survivor.id} and {absorbed.id} hold two different valid "
                        f"{a.kind} identifiers: they are two subjects"
                    )
        subject_store.lock_subjects(conn, [survivor.id, absorbed.id])
        records = self._live_records(conn, absorbed.id, now)
        self._check_movable(conn, records)
        profiles = [p.source for p in identity_store.profiles_of(conn, [absorbed.id])]
        evidence: dict[str, Any] = {"reason": reason, "records": records, "profiles": profiles}
        if review is not None:
            evidence["review"] = review.id
        [did] = identity_store.insert_decisions(
            conn,
            [
                {
                    "kind": kind,
                    "record_id": review.record_id if review else None,
                    "subject_id": survivor.id,
                    "other_subject_id": absorbed.id,
                    "match_weight": review.match_weight if review else None,
                    "match_probability": review.match_probability if review else None,
                    "explanation": review.explanation if review else {},
                    "evidence": evidence,
                    "decided_by": _who(actor),
                    "role": actor.role.value,
                }
            ],
            now=now,
        )
        moved = self._move(conn, records, to=survivor.id, batch=f"identity:{did}", now=now)
        identity_store.set_merged_into(conn, absorbed.id, survivor.id)
        identity_store.move_profiles(conn, to=survivor.id, from_subject=absorbed.id)
        # The absorbed subject's open reviews are settled: its records are the survivor's.
        total, about = identity_store.decisions_about(conn, absorbed.id, limit=10_000)
        for d in about:
            if d.kind == "review" and d.live and d.subject_id == absorbed.id:
                identity_store.end_decision(conn, d.id, by=did, now=now)
        decision = identity_store.get_decision(conn, did)
        assert decision is not None
        return decision, moved

    def _finish(
        self,
        conn: Connection,
        active: ActivePolicy,
        actor: Actor,
        decision: DecisionRow,
        moved: list[int],
        subjects: list[SubjectId],
        action: str,
        now: datetime,
    ) -> dict[str, Any]:
        """Rescore, make again the decisions resting on moved records, log, answer."""
        rescored = self._rescored(conn, active, subjects, now)
        _, remade = remake_decisions(
            conn,
            active,
            actor,
            moved,
            now=now,
            cause={"identity_decision": decision.id, "kind": decision.kind},
        )
        detail = {"decision": decision.id, "records": moved}
        entries = [Entry(action, sid, {**detail, "subjects": subjects}) for sid in subjects]
        self.registry.audit.append(conn, actor, [*entries, *remade], now=now)
        body = self._detail(conn, decision)
        body["rescored"] = rescored
        return body

    # -- reading -----------------------------------------------------------------------------

    def queue(self, actor: Actor, *, page: int = 1, per_page: int = 50) -> dict[str, Any]:
        """Records waiting for a reviewer to accept or reject a proposed link, oldest
        first, each with both subjects' profiles."""
        actor = self._staff(actor, "reads the identity review queue")
        reg = self.registry
        now = reg.clock()
        with reg._transaction() as conn:
            total, rows = identity_store.review_queue(
                conn, offset=(page - 1) * per_page, limit=per_page
            )
            items = [self._detail(conn, d) for d in rows]
            by_subject: dict[SubjectId, list[int]] = {}
            for d in rows:
                for sid in (d.subject_id, d.other_subject_id):
                    if sid is not None:
                        by_subject.setdefault(sid, []).append(d.id)
            reg.audit.append(
                conn,
                actor,
                [
                    Entry("identity.queue.read", sid, {"decisions": ids})
                    for sid, ids in by_subject.items()
                ]
                or [Entry("identity.queue.read", None, {"decisions": []})],
                now=now,
            )
        return {"total": total, "page": page, "per_page": per_page, "decisions": items}

    def show(self, actor: Actor, decision_id: int) -> dict[str, Any]:
        actor = self._staff(actor, "reads identity decisions")
        reg = self.registry
        now = reg.clock()
        with reg._transaction() as conn:
            d = self._decision(conn, decision_id)
            body = self._detail(conn, d)
            reg.audit.append(
                conn,
                actor,
                [
                    Entry("identity.decision.read", sid, {"decision": d.id})
                    for sid in (d.subject_id, d.other_subject_id)
                    if sid is not None
                ],
                now=now,
            )
        return body

    def history(
        self, actor: Actor, subject_ref: str, *, page: int = 1, per_page: int = 50
    ) -> dict[str, Any]:
        """Every identity decision naming the subject, newest first."""
        actor = self._staff(actor, "reads identity histories")
        reg = self.registry
        now = reg.clock()
        with reg._transaction() as conn:
            subject = reg._subject(conn, subject_ref, actor)
            total, rows = identity_store.decisions_about(
                conn, subject.id, offset=(page - 1) * per_page, limit=per_page
            )
            reg.audit.append(conn, actor, [Entry("identity.history.read", subject.id)], now=now)
        return {
            "subject": subject.id,
            "total": total,
            "page": page,
            "per_page": per_page,
            "decisions": [decision_json(d) for d in rows],
        }

    # -- deciding ----------------------------------------------------------------------------

    def _live_review(self, conn: Connection, decision_id: int) -> DecisionRow:
        d = self._decision(conn, decision_id, lock=True)
        if d.kind != "review":
            raise Conflict(f"decision: decision {d.id} is {d.kind!r}, not a link under review")
        if not d.live:
            raise Conflict(
                f"decision: the review {d.id} was settled by decision {d.ended_by}; see "
                f"`trustledger identity show {d.ended_by}`"
            )
        return d

    def accept(self, actor: Actor, decision_id: int, reason: str) -> dict[str, Any]:
        """Accept a proposed link: the subject proposed for the record is merged into the
        candidate, its records move there, both are rescored."""
        actor = self._staff(actor, "accepts identity links")
        reason = _reason(reason)
        reg = self.registry
        now = reg.clock()
        with reg._transaction() as conn:
            active = reg._policy(conn)
            review = self._live_review(conn, decision_id)
            assert review.other_subject_id is not None
            target = subject_store.survivors(conn, [review.other_subject_id])[
                review.other_subject_id
            ]
            candidate = subject_store.get_subject(conn, target)
            proposed = subject_store.get_subject(conn, review.subject_id)
            if candidate is None or proposed is None:
                gone = review.other_subject_id if candidate is None else review.subject_id
                raise Conflict(f"decision: subject {gone} no longer exists (erased)")
            decision, moved = self._merge(
                conn,
                active,
                actor,
                candidate,
                proposed,
                kind="accept",
                reason=reason,
                now=now,
                review=review,
            )
            return self._finish(
                conn,
                active,
                actor,
                decision,
                moved,
                [candidate.id, proposed.id],
                "identity.accept",
                now,
            )

    def reject(self, actor: Actor, decision_id: int, reason: str) -> dict[str, Any]:
        """Reject a proposed link: the record stays with the subject proposed for it,
        which is now known to be someone else."""
        actor = self._staff(actor, "rejects identity links")
        reason = _reason(reason)
        reg = self.registry
        now = reg.clock()
        with reg._transaction() as conn:
            review = self._live_review(conn, decision_id)
            [did] = identity_store.insert_decisions(
                conn,
                [
                    {
                        "kind": "reject",
                        "record_id": review.record_id,
                        "subject_id": review.subject_id,
                        "other_subject_id": review.other_subject_id,
                        "match_weight": review.match_weight,
                        "match_probability": review.match_probability,
                        "explanation": review.explanation,
                        "evidence": {"reason": reason, "review": review.id},
                        "decided_by": _who(actor),
                        "role": actor.role.value,
                    }
                ],
                now=now,
            )
            # Every record of the proposed subject queued against this candidate is settled.
            _, about = identity_store.decisions_about(conn, review.subject_id, limit=10_000)
            for d in about:
                if (
                    d.kind == "review"
                    and d.live
                    and d.subject_id == review.subject_id
                    and d.other_subject_id == review.other_subject_id
                ):
                    identity_store.end_decision(conn, d.id, by=did, now=now)
            decision = identity_store.get_decision(conn, did)
            assert decision is not None
            subjects = [s for s in (review.subject_id, review.other_subject_id) if s is not None]
            reg.audit.append(
                conn,
                actor,
                [
                    Entry("identity.reject", sid, {"decision": did, "review": review.id})
                    for sid in subjects
                ],
                now=now,
            )
            return self._detail(conn, decision)

    def merge(
        self, actor: Actor, survivor_ref: str, absorbed_ref: str, reason: str
    ) -> dict[str, Any]:
        """Merge subject ``absorbed_ref`` into ``survivor_ref``: one person or organisation
        registered twice."""
        actor = self._staff(actor, "merges subjects")
        reason = _reason(reason)
        reg = self.registry
        now = reg.clock()
        with reg._transaction() as conn:
            active = reg._policy(conn)
            survivor = reg._subject(conn, survivor_ref, actor)
            absorbed = reg._subject(conn, absorbed_ref, actor)
            decision, moved = self._merge(
                conn, active, actor, survivor, absorbed, kind="merge", reason=reason, now=now
            )
            return self._finish(
                conn,
                active,
                actor,
                decision,
                moved,
                [survivor.id, absorbed.id],
                "identity.merge",
                now,
            )

    def split(
        self,
        actor: Actor,
        subject_ref: str,
        reason: str,
        *,
        records: Sequence[int] = (),
        undo: int | None = None,
        to: str | None = None,
    ) -> dict[str, Any]:
        """Undo a merge or an accepted link (``undo``: its decision id), or move
        ``records`` of the subject to another subject (``to``) or to a new one."""
        actor = self._staff(actor, "splits subjects")
        reason = _reason(reason)
        if (undo is None) == (not records):
            raise FieldError(
                "records", "give either the records to split off, or the merge to undo"
            )
        reg = self.registry
        now = reg.clock()
        with reg._transaction() as conn:
            active = reg._policy(conn)
            subject = reg._subject(conn, subject_ref, actor)
            if undo is not None:
                decision, moved, subjects = self._undo(conn, actor, subject, undo, reason, now)
            else:
                decision, moved, subjects = self._split_off(
                    conn, actor, subject, list(records), to, reason, now
                )
            return self._finish(
                conn, active, actor, decision, moved, subjects, "identity.split", now
            )

    def _undo(
        self,
        conn: Connection,
        actor: Actor,
        subject: Subject,
        undo: int,
        reason: str,
        now: datetime,
    ) -> tuple[DecisionRow, list[int], list[SubjectId]]:
        merge = self._decision(conn, undo, lock=True)
        if merge.kind not in ("merge", "accept"):
            raise Conflict(
                f"undo: decision {merge.id} is {merge.kind!r}; a split undoes a merge or an "
                "accepted link (split records off to undo an automatic link)"
            )
        if not merge.live:
            raise Conflict(f"undo: decision {merge.id} was already undone by {merge.ended_by}")
        if merge.subject_id != subject.id:
            raise FieldError(
                "undo",
                f"decision {merge.id} merged into subject {merge.subject_id}, not {subject.id}",
            )
        absorbed = merge.other_subject_id
        assert absorbed is not None
        final = subject_store.survivors(conn, [absorbed])[absorbed]
        if final != subject.id:
            raise Conflict(
                f"undo: subject {absorbed} was merged again since (into {final}); undo that first"
            )
        subject_store.lock_subjects(conn, [subject.id, absorbed])
        live = set(self._live_records(conn, subject.id, now))
        back = [rid for rid in merge.evidence.get("records", []) if rid in live]
        self._check_movable(conn, back)
        profiles = list(merge.evidence.get("profiles", []))
        [did] = identity_store.insert_decisions(
            conn,
            [
                {
                    "kind": "split",
                    "subject_id": absorbed,
                    "other_subject_id": subject.id,
                    "explanation": {},
                    "evidence": {
                        "reason": reason,
                        "undoes": merge.id,
                        "records": back,
                        "profiles": profiles,
                    },
                    "decided_by": _who(actor),
                    "role": actor.role.value,
                }
            ],
            now=now,
        )
        identity_store.end_decision(conn, merge.id, by=did, now=now)
        identity_store.set_merged_into(conn, absorbed, None)
        moved = self._move(conn, back, to=absorbed, batch=f"identity:{did}", now=now)
        identity_store.move_profiles(
            conn,
            to=absorbed,
            record_ids=[int(s.split(":", 1)[1]) for s in profiles if s.startswith("record:")],
        )
        identity_store.move_profiles(conn, to=absorbed, sources=[f"subject:{absorbed}"])
        decision = identity_store.get_decision(conn, did)
        assert decision is not None
        return decision, moved, [subject.id, absorbed]

    def _split_off(
        self,
        conn: Connection,
        actor: Actor,
        subject: Subject,
        record_ids: list[int],
        to: str | None,
        reason: str,
        now: datetime,
    ) -> tuple[DecisionRow, list[int], list[SubjectId]]:
        subject_store.lock_subjects(conn, [subject.id])
        live = set(self._live_records(conn, subject.id, now))
        missing = [r for r in record_ids if r not in live]
        if missing:
            raise FieldError(
                "records",
                f"subject {subject.id} has no record {missing[0]} in force (retracted and "
                "expired records stay where they are)",
            )
        if len(live - set(record_ids)) == 0 and to is None:
            raise FieldError(
                "records", "these are all the subject's records: nothing would be left to split"
            )
        self._check_movable(conn, record_ids)
        profiles = identity_store.profiles_of(conn, [subject.id])
        if to is not None:
            target = self.registry._subject(conn, to, actor)
            if target.id == subject.id:
                raise FieldError("to", "records are split off to another subject")
            if target.kind is not subject.kind:
                raise Conflict(f"to: subject {target.id} is not a {subject.kind.value}")
            target_id, created = target.id, False
        else:
            first = next((p for p in profiles if p.source == f"record:{record_ids[0]}"), None)
            name = first.name if first is not None else subject.name
            [target_id] = subject_store.insert_subjects(
                conn,
                [
                    SubjectDraft(
                        kind=subject.kind,
                        name=name,
                        created_by=f"{RESOLVER}split",
                        birth_date=first.birth_date if first is not None else None,
                    )
                ],
                now=now,
            )
            created = True
        subject_store.lock_subjects(conn, [target_id])
        [did] = identity_store.insert_decisions(
            conn,
            [
                {
                    "kind": "split",
                    "subject_id": target_id,
                    "other_subject_id": subject.id,
                    "explanation": {},
                    "evidence": {"reason": reason, "records": record_ids, "new_subject": created},
                    "decided_by": _who(actor),
                    "role": actor.role.value,
                }
            ],
            now=now,
        )
        # The links that attached these records are undone (ended, not edited).
        for rid in record_ids:
            for d in identity_store.live_decisions_of_record(conn, rid):
                identity_store.end_decision(conn, d.id, by=did, now=now)
        moved = self._move(conn, record_ids, to=target_id, batch=f"identity:{did}", now=now)
        identity_store.move_profiles(conn, to=target_id, record_ids=record_ids)
        if created:
            forms = name_forms(name, person=subject.kind.value == "person")
            identity_store.insert_profiles(
                conn,
                [
                    identity_store.ProfileDraft(
                        subject_id=target_id,
                        source=f"subject:{target_id}",
                        kind=subject.kind.value,
                        name=name,
                        name_key=forms.tokens if forms else "",
                        birth_date=first.birth_date if first is not None else None,
                        address=None,
                        phone=None,
                    )
                ],
                now=now,
            )
        decision = identity_store.get_decision(conn, did)
        assert decision is not None
        return decision, moved, [subject.id, target_id]

    # -- the model -----------------------------------------------------------------------

    def load_model(self, actor: Actor, body: str, filename: str) -> dict[str, Any]:
        """Load a trained model file; the newest loaded is in force unless the policy pins
        one (``identity.model_sha256``)."""
        if actor.role is not Role.OPERATOR:
            raise Forbidden("only an operator loads a matching model")
        model = MatchModel(body, filename=filename)
        reg = self.registry
        now = reg.clock()
        with reg._transaction() as conn:
            row, created = identity_store.insert_model(
                conn, sha256=model.sha256, filename=filename, body=body, by=_who(actor), now=now
            )
            reg.audit.append(
                conn,
                actor.with_purpose("registry_administration"),
                [Entry("identity.model.load", None, {"sha256": row.sha256, "new": created})],
                now=now,
            )
        return {
            "sha256": row.sha256,
            "filename": row.filename,
            "loaded_at": row.loaded_at.isoformat(),
            "new": created,
            "trained_at": model.trained_at,
            "trained_on": model.trained_on,
        }
