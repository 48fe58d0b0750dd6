"""Resolving records without a usable identifier to subjects, in a batch's transaction.

See ``docs/identity.md``. In short, for each :class:`Candidate`:

- a valid identifier attaches the record to the subject holding it (outcome
  ``identifier``; a new subject when none does);
- an identifier that fails its check is accepted only if the policy lists it under
  ``[[identity.legacy_identifiers]]`` (outcome ``legacy``); otherwise the row is refused
  with a :class:`~trustledger.errors.RowProblem` naming its file, line and field;
- without an identifier the matching model compares the record's name (characters and
  pinyin), birth date, address and phone with the profiles of known subjects. At or
  above the policy's ``accept_match_weight`` the record is attached to the best subject
  (``accepted``); at or above ``review_match_weight`` it waits in the review queue
  (``review``); below, the resolver proposes a new subject (``new``). A record under
  review is attached to a subject of its own, created for it and marked as proposed
  (``created_by`` starts with ``resolver:``), so it never counts for the candidate until
  a reviewer accepts the link; records of one batch that match each other at or above
  the accept weight share that subject.

:func:`record_links` stores one identity decision per record once the records exist,
and indexes the record's attributes so later records can match the subject.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import Connection

from trustledger.domain.identifiers import normalise, subject_kind_for, validate
from trustledger.domain.subject import Identifier, SubjectKind
from trustledger.errors import IdentifierError, RowProblem
from trustledger.policy.schema import Policy
from trustledger.resolve.match import Match, MatchInput, match_input, plan
from trustledger.resolve.model import MatchModel, default_model
from trustledger.resolve.names import name_forms, phone_key
from trustledger.store import identity as identity_store
from trustledger.store import subjects as subject_store
from trustledger.store.identity import ProfileDraft
from trustledger.store.subjects import SubjectDraft

__all__ = [
    "RESOLVER",
    "Candidate",
    "Resolution",
    "active_model",
    "index_subjects",
    "record_links",
    "resolve_candidates",
]

#: ``created_by`` of the subjects the resolver proposes starts with this.
RESOLVER = "resolver:"

Outcome = Literal["identifier", "legacy", "accepted", "review", "new"]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A row whose subject identifier is missing or fails validation, as ingestion read
    it: where it came from, and what it says about its subject."""

    file: str
    line: int
    provider: str
    kind: SubjectKind | None
    name: str | None
    birth_date: date | None
    address: str | None
    phone: str | None
    identifier_kind: str | None
    identifier_value: str | None


@dataclass(frozen=True, slots=True)
class Resolution:
    """Where a candidate's record goes: ``subject_id`` now. ``candidate_subject_id`` is the
    best match (the subject a review would attach it to); ``explanation`` says why, with
    each compared field's level and weight."""

    outcome: Outcome
    subject_id: int
    match_weight: float | None
    candidate_subject_id: int | None
    explanation: dict[str, Any]


def active_model(conn: Connection, policy: Policy) -> MatchModel:
    """The model in force: the one the policy pins, else the newest loaded, else the
    model shipped with trustledger (trained on the synthetic population)."""
    pinned = policy.identity.model_sha256
    if pinned is not None:
        row = identity_store.get_model(conn, pinned)
        if row is None:
            from trustledger.errors import NotFound

            raise NotFound(
                f"identity.model_sha256: the policy pins model {pinned[:16]}..., which is not "
                "loaded: run `trustledger identity model load FILE`"
            )
        return _cached_model(row.body, row.filename)
    row = identity_store.latest_model(conn)
    if row is not None:
        return _cached_model(row.body, row.filename)
    return _default()


_MODELS: dict[str, MatchModel] = {}


def _cached_model(body: str, filename: str) -> MatchModel:
    model = MatchModel(body, filename=filename) if body not in _MODELS else _MODELS[body]
    _MODELS.setdefault(body, model)
    return model


_DEFAULT: list[MatchModel] = []


def _default() -> MatchModel:
    if not _DEFAULT:
        _DEFAULT.append(default_model())
    return _DEFAULT[0]


def index_subjects(conn: Connection, *, now: datetime) -> int:
    """Index the names and birth dates of subjects registered since the last run (by an
    identifier, on ingestion's fast path), so records without one can match them.
    Returns how many were indexed."""
    done = 0
    while True:
        rows = identity_store.subjects_without_profile(conn)
        drafts = []
        for sid, kind, name, born in rows:
            forms = name_forms(name, person=kind != SubjectKind.ORGANISATION.value)
            drafts.append(
                ProfileDraft(
                    subject_id=sid,
                    source=f"subject:{sid}",
                    kind=kind,
                    name=name,
                    name_key=forms.tokens if forms else "",
                    birth_date=born,
                    address=None,
                    phone=None,
                )
            )
        identity_store.insert_profiles(conn, drafts, now=now)
        done += len(drafts)
        if len(rows) < 50_000:
            return done


def _problem(c: Candidate, field: str, reason: str) -> RowProblem:
    return RowProblem(c.file, c.line, field, reason)


def _kind_of(c: Candidate, identifier_kind: str, policy: Policy) -> SubjectKind | None:
    found = subject_kind_for(identifier_kind)
    if found is None and identifier_kind in policy.identifier_types:
        found = policy.identifier_types[identifier_kind].subject_kind
    return found or c.kind


def _profile(c: Candidate, kind: SubjectKind) -> dict[str, Any]:
    """What record_links indexes for the record (kept out of the stored explanation)."""
    return {
        "kind": kind.value,
        "name": c.name,
        "birth_date": c.birth_date.isoformat() if c.birth_date else None,
        "address": c.address,
        "phone": c.phone,
    }


def resolve_candidates(
    conn: Connection, candidates: Sequence[Candidate], *, policy: Policy, now: datetime
) -> list[Resolution | RowProblem]:
    """Resolve each candidate to a subject (creating the subjects it proposes in this
    transaction), or say why its row is refused. One result per candidate, in order."""
    results: list[Resolution | RowProblem | None] = [None] * len(candidates)
    settings = policy.identity
    legacy = {(entry.kind, entry.value) for entry in settings.legacy_identifiers}
    patterns = {k: t.pattern for k, t in policy.identifier_types.items()}
    by_identifier: list[tuple[int, Identifier, Outcome]] = []
    unidentified: list[int] = []
    for i, c in enumerate(candidates):
        value = (c.identifier_value or "").strip()
        if not value:
            if not c.name or name_forms(c.name) is None:
                results[i] = _problem(
                    c,
                    "subject_name",
                    "the record has no subject identifier and no name: it cannot be linked "
                    "to anyone",
                )
            else:
                unidentified.append(i)
            continue
        kind = (c.identifier_kind or "").strip()
        if not kind:
            results[i] = _problem(
                c,
                "subject_id_kind",
                "required with a subject_id: uscc, cn_ric"
                + "".join(f", {k}" for k in sorted(patterns)),
            )
            continue
        try:
            by_identifier.append(
                (
                    i,
                    Identifier(kind, validate(kind, value, field="subject_id", patterns=patterns)),
                    "identifier",
                )
            )
        except IdentifierError as exc:
            compact = normalise(value, compact=True)
            if (kind, compact) in legacy:
                by_identifier.append((i, Identifier(kind, compact), "legacy"))
            else:
                results[i] = _problem(
                    c,
                    exc.field,
                    f"{exc.reason}; a legal legacy code that fails this check is accepted "
                    "only when the policy lists it under [[identity.legacy_identifiers]]",
                )
    _resolve_identified(conn, candidates, by_identifier, results, policy=policy, now=now)
    if unidentified:
        _resolve_by_match(conn, candidates, unidentified, results, policy=policy, now=now)
    assert all(r is not None for r in results)
    return [r for r in results if r is not None]


def _resolve_identified(
    conn: Connection,
    candidates: Sequence[Candidate],
    found: list[tuple[int, Identifier, Outcome]],
    results: list[Resolution | RowProblem | None],
    *,
    policy: Policy,
    now: datetime,
) -> None:
    if not found:
        return
    known = subject_store.lookup_identifiers(conn, [ident for _, ident, _ in found])
    drafts: dict[Identifier, SubjectDraft] = {}
    for i, ident, _ in found:
        c = candidates[i]
        if ident in known or ident in drafts:
            continue
        kind = _kind_of(c, ident.kind, policy)
        if not c.name:
            results[i] = _problem(
                c,
                "subject_name",
                f"subject {ident.value} is new to the registry: subject_name is required",
            )
        elif kind is None:
            results[i] = _problem(c, "subject_id_kind", f"{ident.kind!r} names no subject kind")
        else:
            drafts[ident] = SubjectDraft(
                kind=kind,
                name=c.name,
                created_by=c.provider,
                identifiers=(ident,),
                birth_date=c.birth_date,
            )
    for ident, sid in zip(
        drafts, subject_store.insert_subjects(conn, list(drafts.values()), now=now), strict=True
    ):
        known[ident] = sid
    for i, ident, outcome in found:
        if results[i] is not None:
            continue
        c = candidates[i]
        kind = _kind_of(c, ident.kind, policy) or SubjectKind.PERSON
        explanation: dict[str, Any] = {
            "method": outcome,
            "identifier": {"kind": ident.kind},
            "_profile": _profile(c, kind) if c.name else None,
        }
        if outcome == "legacy":
            explanation["identifier"]["legacy"] = True
        results[i] = Resolution(outcome, known[ident], None, None, explanation)


def _resolve_by_match(
    conn: Connection,
    candidates: Sequence[Candidate],
    indexes: list[int],
    results: list[Resolution | RowProblem | None],
    *,
    policy: Policy,
    now: datetime,
) -> None:
    settings = policy.identity
    model = active_model(conn, policy)
    index_subjects(conn, now=now)
    # A candidate of unknown kind is compared with the profiles of both kinds.
    all_kinds = [k.value for k in SubjectKind]
    incoming: list[MatchInput] = []
    for i in indexes:
        cand = candidates[i]
        for kind_value in [cand.kind.value] if cand.kind is not None else all_kinds:
            incoming.append(
                match_input(
                    f"c{i}", kind_value, cand.name, cand.birth_date, cand.address, cand.phone
                )
            )
    known = identity_store.candidate_profiles(
        conn,
        kinds={m.kind for m in incoming},
        name_keys={m.name_tokens for m in incoming if m.name_tokens},
        birth_dates={b for i in indexes if (b := candidates[i].birth_date) is not None},
        phones={ph for i in indexes if (ph := phone_key(candidates[i].phone))},
    )
    subject_of: dict[str, int] = {}
    kind_of: dict[int, SubjectKind] = {}
    profiles: list[MatchInput] = []
    for n, prof in enumerate(known):
        subject_of[f"p{n}"] = prof.subject_id
        kind_of[prof.subject_id] = SubjectKind(prof.kind)
        profiles.append(
            match_input(f"p{n}", prof.kind, prof.name, prof.birth_date, prof.address, prof.phone)
        )
    planned = plan(
        model,
        profiles,
        incoming,
        subject_of=subject_of,
        accept=settings.accept_match_weight,
        review=settings.review_match_weight,
    )
    meta = {
        "model": model.sha256,
        "accept_match_weight": settings.accept_match_weight,
        "review_match_weight": settings.review_match_weight,
        "prior_weight": round(model.prior_weight, 3),
    }
    groups: dict[int, list[int]] = {}
    for i in indexes:
        p = planned[f"c{i}"]
        if p.outcome == "accepted":
            assert p.subject_id is not None and p.match is not None
            profile = _profile(candidates[i], kind_of[p.subject_id])
            results[i] = Resolution(
                "accepted",
                p.subject_id,
                p.match.best.match_weight,
                p.subject_id,
                _explanation(model, p.match, meta, "accepted", profile),
            )
        else:
            assert p.group is not None
            groups.setdefault(p.group, []).append(i)
    # One new subject per group: the records of one new person in this batch.
    drafts: list[SubjectDraft] = []
    members: list[list[int]] = []
    for group in groups.values():
        first = candidates[group[0]]
        kind = first.kind or _guess_kind(candidates, group)
        if kind is None:
            for i in group:
                results[i] = _problem(
                    candidates[i],
                    "subject_id",
                    "no identifier, and nothing says whether the subject is a person or an "
                    "organisation (no kind, no birth date): give the subject's identifier",
                )
            continue
        births = Counter(day for i in group if (day := candidates[i].birth_date) is not None)
        names = [candidates[i].name or "" for i in group]
        # The name in characters when one of the records gives it.
        name = next((n for n in names if (f := name_forms(n)) and f.hanzi), names[0])
        drafts.append(
            SubjectDraft(
                kind=kind,
                name=name,
                created_by=f"{RESOLVER}{first.provider}"[:100],
                birth_date=births.most_common(1)[0][0] if births else None,
            )
        )
        members.append(group)
    new_ids = subject_store.insert_subjects(conn, drafts, now=now)
    for sid, group, draft in zip(new_ids, members, drafts, strict=True):
        for i in group:
            p = planned[f"c{i}"]
            profile = _profile(candidates[i], draft.kind)
            if p.outcome == "new" or p.match is None:
                results[i] = Resolution(
                    "new",
                    sid,
                    None,
                    None,
                    {
                        **meta,
                        "method": "new",
                        "fields": [],
                        "group": len(group),
                        "_profile": profile,
                    },
                )
            else:
                results[i] = Resolution(
                    "review",
                    sid,
                    p.match.best.match_weight,
                    p.candidate_subject_id,
                    _explanation(model, p.match, meta, "review", profile, shared=p.via_group),
                )


def _guess_kind(candidates: Sequence[Candidate], group: list[int]) -> SubjectKind | None:
    """A subject of unknown kind with a birth date is a person."""
    if any(candidates[i].birth_date for i in group):
        return SubjectKind.PERSON
    return None


def _explanation(
    model: MatchModel,
    match: Match,
    meta: dict[str, Any],
    method: str,
    profile: dict[str, Any],
    *,
    shared: bool = False,
) -> dict[str, Any]:
    pair = match.best
    out: dict[str, Any] = {
        **meta,
        "method": method,
        "match_weight": round(pair.match_weight, 3),
        "match_probability": pair.match_probability,
        "fields": model.explain(pair.gammas),
        "runner_up_weight": round(match.runner_up_weight, 3)
        if match.runner_up_weight is not None
        else None,
        "_profile": profile,
    }
    if shared:
        # This record matched the batch's other records of the same person, not the
        # candidate itself: the weight shown is theirs.
        out["via_batch"] = True
    return out


def record_links(
    conn: Connection, links: Sequence[tuple[int, Resolution]], *, actor: str, now: datetime
) -> None:
    """Store one identity decision per (record id, resolution), and index each record's
    attributes under its subject. Call it in the batch's transaction, after the records
    were inserted."""
    rows: list[dict[str, Any]] = []
    drafts: list[ProfileDraft] = []
    for record_id, res in links:
        explanation = {k: v for k, v in res.explanation.items() if not k.startswith("_")}
        rows.append(
            {
                "kind": "review" if res.outcome == "review" else "attach",
                "outcome": res.outcome,
                "record_id": record_id,
                "subject_id": res.subject_id,
                "other_subject_id": res.candidate_subject_id
                if res.candidate_subject_id != res.subject_id
                else None,
                "match_weight": res.match_weight,
                "match_probability": explanation.get("match_probability"),
                "explanation": explanation,
                "evidence": {},
                "decided_by": actor[:64],
                "role": "resolver",
            }
        )
        profile = res.explanation.get("_profile")
        if profile and profile.get("name"):
            forms = name_forms(profile["name"], person=profile["kind"] != "organisation")
            drafts.append(
                ProfileDraft(
                    subject_id=res.subject_id,
                    source=f"record:{record_id}",
                    kind=profile["kind"],
                    name=profile["name"],
                    name_key=forms.tokens if forms else "",
                    birth_date=date.fromisoformat(profile["birth_date"])
                    if profile.get("birth_date")
                    else None,
                    address=profile.get("address"),
                    phone=phone_key(profile.get("phone")),
                )
            )
    identity_store.insert_decisions(conn, rows, now=now)
    identity_store.insert_profiles(conn, drafts, now=now)
