"""Subjects and their identifiers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    bindparam,
    case,
    delete,
    false,
    func,
    insert,
    or_,
    select,
    update,
)

from trustledger.domain.subject import Identifier, Subject, SubjectId, SubjectKind
from trustledger.store.ids import allocate_ids
from trustledger.store.tables import (
    api_keys,
    current_list_entries,
    current_scores,
    identity_decisions,
    identity_profiles,
    record_sources,
    record_versions,
    records,
    score_list_entries,
    scores,
    subject_identifiers,
    subjects,
)

__all__ = [
    "OrganisationHit",
    "SubjectDraft",
    "active_list_entry",
    "chunked",
    "count_subjects",
    "erase_subject",
    "lock_subjects",
    "find_subjects",
    "get_subject",
    "get_subjects",
    "insert_subjects",
    "lookup_identifiers",
    "search_organisations",
    "survivors",
]

T = TypeVar("T")

#: Rows per IN (...) list: well under SQLite's 32,766 bound parameters.
CHUNK = 5000


def chunked(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True, slots=True)
class SubjectDraft:
    """A subject about to be created, with its validated identifiers."""

    kind: SubjectKind
    name: str
    created_by: str
    identifiers: tuple[Identifier, ...] = field(default_factory=tuple)
    birth_date: date | None = None
    region: str | None = None


def lookup_identifiers(
    conn: Connection, identifiers: Iterable[Identifier]
) -> dict[Identifier, SubjectId]:
    """The subject each known identifier belongs to; unknown identifiers are left out."""
    by_kind: dict[str, set[str]] = defaultdict(set)
    for ident in identifiers:
        by_kind[ident.kind].add(ident.value)
    found: dict[Identifier, SubjectId] = {}
    merged: set[SubjectId] = set()
    t = subject_identifiers
    for kind, values in by_kind.items():
        for chunk in chunked(sorted(values)):
            rows = conn.execute(
                select(t.c.value, t.c.subject_id, subjects.c.merged_into)
                .join(subjects, subjects.c.id == t.c.subject_id)
                .where(t.c.kind == kind, t.c.value.in_(chunk))
            )
            for value, subject_id, merged_into in rows:
                found[Identifier(kind, value)] = subject_id
                if merged_into is not None:
                    merged.add(subject_id)
    if merged:
        # The identifier of a subject merged into another names the one it was merged into.
        final = survivors(conn, merged)
        found = {ident: final.get(sid, sid) for ident, sid in found.items()}
    return found


def survivors(conn: Connection, ids: Iterable[SubjectId]) -> dict[SubjectId, SubjectId]:
    """For subjects merged into others (identity decisions), the subject each one now is:
    the end of its chain of merges. Subjects not merged map to themselves."""
    out = {sid: sid for sid in ids}
    pending = set(out)
    for _ in range(100):  # a chain of merges is short; a cycle is impossible but bounded
        if not pending:
            break
        rows = conn.execute(
            select(subjects.c.id, subjects.c.merged_into).where(
                subjects.c.id.in_(sorted({out[s] for s in pending})),
                subjects.c.merged_into.is_not(None),
            )
        ).all()
        step: dict[SubjectId, SubjectId] = {row[0]: row[1] for row in rows}
        pending = {s for s in pending if out[s] in step}
        for sid in pending:
            out[sid] = step[out[sid]]
    return out


def insert_subjects(
    conn: Connection, drafts: Sequence[SubjectDraft], *, now: datetime
) -> list[SubjectId]:
    """Create subjects and their identifiers; returns the new ids in the drafts' order."""
    ids = allocate_ids(conn, subjects, len(drafts))
    if not ids:
        return []
    conn.execute(
        insert(subjects),
        [
            {
                "id": sid,
                "kind": d.kind.value,
                "name": d.name,
                "birth_date": d.birth_date,
                "region": d.region,
                "created_at": now,
                "created_by": d.created_by,
            }
            for sid, d in zip(ids, drafts, strict=True)
        ],
    )
    ident_rows = [
        {"subject_id": sid, "kind": i.kind, "value": i.value, "created_at": now}
        for sid, draft in zip(ids, drafts, strict=True)
        for i in draft.identifiers
    ]
    if ident_rows:
        conn.execute(insert(subject_identifiers), ident_rows)
    return ids


def _subject(row: Any, identifiers: tuple[Identifier, ...]) -> Subject:
    return Subject(
        id=row.id,
        kind=SubjectKind(row.kind),
        name=row.name,
        created_at=row.created_at,
        birth_date=row.birth_date,
        region=row.region,
        identifiers=identifiers,
    )


def get_subjects(conn: Connection, ids: Sequence[SubjectId]) -> dict[SubjectId, Subject]:
    """Subjects by id, with their identifiers; missing ids are left out."""
    idents: dict[SubjectId, list[Identifier]] = defaultdict(list)
    rows: list[Any] = []
    for chunk in chunked(sorted(set(ids))):
        rows.extend(
            conn.execute(
                select(subjects).where(
                    subjects.c.id.in_(chunk),
                    subjects.c.erased_at.is_(None),
                    subjects.c.merged_into.is_(None),
                )
            )
        )
        for sid, kind, value in conn.execute(
            select(
                subject_identifiers.c.subject_id,
                subject_identifiers.c.kind,
                subject_identifiers.c.value,
            )
            .where(subject_identifiers.c.subject_id.in_(chunk))
            .order_by(subject_identifiers.c.id)
        ):
            idents[sid].append(Identifier(kind, value))
    return {r.id: _subject(r, tuple(idents[r.id])) for r in rows}


_ID_BY_VALUE = select(subject_identifiers.c.subject_id).where(
    subject_identifiers.c.value == bindparam("value")
)
# An erased subject is a tombstone, and a subject merged into another lives on in that
# one: neither is found by any lookup.
_SUBJECT = select(subjects).where(
    subjects.c.id == bindparam("id"),
    subjects.c.erased_at.is_(None),
    subjects.c.merged_into.is_(None),
)
_IDENTIFIERS = (
    select(subject_identifiers.c.kind, subject_identifiers.c.value)
    .where(subject_identifiers.c.subject_id == bindparam("id"))
    .order_by(subject_identifiers.c.id)
)


def get_subject(conn: Connection, subject_id: SubjectId) -> Subject | None:
    """One subject with its identifiers (the service's per-request lookup)."""
    row = conn.execute(_SUBJECT, {"id": subject_id}).first()
    if row is None:
        return None
    idents = tuple(Identifier(k, v) for k, v in conn.execute(_IDENTIFIERS, {"id": subject_id}))
    return _subject(row, idents)


def find_subjects(conn: Connection, ref: str) -> list[Subject]:
    """Subjects matching ``ref``: an id (``42`` or ``#42``) or any identifier's value."""
    ref = ref.strip()
    ids: list[SubjectId] = []
    bare = ref.removeprefix("#")
    if bare.isascii() and bare.isdigit() and len(bare) < 15:
        ids.append(int(bare))
    by_value = list(conn.execute(_ID_BY_VALUE, {"value": ref.upper()}).scalars())
    if by_value:
        # An identifier of a subject merged into another finds the one it was merged into.
        final = survivors(conn, by_value)
        ids.extend(final[sid] for sid in by_value)
    ids = list(dict.fromkeys(ids))
    if len(ids) == 1:
        one = get_subject(conn, ids[0])
        return [] if one is None else [one]
    found = get_subjects(conn, ids)
    return [found[i] for i in ids if i in found]


def count_subjects(conn: Connection) -> int:
    return int(
        conn.execute(
            select(func.count())
            .select_from(subjects)
            .where(subjects.c.erased_at.is_(None), subjects.c.merged_into.is_(None))
        ).scalar_one()
    )


def erase_subject(conn: Connection, subject_id: SubjectId, *, now: datetime) -> dict[str, int]:
    """Erasure: remove a subject's identifiers, records and scores; keep a nameless
    tombstone row (id and kind) so that the audit log's subject ids still mean one subject,
    and revoke its keys. The caller removes decisions and cases first (they refer to the
    records). Returns how many rows of each kind went."""
    # Subjects merged into this one are the same person: their data goes too.
    merged_in = conn.execute(select(subjects.c.id).where(subjects.c.merged_into == subject_id))
    merged_counts = [erase_subject(conn, sid, now=now) for (sid,) in merged_in.all()]
    record_ids = select(record_versions.c.record_id).where(
        record_versions.c.subject_id == subject_id
    )
    ids = [r for (r,) in conn.execute(record_ids.distinct())]
    # What identity resolution matched the subject on, and its decisions about the records.
    conn.execute(delete(identity_profiles).where(identity_profiles.c.subject_id == subject_id))
    conn.execute(delete(identity_decisions).where(identity_decisions.c.record_id.in_(ids)))
    # Who else reported the same facts (ingestion's dedupe links) goes with the records.
    conn.execute(delete(record_sources).where(record_sources.c.record_id.in_(ids)))
    counts = {
        "record_versions": conn.execute(
            delete(record_versions).where(record_versions.c.record_id.in_(ids))
        ).rowcount,
        "identifiers": conn.execute(
            delete(subject_identifiers).where(subject_identifiers.c.subject_id == subject_id)
        ).rowcount,
    }
    conn.execute(delete(records).where(records.c.id.in_(ids)))
    for table in (scores, score_list_entries, current_scores, current_list_entries):
        conn.execute(delete(table).where(table.c.subject_id == subject_id))
    conn.execute(
        update(api_keys)
        .where(api_keys.c.subject_id == subject_id, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    conn.execute(
        update(subjects)
        .where(subjects.c.id == subject_id)
        .values(name="", birth_date=None, region=None, created_by="", erased_at=now)
    )
    for more in merged_counts:
        for k, v in more.items():
            counts[k] = int(counts[k] or 0) + v
    return {k: int(v or 0) for k, v in counts.items()}


def lock_subjects(conn: Connection, ids: Sequence[SubjectId]) -> None:
    """Lock these subjects' rows until the transaction ends (PostgreSQL; SQLite has one
    writer at a time anyway), in id order so that two lockers cannot deadlock: use cases
    that rescore a subject or open a case on its records form one sequence per subject."""
    if conn.dialect.name == "sqlite" or not ids:
        return
    for chunk in chunked(sorted(set(ids))):
        conn.execute(
            select(subjects.c.id)
            .where(subjects.c.id.in_(chunk))
            .order_by(subjects.c.id)
            # FOR NO KEY UPDATE: lockers wait for each other, while inserts of rows that
            # refer to the subject (their foreign key takes KEY SHARE) do not.
            .with_for_update(key_share=True)
        ).all()


def active_list_entry(today: date) -> ColumnElement[bool]:
    """A current list entry in force on ``today``: it has no end, or ends after ``today``.

    The current state is rebuilt by every score run and rescore, but an entry whose end
    has passed since then stays in ``current_list_entries`` until the next one; whoever
    reads the entries "now" filters with this."""
    e = current_list_entries
    return or_(e.c.until.is_(None), e.c.until > today)


@dataclass(frozen=True, slots=True)
class OrganisationHit:
    """An organisation found by the public search, with what the register shows of it."""

    id: SubjectId
    name: str
    uscc: str | None
    #: From the current state; None before it was first scored.
    grade: str | None
    #: The public lists it is on today, by name, sorted.
    public_lists: tuple[str, ...]
    #: Its USCC is exactly the code searched for.
    exact: bool


def _like_escaped(text: str) -> str:
    """``text`` with LIKE's wildcards taken literally (``\\`` is the escape character)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_organisations(
    conn: Connection,
    *,
    name: str,
    code: str | None,
    today: date,
    offset: int,
    limit: int,
) -> tuple[int, list[OrganisationHit]]:
    """Organisations (never persons, never erased subjects) whose name contains ``name``
    (any case), or, when ``code`` is given, whose USCC starts with it (``code`` is a
    normalised, compact code of USCC characters: no LIKE wildcards). Exact USCC matches
    first, then by name; with the total before paging.
    """
    s, i, cs, e = subjects, subject_identifiers, current_scores, current_list_entries
    matches: list[ColumnElement[bool]] = [s.c.name.ilike(f"%{_like_escaped(name)}%", escape="\\")]
    exact: ColumnElement[bool] = false()
    if code is not None:
        matches.append(
            select(i.c.id)
            .where(i.c.subject_id == s.c.id, i.c.kind == "uscc", i.c.value.like(f"{code}%"))
            .exists()
        )
        exact = (
            select(i.c.id)
            .where(i.c.subject_id == s.c.id, i.c.kind == "uscc", i.c.value == code)
            .exists()
        )
    where = (
        s.c.kind == SubjectKind.ORGANISATION.value,
        s.c.erased_at.is_(None),
        s.c.merged_into.is_(None),
        or_(*matches),
    )
    total = conn.execute(select(func.count()).select_from(s).where(*where)).scalar_one()
    # An organisation has one USCC; min() keeps one row per subject even if it had two.
    uscc = (
        select(func.min(i.c.value))
        .where(i.c.subject_id == s.c.id, i.c.kind == "uscc")
        .scalar_subquery()
    )
    rows = conn.execute(
        select(
            s.c.id,
            s.c.name,
            uscc.label("uscc"),
            cs.c.grade,
            case((exact, 1), else_=0).label("exact"),
        )
        .outerjoin(cs, cs.c.subject_id == s.c.id)
        .where(*where)
        .order_by(case((exact, 0), else_=1), s.c.name, s.c.id)
        .offset(offset)
        .limit(limit)
    ).all()
    on_lists: dict[SubjectId, list[str]] = defaultdict(list)
    if rows:
        for sid, list_name in conn.execute(
            select(e.c.subject_id, e.c.list)
            .distinct()
            .where(
                e.c.subject_id.in_([r.id for r in rows]),
                e.c.public.is_(True),
                active_list_entry(today),
            )
            .order_by(e.c.subject_id, e.c.list)
        ):
            on_lists[sid].append(list_name)
    return int(total), [
        OrganisationHit(
            id=r.id,
            name=r.name,
            uscc=r.uscc,
            grade=r.grade,
            public_lists=tuple(on_lists.get(r.id, ())),
            exact=bool(r.exact),
        )
        for r in rows
    ]
