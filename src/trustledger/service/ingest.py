"""Ingesting a provider's batch of records: all of it, or none of it.

A batch is a file (CSV, JSON Lines or Parquet) in trustledger's own format (the fields
below), or in the provider's own layout read through its mapping file
(``docs/ingest.md``). It is read, mapped, checked and stored chunk by chunk inside ONE
transaction, so memory stays flat however large the file and the batch still lands
whole or not at all.

=================  ==========================================================================
``reference``      the provider's own id for the record (unique per provider); required
``action``         ``create`` (default), ``correct`` or ``retract`` an earlier reference
``subject_id_kind`` ``uscc``, ``cn_ric`` or an identifier type the policy declares
``subject_id``     the identifier's value; validated, check digits included
``subject_name``   required the first time a subject is seen
``record_type``    a record type of the policy that the policy grants this provider
``valid_from``     ISO date the fact began (the day it happened); not in the future
``valid_to``       ISO date the fact ended, for states (an arrear paid); optional
``amount``         yuan, up to two decimals; optional
``note``           free text; optional
=================  ==========================================================================

Every row is checked; one bad row rejects the whole batch with :class:`BatchQuarantined`
(a :class:`~trustledger.errors.BatchRejected`), which lists every problem as
FILE:LINE:FIELD: reason, and the batch is kept in quarantine (its report and its file)
until ``quarantine retry`` runs it again. Sending the same file (or batch id) again
stores nothing new; so does sending the same ``create`` row again.

Rows whose subject identifier is missing or fails validation go to the identity
resolver (``trustledger.resolve``), in the batch's transaction. A mapping may declare
dedupe keys: the same fact reported by two providers is stored once and linked to both
(the first reporter's facts stand; see ``docs/ingest.md`` for disagreements).
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import queue
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from trustledger.domain.batch import BATCH_FIELDS
from trustledger.domain.record import RecordAction, RecordId
from trustledger.domain.subject import Identifier, SubjectId
from trustledger.errors import BatchRejected, Conflict, NotFound, RowProblem
from trustledger.ingest.check import Checked, IdState, Layout, RowChecker
from trustledger.ingest.mapping import NATIVE, Mapping, MappingError, load_mapping
from trustledger.ingest.readers import Chunk, format_of, open_reader
from trustledger.policy.schema import Policy
from trustledger.service.policies import ActivePolicy, active_policy
from trustledger.store import batches as batch_store
from trustledger.store import subjects as subject_store
from trustledger.store.batches import ACCEPTED, QUARANTINED, BatchRow, Current
from trustledger.store.subjects import SubjectDraft
from trustledger.store.tables import record_sources, record_versions, records

if TYPE_CHECKING:
    # Imported when first needed (see _Batch._resolve): the resolver loads pypinyin and
    # its matching model.
    from trustledger.resolve import Resolution

__all__ = [
    "CHUNK_ROWS",
    "FIELDS",
    "BatchQuarantined",
    "ChunkStore",
    "IngestReport",
    "Row",
    "ingest_file",
    "ingest_rows",
    "quarantine_list",
    "quarantine_show",
    "read_batch",
    "retry_quarantined",
    "rows_from_objects",
]

FIELDS = BATCH_FIELDS
#: Rows read, checked and written at a time.
CHUNK_ROWS: Final = 20_000
#: Problems kept in a report: a file in the wrong layout fails on every row, and the
#: first ten thousand tell the story (the count says how many there were).
MAX_PROBLEMS_KEPT: Final = 10_000
#: Identifiers whose subject a batch remembers (about 200 bytes each).
KNOWN_CACHED: Final = 1_000_000
#: Files up to this size are kept whole in quarantine; larger ones by path and SHA-256.
QUARANTINE_KEEP_BYTES: Final = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Row:
    """One raw row of a batch and where it came from."""

    file: str
    line: int
    values: dict[str, str]


@dataclass(slots=True)
class IngestReport:
    provider: str
    file: str
    batch: str
    rows: int = 0
    created: int = 0
    corrected: int = 0
    retracted: int = 0
    unchanged: int = 0
    new_subjects: int = 0
    policy_version: str = ""
    #: The subjects whose files this batch changed (for the audit log).
    subject_ids: list[SubjectId] = field(default_factory=list)
    #: The records this batch corrected or retracted (whoever received a decision resting
    #: on one of them is told).
    changed_records: list[int] = field(default_factory=list)
    #: Rows reporting a fact another source reported first: linked to that record.
    linked: int = 0
    #: Rows that repeat an earlier row of the same batch exactly: stored once.
    duplicates: int = 0
    #: Rows the mapping's [skip] says are not records (an inspection passed).
    skipped: int = 0
    #: Rows without a usable identifier that the identity resolver attached, and of
    #: those, the ones waiting in the identity review queue.
    resolved: int = 0
    review: int = 0
    #: Where a second source disagrees with the record it is linked to (not errors).
    notices: list[RowProblem] = field(default_factory=list)
    #: Every problem (the first MAX_PROBLEMS_KEPT), and how many there were.
    problems: list[RowProblem] = field(default_factory=list)
    problem_count: int = 0
    #: accepted | quarantined | dry-run | already (the same batch was accepted before)
    status: str = ""
    #: The batch's id in the registry (ingest_batches), and the earlier one for "already".
    batch_id: int | None = None
    format: str = ""
    encoding: str | None = None
    delimiter: str | None = None
    mapping: str | None = None

    @property
    def stored(self) -> int:
        return self.created + self.corrected + self.retracted

    def counts(self) -> dict[str, int]:
        return {
            "rows": self.rows,
            "created": self.created,
            "corrected": self.corrected,
            "retracted": self.retracted,
            "unchanged": self.unchanged,
            "linked": self.linked,
            "duplicates": self.duplicates,
            "skipped": self.skipped,
            "new_subjects": self.new_subjects,
            "resolved": self.resolved,
            "review": self.review,
        }


class BatchQuarantined(BatchRejected):
    """A batch was refused whole and kept in quarantine as ``batch_id`` (None for a dry
    run, or when the same batch already waits there as ``batch_id``)."""

    def __init__(self, report: IngestReport, *, kept: bool) -> None:
        self.report = report
        self.batch_id = report.batch_id
        self.kept = kept
        super().__init__(report.problems, total_rows=report.rows)
        self.problem_count = report.problem_count


# --- reading (kept for callers of the one-format ingest) ----------------------------------


def read_batch(path: Path, *, fmt: str | None = None) -> tuple[list[Row], list[RowProblem]]:
    """Read a whole file in trustledger's own format into rows (small files only; the
    ingest itself streams)."""
    fmt = format_of(path, fmt)
    if fmt is None:
        return [], [_no_format(path)]
    reader = open_reader(path, fmt=fmt, native=True)
    layout = Layout(NATIVE, str(path), reader.header)
    rows: list[Row] = []
    for chunk in reader.chunks(CHUNK_ROWS):
        for i, line in enumerate(chunk.lines):
            rows.append(Row(str(path), line, {k: v[i] for k, v in chunk.columns.items()}))
    return rows, [*layout.problems, *reader.problems]


def rows_from_objects(
    objects: Sequence[dict[str, Any]], *, file: str
) -> tuple[list[Row], list[RowProblem]]:
    """Rows from already-parsed JSON objects (an HTTP request's ``records``), numbered
    from 1 as "lines" of ``file``."""
    rows: list[Row] = []
    problems: list[RowProblem] = []
    for number, obj in enumerate(objects, start=1):
        values: dict[str, str] = {}
        for key, value in obj.items():
            if key not in FIELDS:
                problems.append(
                    RowProblem(
                        file,
                        number,
                        key,
                        f"unknown field {key!r}; known fields: {', '.join(FIELDS)}",
                    )
                )
            elif value is None:
                values[key] = ""
            elif isinstance(value, (dict, list, bool)):
                problems.append(RowProblem(file, number, key, "must be a string or a number"))
            else:
                values[key] = str(value).strip()
        rows.append(Row(file, number, values))
    return rows, problems


def _no_format(path: Path) -> RowProblem:
    suffix = path.suffix.lower().lstrip(".")
    return RowProblem(
        str(path),
        1,
        "-",
        f"cannot tell the format from '.{suffix}': name the file .csv, .jsonl or .parquet, "
        "or pass --format csv|jsonl|parquet",
    )


# --- storing ---------------------------------------------------------------------------------


@dataclass(slots=True)
class ChunkWrites:
    """What one chunk writes, in the order written."""

    subjects: list[SubjectDraft] = field(default_factory=list)
    #: (id, provider, reference, created_at) of new records
    records: list[tuple[Any, ...]] = field(default_factory=list)
    #: record_versions rows, in _VERSION_COLUMNS order
    versions: list[tuple[Any, ...]] = field(default_factory=list)
    #: record_sources rows, in _SOURCE_COLUMNS order
    sources: list[tuple[Any, ...]] = field(default_factory=list)


_RECORD_COLUMNS: Final = ("id", "provider", "reference", "created_at")
_VERSION_COLUMNS: Final = (
    "record_id",
    "version",
    "action",
    "subject_id",
    "record_type",
    "provider",
    "valid_from",
    "valid_to",
    "recorded_at",
    "amount",
    "note",
    "batch",
    "repaired_on",
)
_SOURCE_COLUMNS: Final = (
    "record_id",
    "provider",
    "reference",
    "fact_key",
    "batch",
    "linked_at",
    "differences",
)


class ChunkStore:
    """Writes a chunk's records, versions and sources (subjects are written before, as
    the versions need their ids). Replaceable, so that a test can make the store fail
    half-way through a batch."""

    def write(self, conn: Connection, writes: ChunkWrites) -> None:
        batch_store.bulk_insert(conn, records, _RECORD_COLUMNS, writes.records)
        batch_store.bulk_insert(conn, record_versions, _VERSION_COLUMNS, writes.versions)
        batch_store.bulk_insert(conn, record_sources, _SOURCE_COLUMNS, writes.sources)


# --- one batch, chunk by chunk ---------------------------------------------------------------


class _Batch:
    """Decides and writes a batch's chunks in one transaction; collects the report."""

    def __init__(
        self,
        conn: Connection,
        *,
        provider: str,
        policy: Policy,
        now: datetime,
        batch: str,
        report: IngestReport,
        store: ChunkStore,
        actor: str,
    ) -> None:
        self.conn = conn
        self.provider = provider
        self.policy = policy
        self.now = now
        self.batch = batch
        self.report = report
        self.store = store
        self.actor = actor
        self.first_record_id: int | None = None
        #: References corrected or retracted in this batch, with their line.
        self.changed: dict[str, int] = {}
        self.subjects: set[SubjectId] = set()
        #: Whether the provider had sources of records (dedupe links) when it began.
        self.has_sources: bool | None = None
        #: The subjects known by identifier key (looked up, or created by this batch).
        self.known: dict[str, SubjectId] = {}
        self.at = batch_store.stored_instant(conn, now)
        self.day = batch_store.stored_day(conn)
        self.money = batch_store.stored_amount(conn)

    # -- problems

    def add_problems(self, problems: Sequence[RowProblem]) -> None:
        report = self.report
        report.problem_count += len(problems)
        room = MAX_PROBLEMS_KEPT - len(report.problems)
        if room > 0:
            report.problems.extend(problems[:room])

    def subjects_of(self, c: Checked, rows: Sequence[int]) -> dict[str, SubjectId]:
        """The subjects the identifiers of these rows name (by identifier key), from the
        batch's cache or the store: a subject has rows in many chunks, each identifier is
        looked up once a batch."""
        cache = self.known
        missing: dict[Identifier, str] = {}
        for i in rows:
            key = c.id_key[i]
            if key is not None and key not in cache:
                ident = c.identifier[i]
                assert ident is not None
                missing[ident] = key
        if missing:
            if len(cache) > KNOWN_CACHED:
                cache.clear()
            for ident, sid in subject_store.lookup_identifiers(self.conn, missing).items():
                cache[missing[ident]] = sid
        return cache

    def _in_this_batch(self, cur: Current) -> bool:
        return self.first_record_id is not None and cur.record_id >= self.first_record_id

    # -- a chunk

    def feed(self, c: Checked) -> None:
        conn, provider, report = self.conn, self.provider, self.report
        n = len(c)
        report.rows += n
        ok = [i for i in range(n) if not c.bad[i]]
        for i in c.duplicate_of:
            if not c.bad[i]:
                report.duplicates += 1
        ok = [i for i in ok if i not in c.duplicate_of]
        refs = [c.reference[i] for i in ok]
        current = batch_store.current_versions(conn, provider, refs)
        unknown = [r for r in refs if r not in current]
        # Second sources exist only where a mapping declared dedupe keys: most providers
        # have none, and their references need no second look.
        if self.has_sources is None:
            self.has_sources = batch_store.has_sources(conn, provider)
        linked = (
            batch_store.sources_by_reference(conn, provider, unknown)
            if unknown and (self.has_sources or report.linked)
            else {}
        )
        keys = [
            k
            for i in ok
            if (k := c.fact_key[i]) is not None
            and c.action[i] is RecordAction.CREATE
            and c.reference[i] not in current
        ]
        facts = batch_store.sources_by_fact_key(conn, keys) if keys else {}
        fact_current = batch_store.current_by_record(conn, facts.values()) if facts else {}
        known = self.subjects_of(c, ok)
        drafts: dict[str, SubjectDraft] = {}
        creates: list[int] = []
        #: A fact key first seen in this chunk -> the row that creates its record.
        pending: dict[str, int] = {}
        #: Rows linking to a record: (row, record id or None, row of this chunk, differences)
        links: list[tuple[int, RecordId | None, int | None, dict[str, Any]]] = []
        versions: list[tuple[Any, ...]] = []
        to_resolve: list[int] = []
        subject_of: dict[int, SubjectId] = {}

        for i in ok:
            action, ref = c.action[i], c.reference[i]
            cur = current.get(ref)
            if action is not RecordAction.CREATE:
                self._change(c, i, cur, linked, known, drafts, versions)
                continue
            if cur is not None:
                self._again(c, i, cur, known)
                continue
            if ref in linked:
                report.unchanged += 1
                continue
            key = c.fact_key[i]
            if key is not None:
                rid = facts.get(key)
                if rid is not None:
                    fact = fact_current[rid]
                    diffs = self._compare(c, i, fact, known)
                    if diffs is not None:
                        links.append((i, rid, None, diffs))
                        self.subjects.add(fact.subject_id)
                    continue
                j = pending.get(key)
                if j is not None:
                    diffs = self._compare_rows(c, i, j)
                    if diffs is not None:
                        links.append((i, None, j, diffs))
                    continue
                pending[key] = i
            id_key = c.id_key[i]
            if id_key is not None:
                if id_key not in known and id_key not in drafts:
                    ident = c.identifier[i]
                    assert ident is not None
                    if not c.name[i]:
                        c.problem(
                            i,
                            "subject_name",
                            f"subject {ident.value} is new to the registry: subject_name is "
                            "required",
                        )
                        continue
                    drafts[id_key] = _draft(c, i, ident, provider)
            else:
                to_resolve.append(i)
            creates.append(i)

        # Subjects: the new ones, then the resolver's.
        if drafts:
            for key, sid in zip(
                drafts,
                batch_store.bulk_insert_subjects(conn, list(drafts.values()), now=self.now),
                strict=True,
            ):
                known[key] = sid
            report.new_subjects += len(drafts)
        resolutions: dict[int, Resolution] = {}
        if to_resolve:
            resolutions = self._resolve(c, to_resolve)
        for i in creates:
            if c.bad[i]:
                continue
            id_key = c.id_key[i]
            if id_key is not None:
                subject_of[i] = known[id_key]
            elif i in resolutions:
                subject_of[i] = resolutions[i].subject_id

        creates = [i for i in creates if not c.bad[i]]
        ids = batch_store.bulk_ids(conn, records, len(creates))
        if ids and self.first_record_id is None:
            self.first_record_id = ids[0]
        record_of = dict(zip(creates, ids, strict=True))
        writes = ChunkWrites(
            records=[(rid, provider, c.reference[i], self.at) for i, rid in record_of.items()]
        )
        # Dates repeat: each is converted to its stored form once a chunk.
        day = self.day
        days = {d: day(d) for d in {*c.valid_from, *c.valid_to}}
        amounts = c.amount
        as_float = self.conn.dialect.name == "sqlite"
        at, batch, subjects = self.at, self.batch, self.subjects
        types, starts, ends, notes = c.record_type, c.valid_from, c.valid_to, c.note
        for i, rid in record_of.items():
            sid = subject_of[i]
            subjects.add(sid)
            amount = amounts[i]
            versions.append(
                (
                    rid,
                    1,
                    "create",
                    sid,
                    types[i],
                    provider,
                    days[starts[i]],
                    days[ends[i]],
                    at,
                    (float(amount) if as_float else amount) if amount is not None else None,
                    notes[i],
                    batch,
                    None,
                )
            )
            if (key := c.fact_key[i]) is not None:
                writes.sources.append((rid, provider, c.reference[i], key, batch, at, None))
        for i, rid_or_none, j, diffs in links:
            rid = (
                rid_or_none
                if rid_or_none is not None
                else record_of.get(j)
                if j is not None
                else None
            )
            if rid is None:
                assert j is not None
                c.problem(
                    i,
                    "reference",
                    f"reports the same fact as line {c.lines[j]}, which was refused",
                )
                continue
            if c.bad[i]:
                continue
            key = c.fact_key[i]
            assert key is not None
            writes.sources.append(
                (
                    rid,
                    provider,
                    c.reference[i],
                    key,
                    self.batch,
                    self.at,
                    json.dumps(diffs, ensure_ascii=False, default=str) if diffs else None,
                )
            )
            report.linked += 1
        writes.versions = versions
        report.created += len(record_of)
        self.store.write(conn, writes)
        if resolutions:
            done = [(record_of[i], resolutions[i]) for i in creates if i in resolutions]
            if done:
                # Imported when first needed: the resolver loads its matching model and
                # pypinyin, which a file whose rows all have identifiers never needs.
                from trustledger.resolve import record_links

                record_links(conn, done, actor=self.actor, now=self.now)
                report.resolved += len(done)
                # The subjects the resolver proposed for records it found no one for.
                report.new_subjects += len(
                    {r.subject_id for _, r in done if r.outcome in ("new", "review")}
                )
                report.review += sum(1 for _, r in done if r.outcome == "review")
        self.add_problems(c.problems)

    # -- the kinds of row

    def _change(
        self,
        c: Checked,
        i: int,
        cur: Current | None,
        linked: dict[str, batch_store.Source],
        known: dict[str, SubjectId],
        drafts: dict[str, SubjectDraft],
        versions: list[tuple[Any, ...]],
    ) -> None:
        """A correction or a retraction of row ``i``."""
        action, ref, provider, report = c.action[i], c.reference[i], self.provider, self.report
        if cur is None:
            source = linked.get(ref)
            if source is not None:
                c.problem(
                    i,
                    "reference",
                    f"{ref!r} reported a fact first reported by another provider (record "
                    f"{source.record_id}); corrections and retractions of it come from that "
                    "provider, which holds the record",
                )
            else:
                c.problem(i, "reference", f"no record {ref!r} from {provider} to {action.value}")
            return
        if self._in_this_batch(cur) or ref in self.changed:
            first = self.changed.get(ref)
            where = f" (first at line {first})" if first else ""
            c.problem(i, "reference", f"{ref!r} appears twice in this batch{where}")
            return
        if cur.action is RecordAction.RETRACT:
            if action is RecordAction.RETRACT:  # retracting again changes nothing
                report.unchanged += 1
                return
            c.problem(
                i,
                "reference",
                f"record {ref!r} was retracted; a retracted record cannot be changed or sent again",
            )
            return
        if cur.action is RecordAction.EXPIRE:
            c.problem(
                i,
                "reference",
                f"record {ref!r} left the file at the end of its retention; it cannot be "
                "changed or sent again",
            )
            return
        self.changed[ref] = c.lines[i]
        day, money = self.day, self.money
        if action is RecordAction.RETRACT:
            versions.append(
                (
                    cur.record_id,
                    cur.version + 1,
                    "retract",
                    cur.subject_id,
                    cur.record_type,
                    provider,
                    day(cur.valid_from),
                    day(cur.valid_to),
                    self.at,
                    None,
                    c.note[i],
                    self.batch,
                    day(cur.repaired_on),
                )
            )
            report.retracted += 1
        else:
            sid = self._subject_for_change(c, i, cur, known, drafts)
            if sid is None:
                return
            if not _differs(c, i, cur, sid):
                report.unchanged += 1
                return
            versions.append(
                (
                    cur.record_id,
                    cur.version + 1,
                    "correct",
                    sid,
                    c.record_type[i],
                    provider,
                    day(c.valid_from[i]),
                    day(c.valid_to[i]),
                    self.at,
                    money(c.amount[i]),
                    c.note[i],
                    self.batch,
                    # A provider's correction does not undo an approved credit repair.
                    day(cur.repaired_on),
                )
            )
            report.corrected += 1
            self.subjects.add(sid)
        self.subjects.add(cur.subject_id)
        report.changed_records.append(cur.record_id)

    def _subject_for_change(
        self,
        c: Checked,
        i: int,
        cur: Current,
        known: dict[str, SubjectId],
        drafts: dict[str, SubjectDraft],
    ) -> SubjectId | None:
        """The subject of a correction: its identifier's, or the record's own when the row
        names none; None (and a problem) when it cannot be told."""
        state = c.id_state[i]
        if state == IdState.MISSING:
            return cur.subject_id
        if state == IdState.INVALID:
            error = c.id_error[i]
            assert error is not None
            c.problem(i, "subject_id", error.reason)
            return None
        ident, key = c.identifier[i], c.id_key[i]
        assert ident is not None and key is not None
        sid = known.get(key)
        if sid is not None:
            return sid
        draft = drafts.pop(key, None)
        if draft is None:
            if not c.name[i]:
                c.problem(
                    i,
                    "subject_name",
                    f"subject {ident.value} is new to the registry: subject_name is required",
                )
                return None
            draft = _draft(c, i, ident, self.provider)
        # A correction that moves the record to a subject new to the registry.
        (sid,) = batch_store.bulk_insert_subjects(self.conn, [draft], now=self.now)
        known[key] = sid
        self.report.new_subjects += 1
        return sid

    def _again(self, c: Checked, i: int, cur: Current, known: dict[str, SubjectId]) -> None:
        """A ``create`` of a reference the provider sent before."""
        ref, report = c.reference[i], self.report
        key = c.id_key[i]
        sid = known.get(key) if key is not None else None
        if c.id_state[i] != IdState.VALID:
            sid = cur.subject_id  # a row without identifier does not move the record
        if self._in_this_batch(cur):
            if _differs(c, i, cur, sid):
                c.problem(
                    i,
                    "reference",
                    f"{ref!r} appears twice in this batch with other values",
                )
            else:
                report.duplicates += 1
            return
        if cur.action is RecordAction.RETRACT:
            c.problem(
                i,
                "reference",
                f"record {ref!r} was retracted; a retracted record cannot be changed or sent again",
            )
        elif cur.action is RecordAction.EXPIRE:
            c.problem(
                i,
                "reference",
                f"record {ref!r} left the file at the end of its retention; it cannot be "
                "changed or sent again",
            )
        elif changed := _differs(c, i, cur, sid):
            c.problem(
                i,
                "reference",
                f"record {ref!r} is already stored with other {', '.join(changed)}: send "
                "action=correct to change it",
            )
        else:
            report.unchanged += 1

    def _compare(
        self, c: Checked, i: int, fact: Current, known: dict[str, SubjectId]
    ) -> dict[str, Any] | None:
        """Row ``i`` reports the fact of record ``fact`` (the same dedupe key): None and a
        problem when it cannot be the same fact (another subject, another record type);
        else what this source says otherwise (the record keeps its first source's)."""
        ident, key = c.identifier[i], c.id_key[i]
        sid = known.get(key) if key is not None else None
        by = f"{fact.provider} ({fact.reference!r})"
        if sid is not None and sid != fact.subject_id:
            c.problem(
                i,
                self._label(c, "subject_id"),
                f"reports the fact of record {fact.record_id} from {by}, whose subject is "
                f"#{fact.subject_id}, about another subject (#{sid}): the two sources "
                "disagree on who it is about; they must reconcile before it is stored",
            )
            return None
        if c.record_type[i] != fact.record_type:
            c.problem(
                i,
                self._label(c, "record_type"),
                f"reports the fact of record {fact.record_id} from {by} as "
                f"{c.record_type[i]!r}; it is recorded as {fact.record_type!r}: the two "
                "sources must reconcile (or the first must send a correction)",
            )
            return None
        ours: dict[str, Any] = {
            "valid_from": c.valid_from[i],
            "valid_to": c.valid_to[i],
            "amount": c.amount[i],
        }
        theirs: dict[str, Any] = {
            "valid_from": fact.valid_from,
            "valid_to": fact.valid_to,
            "amount": fact.amount,
        }
        if ident is not None and sid is None:
            ours["subject_id"] = ident.value
            theirs["subject_id"] = f"#{fact.subject_id}"
        return self._differences(c, i, ours, theirs, f"record {fact.record_id} from {by}")

    def _compare_rows(self, c: Checked, i: int, j: int) -> dict[str, Any] | None:
        """Row ``i`` reports the same fact as row ``j`` of this chunk, whose record this
        batch creates."""
        a, b = c.identifier[i], c.identifier[j]
        if a is not None and b is not None and a != b:
            c.problem(
                i,
                self._label(c, "subject_id"),
                f"reports the same fact as line {c.lines[j]} about another subject "
                f"({a.value}, not {b.value})",
            )
            return None
        if c.record_type[i] != c.record_type[j]:
            c.problem(
                i,
                self._label(c, "record_type"),
                f"reports the same fact as line {c.lines[j]} as {c.record_type[i]!r}, "
                f"not {c.record_type[j]!r}",
            )
            return None
        ours = {"valid_from": c.valid_from[i], "valid_to": c.valid_to[i], "amount": c.amount[i]}
        theirs = {"valid_from": c.valid_from[j], "valid_to": c.valid_to[j], "amount": c.amount[j]}
        return self._differences(c, i, ours, theirs, f"line {c.lines[j]}")

    def _differences(
        self, c: Checked, i: int, ours: dict[str, Any], theirs: dict[str, Any], first: str
    ) -> dict[str, Any]:
        diffs: dict[str, Any] = {}
        for name, value in ours.items():
            if value is None or value == theirs[name]:
                continue
            diffs[name] = value.isoformat() if isinstance(value, date) else str(value)
            shown = theirs[name]
            shown = shown.isoformat() if isinstance(shown, date) else shown
            self.report.notices.append(
                RowProblem(
                    c.file,
                    c.lines[i],
                    self._label(c, name),
                    f"this source says {diffs[name]}, the fact's first source ({first}) "
                    f"says {shown if shown is not None else 'nothing'}; the record keeps "
                    "the first source's value, and this one is kept with the link",
                )
            )
        return diffs

    @staticmethod
    def _label(c: Checked, target: str) -> str:
        return c.labels.get(target, target)

    def _resolve(self, c: Checked, rows: list[int]) -> dict[int, Resolution]:
        """The identity resolver's answer for rows without a usable identifier."""
        from trustledger.resolve import Candidate, resolve_candidates

        candidates = [
            Candidate(
                file=c.file,
                line=c.lines[i],
                provider=self.provider,
                kind=c.kind[i],
                name=c.name[i] or None,
                birth_date=c.birth_date[i],
                address=c.address[i],
                phone=c.phone[i],
                identifier_kind=c.id_kind[i] or None,
                identifier_value=c.id_value[i] or None,
            )
            for i in rows
        ]
        results = resolve_candidates(self.conn, candidates, policy=self.policy, now=self.now)
        out: dict[int, Resolution] = {}
        for i, result in zip(rows, results, strict=True):
            if isinstance(result, RowProblem):
                # Named as the provider names the field.
                c.bad[i] = True
                c.problems.append(
                    RowProblem(
                        result.file, result.line, self._label(c, result.field), result.reason
                    )
                )
            else:
                out[i] = result
        return out

    def finish(self) -> None:
        report = self.report
        report.subject_ids = sorted(self.subjects)
        report.problems.sort(key=lambda p: (p.file, p.line))


def _differs(c: Checked, i: int, cur: Current, subject_id: SubjectId | None) -> list[str]:
    """The fields in which row ``i`` differs from the stored version of its record."""
    pairs = {
        "subject_id": (subject_id, cur.subject_id),
        "record_type": (c.record_type[i], cur.record_type),
        "valid_from": (c.valid_from[i], cur.valid_from),
        "valid_to": (c.valid_to[i], cur.valid_to),
        "amount": (c.amount[i], cur.amount),
        "note": (c.note[i], cur.note),
    }
    return [name for name, (new, old) in pairs.items() if new != old]


def _draft(c: Checked, i: int, ident: Identifier, provider: str) -> SubjectDraft:
    kind = c.kind[i]
    assert kind is not None
    birth = c.birth_date[i]
    region = None
    if ident.kind == "cn_ric":
        # Validated already: its birth date is digits 7-14 (ric_birth_date would check the
        # whole number again).
        v = ident.value
        birth = date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
        region = v[:6]
    elif ident.kind == "uscc":
        region = ident.value[2:8]
    return SubjectDraft(
        kind=kind,
        name=c.name[i],
        created_by=provider,
        identifiers=(ident,),
        birth_date=birth,
        region=region,
    )


# --- the use cases ---------------------------------------------------------------------------


def ingest_rows(
    conn: Connection,
    rows: list[Row],
    *,
    provider: str,
    policy: Policy,
    now: datetime,
    batch: str,
    file: str,
    read_problems: list[RowProblem] | None = None,
) -> IngestReport:
    """Check every row, then store them all in ``conn``'s transaction, or raise
    :class:`BatchRejected` having stored nothing (rows in trustledger's own format, such
    as an HTTP request's)."""
    _known_provider(policy, provider)
    today = now.astimezone(policy.policy.zone).date()
    checker = RowChecker(provider=provider, policy=policy, today=today, resolver=True)
    layout = Layout(NATIVE, file, None)
    report = IngestReport(provider=provider, file=file, batch=batch, status=ACCEPTED)
    run = _Batch(
        conn,
        provider=provider,
        policy=policy,
        now=now,
        batch=batch,
        report=report,
        store=ChunkStore(),
        actor=f"provider:{provider}",
    )
    run.add_problems(list(read_problems or []))
    names: dict[str, None] = {}
    for r in rows:
        names.update(dict.fromkeys(r.values))
    chunk = Chunk([r.line for r in rows], {n: [r.values.get(n, "") for r in rows] for n in names})
    if rows:
        _feed(run, layout, checker, chunk)
    run.finish()
    if report.problem_count:
        raise BatchRejected(report.problems, total_rows=len(rows))
    return report


def _feed(run: _Batch, layout: Layout, checker: RowChecker, chunk: Chunk) -> None:
    run_prepared(run, _prepare(layout, checker, chunk, []))


@dataclass(slots=True)
class _Prepared:
    """A chunk read, mapped and checked, with the problems found while reading it."""

    checked: Checked
    skipped: int
    problems: list[RowProblem]


def _prepare(
    layout: Layout, checker: RowChecker, chunk: Chunk, read_problems: list[RowProblem]
) -> _Prepared:
    mapped = layout.apply(chunk)
    checked = checker.check(mapped)
    problems = list(read_problems)
    if any(a is not RecordAction.RETRACT for a in checked.action):
        problems += layout.absent_problems()
    return _Prepared(checked, mapped.skipped, problems)


def run_prepared(run: _Batch, prepared: _Prepared) -> None:
    run.add_problems(prepared.problems)
    run.report.skipped += prepared.skipped
    run.report.rows += prepared.skipped
    run.feed(prepared.checked)


_DONE: Final = object()


def _in_background(items: Iterator[Any], depth: int = 2) -> Iterator[Any]:
    """``items``, produced by a thread of their own at most ``depth`` ahead of the consumer.

    Reading, mapping and checking a chunk is Python work; storing one is mostly the
    database's (SQLite's inserts and PostgreSQL's server run without the interpreter's
    lock), so the next chunk is prepared while this one is written. Order is kept, an
    exception in the producer is raised in the consumer, and a consumer that stops early
    stops the producer."""
    out: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        out.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            out.put((_DONE, None))
        except BaseException as exc:  # handed to the consumer, which raises it
            out.put((_DONE, exc))

    worker = threading.Thread(target=produce, name="ingest-reader", daemon=True)
    worker.start()
    try:
        while True:
            item, error = out.get()
            if error is not None:
                raise error
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            try:
                out.get(timeout=0.1)
            except queue.Empty:
                pass
        worker.join()


def _known_provider(policy: Policy, provider: str) -> None:
    if provider not in policy.providers:
        known = ", ".join(sorted(policy.providers)) or "(none)"
        raise NotFound(f"unknown provider {provider!r}; the policy knows: {known}")


def registered_mapping(active: ActivePolicy, provider: str) -> Path | None:
    """The mapping file the policy registers for ``provider``: its ``mapping`` key, a path
    relative to the policy file (as it was loaded); None when it names none."""
    declared = active.policy.providers[provider].mapping
    if declared is None:
        return None
    return Path(active.stored.filename).parent / declared


def _file_digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _mapping_of(
    mapping: Mapping | str | Path | None, provider: str
) -> tuple[Mapping, list[RowProblem]]:
    if mapping is None:
        return NATIVE, []
    if isinstance(mapping, Mapping):
        loaded = mapping
    else:
        try:
            loaded = load_mapping(mapping)
        except MappingError as exc:
            return NATIVE, exc.problems
    if loaded.provider is not None and loaded.provider != provider:
        return loaded, [
            loaded.problem(
                ("mapping", "provider"),
                f"this mapping is for provider {loaded.provider!r}, not {provider!r}",
            )
        ]
    return loaded, []


def ingest_file(
    engine: Engine,
    path: str | Path,
    *,
    provider: str,
    now: datetime,
    fmt: str | None = None,
    policy_ref: str | None = None,
    on_stage: Callable[[str], None] | None = None,
    audit: Callable[[Connection, IngestReport], None] | None = None,
    mapping: Mapping | str | Path | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    batch_id: str | None = None,
    dry_run: bool = False,
    received_by: str = "cli",
    on_quarantine: Callable[[Connection, IngestReport], None] | None = None,
    store: ChunkStore | None = None,
    chunk_rows: int = CHUNK_ROWS,
    retry_of: int | None = None,
    source: str | None = None,
) -> IngestReport:
    """Read, map, check and store one file in one transaction; see the module docstring.

    ``mapping`` is the provider's mapping (a file or a parsed :class:`Mapping`); without
    one the file is in trustledger's own format. ``audit`` is called in the batch's
    transaction once its rows are stored, ``on_quarantine`` in the transaction that
    keeps a refused batch. A refused batch raises :class:`BatchQuarantined` (after being
    kept in quarantine, unless ``dry_run``). ``dry_run`` checks everything a real run
    would, the database's view included, and stores nothing.

    >>> ingest_file(engine, "bank.jsonl", provider="city_commercial_bank",
    ...             now=now)                                        # doctest: +SKIP
    IngestReport(provider='city_commercial_bank', ..., created=120, ...)
    """
    path = Path(path)
    if path.is_dir():
        raise NotFound(f"{path}: is a directory; give one CSV, JSON Lines or Parquet file")
    if not path.is_file():
        raise NotFound(f"{path}: no such file")
    name = source or str(path)
    with engine.connect() as conn:
        active = active_policy(conn, policy_ref)
    policy = active.policy
    _known_provider(policy, provider)
    if mapping is None:
        mapping = registered_mapping(active, provider)
    loaded, mapping_problems = _mapping_of(mapping, provider)
    digest, size = _file_digest(path)
    batch = f"{provider}:{digest[:16]}"
    fmt = format_of(path, fmt) or loaded.format or format_of(path)
    report = IngestReport(
        provider=provider,
        file=name,
        batch=batch,
        policy_version=active.label,
        format=fmt or "",
        mapping=str(mapping) if isinstance(mapping, (str, Path)) else loaded.file,
    )
    if not dry_run:
        earlier = _earlier(engine, provider, digest, loaded, batch_id)
        if earlier is not None:
            return _already(report, earlier)
    if on_stage:
        on_stage("reading")
    conn = engine.connect()
    cache = batch_store.bulk_cache(conn)
    cache.__enter__()
    # Millions of small objects (rows, values, tuples to insert), none in a reference
    # cycle: the cyclic garbage collector would only rescan them over and over (about a
    # sixth of a million-row run), so it pauses while the batch runs, as the synthetic
    # population's generator does. Reference counting still frees every chunk.
    collecting = gc.isenabled()
    gc.disable()
    try:
        trans = conn.begin()
        run = _Batch(
            conn,
            provider=provider,
            policy=policy,
            now=now,
            batch=batch,
            report=report,
            store=store or ChunkStore(),
            actor=received_by,
        )
        run.add_problems(mapping_problems)
        if fmt is None:
            run.add_problems([_no_format(path)])
        elif fmt not in ("csv", "jsonl", "parquet"):
            run.add_problems(
                [RowProblem(name, 1, "-", f"unknown format {fmt!r}: use csv, jsonl or parquet")]
            )
        elif not mapping_problems:
            _read_all(
                run,
                path,
                name,
                fmt,
                loaded,
                encoding,
                delimiter,
                policy,
                now,
                chunk_rows,
                on_stage,
            )
        run.finish()
        if report.problem_count or dry_run:
            trans.rollback()
        else:
            report.status = ACCEPTED
            if retry_of is None:
                # The same batch waiting in quarantine goes through now: this is its retry.
                retry_of = next(
                    (
                        b.id
                        for b in batch_store.find_batches(
                            conn, provider, file_sha256=digest, statuses=(QUARANTINED,)
                        )
                        if b.mapping_sha256 == loaded.sha256
                    ),
                    None,
                )
            report.batch_id = _record_batch(
                conn,
                report,
                active,
                digest,
                size,
                loaded,
                batch_id,
                now,
                received_by,
                retry_of,
                status=ACCEPTED,
            )
            if retry_of is not None:
                batch_store.mark_retried(conn, retry_of)
            if audit is not None:
                audit(conn, report)
            trans.commit()
            return report
    except IntegrityError:
        raise Conflict(
            f"{name}: another batch stored some of the same records at the same moment; "
            "send it again"
        ) from None
    finally:
        if collecting:
            gc.enable()
        cache.__exit__(None, None, None)
        conn.close()
    if dry_run:
        report.status = "dry-run"
        if report.problem_count:
            raise BatchQuarantined(report, kept=False)
        return report
    _quarantine(
        engine,
        path,
        report,
        active,
        digest,
        size,
        loaded,
        batch_id,
        now,
        received_by,
        retry_of,
        on_quarantine,
    )
    raise AssertionError("unreachable")  # pragma: no cover


def _read_all(
    run: _Batch,
    path: Path,
    name: str,
    fmt: str,
    mapping: Mapping,
    encoding: str | None,
    delimiter: str | None,
    policy: Policy,
    now: datetime,
    chunk_rows: int,
    on_stage: Callable[[str], None] | None,
) -> None:
    report = run.report
    reader = open_reader(
        path,
        fmt=fmt,
        encoding=encoding or mapping.encoding,
        delimiter=delimiter or mapping.delimiter,
        native=mapping.native,
    )
    reader.file = name
    report.encoding, report.delimiter = reader.encoding, reader.delimiter
    layout = Layout(mapping, name, reader.header)
    run.add_problems(layout.problems)
    today = now.astimezone(policy.policy.zone).date()
    checker = RowChecker(
        provider=run.provider,
        policy=policy,
        today=today,
        mapping=mapping,
        resolver=True,
    )
    if on_stage:
        on_stage("checking and storing")
    if layout.problems and reader.header is not None and not reader.header:
        return

    def prepared() -> Iterator[_Prepared]:
        seen = 0
        for chunk in reader.chunks(chunk_rows):
            # Form problems found while reading this chunk come with it.
            found = reader.problems[seen:]
            seen += len(found)
            yield _prepare(layout, checker, chunk, found)
        tail = reader.problems[seen:]
        if tail:
            yield _Prepared(checker.check(layout.apply(Chunk([], {}))), 0, tail)

    for item in _in_background(prepared()):
        run_prepared(run, item)
        if on_stage:
            on_stage(f"checked and stored {report.rows:,} rows")


def _earlier(
    engine: Engine, provider: str, digest: str, mapping: Mapping, batch_key: str | None
) -> BatchRow | None:
    """The accepted batch this one repeats (the same file read the same way, or the same
    batch id), or None. The same batch id with another file is a conflict."""
    with engine.connect() as conn:
        if batch_key is not None:
            for b in batch_store.find_batches(
                conn, provider, batch_key=batch_key, statuses=(ACCEPTED,)
            ):
                if b.file_sha256 != digest:
                    raise Conflict(
                        f"batch id {batch_key!r} of {provider} was used on "
                        f"{b.received_at:%Y-%m-%d %H:%M} UTC for another file "
                        f"({b.source}, batch {b.id}); use a new batch id for new records"
                    )
                return b
        for b in batch_store.find_batches(conn, provider, file_sha256=digest, statuses=(ACCEPTED,)):
            if b.mapping_sha256 == mapping.sha256:
                return b
    return None


def _already(report: IngestReport, earlier: BatchRow) -> IngestReport:
    counts = earlier.report.get("counts", {})
    report.status = "already"
    report.batch_id = earlier.id
    report.rows = int(counts.get("rows", earlier.rows))
    # Nothing new is stored: every row is as stored already.
    report.unchanged = report.rows
    report.encoding = earlier.encoding
    report.delimiter = earlier.delimiter
    return report


def _report_json(report: IngestReport) -> dict[str, Any]:
    return {
        "counts": report.counts(),
        "problem_count": report.problem_count,
        "problems": [[p.file, p.line, p.field, p.reason] for p in report.problems],
        "notices": [[p.file, p.line, p.field, p.reason] for p in report.notices],
        "policy_version": report.policy_version,
    }


def _record_batch(
    conn: Connection,
    report: IngestReport,
    active: ActivePolicy,
    digest: str,
    size: int,
    mapping: Mapping,
    batch_key: str | None,
    now: datetime,
    received_by: str,
    retry_of: int | None,
    *,
    status: str,
) -> int:
    return batch_store.insert_batch(
        conn,
        batch=report.batch,
        provider=report.provider,
        batch_key=batch_key,
        source=report.file,
        file_sha256=digest,
        size=size,
        format=report.format or "?",
        encoding=report.encoding,
        delimiter=report.delimiter,
        mapping_source=report.mapping,
        mapping_sha256=mapping.sha256,
        mapping_text=mapping.text,
        policy_version_id=active.stored.id,
        status=status,
        rows=report.rows,
        stored=report.stored,
        problems=report.problem_count,
        report=_report_json(report),
        received_at=now,
        received_by=received_by[:64],
        retry_of=retry_of,
    )


def _quarantine(
    engine: Engine,
    path: Path,
    report: IngestReport,
    active: ActivePolicy,
    digest: str,
    size: int,
    mapping: Mapping,
    batch_key: str | None,
    now: datetime,
    received_by: str,
    retry_of: int | None,
    on_quarantine: Callable[[Connection, IngestReport], None] | None,
) -> None:
    """Keep a refused batch (its report and its file) and raise :class:`BatchQuarantined`.
    The same file read the same way already waiting in quarantine is not kept twice."""
    report.status = QUARANTINED
    with engine.begin() as conn:
        waiting = [
            b
            for b in batch_store.find_batches(
                conn, report.provider, file_sha256=digest, statuses=(QUARANTINED,)
            )
            if b.mapping_sha256 == mapping.sha256 and b.id != retry_of
        ]
        if waiting:
            report.batch_id = waiting[0].id
            raise BatchQuarantined(report, kept=False)
        report.batch_id = _record_batch(
            conn,
            report,
            active,
            digest,
            size,
            mapping,
            batch_key,
            now,
            received_by,
            retry_of,
            status=QUARANTINED,
        )
        if size <= QUARANTINE_KEEP_BYTES:
            batch_store.save_quarantine_file(
                conn, report.batch_id, data=path.read_bytes(), path=str(path)
            )
        else:
            batch_store.save_quarantine_file(
                conn, report.batch_id, data=None, path=str(path.resolve())
            )
        if retry_of is not None:
            batch_store.mark_retried(conn, retry_of)
        if on_quarantine is not None:
            on_quarantine(conn, report)
    raise BatchQuarantined(report, kept=True)


# --- the quarantine -------------------------------------------------------------------------


def quarantine_list(
    engine: Engine, *, provider: str | None = None, include_done: bool = False
) -> list[BatchRow]:
    """Batches waiting in quarantine, newest first (with ``include_done`` also those a
    retry has run again)."""
    statuses = (QUARANTINED, "retried") if include_done else (QUARANTINED,)
    with engine.connect() as conn:
        return batch_store.list_batches(conn, statuses=statuses, provider=provider)


def quarantine_show(engine: Engine, batch_id: int) -> BatchRow:
    """A batch (quarantined or not) with its whole report."""
    with engine.connect() as conn:
        found = batch_store.get_batch(conn, batch_id)
    if found is None:
        raise NotFound(f"batch: no batch {batch_id}")
    return found


@contextmanager
def _kept_file(engine: Engine, batch: BatchRow) -> Iterator[Path]:
    """The quarantined file, as a path: its kept bytes in a temporary file of the same
    name, or the path it was read from when it still has the same SHA-256."""
    with engine.connect() as conn:
        kept = batch_store.quarantine_file(conn, batch.id)
    if kept is None:
        raise NotFound(f"batch {batch.id}: its file was not kept; retry it with --file")
    data, where = kept
    if data is None:
        assert where is not None
        path = Path(where)
        if not path.is_file() or _file_digest(path)[0] != batch.file_sha256:
            raise NotFound(
                f"batch {batch.id}: its file was too large to keep and {where} no longer "
                "holds it (its SHA-256 differs or it is gone); retry it with --file"
            )
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="trustledger-retry-") as tmp:
        path = Path(tmp) / Path(batch.source).name
        path.write_bytes(data)
        os.chmod(path, 0o600)
        yield path


def retry_quarantined(
    engine: Engine,
    batch_id: int,
    *,
    now: datetime,
    file: str | Path | None = None,
    mapping: str | Path | None = None,
    dry_run: bool = False,
    received_by: str = "cli",
    audit: Callable[[Connection, IngestReport], None] | None = None,
    on_quarantine: Callable[[Connection, IngestReport], None] | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> IngestReport:
    """Run a quarantined batch again: its kept file (or a corrected ``file``) read with
    its mapping as the mapping file reads now (or another ``mapping``), under the policy
    in force. Accepted, it lands like any batch and the quarantined one is marked
    retried; refused again, the new attempt is quarantined in its place."""
    batch = quarantine_show(engine, batch_id)
    if batch.status != QUARANTINED:
        raise Conflict(
            f"batch: batch {batch_id} is {batch.status}, not quarantined: only a quarantined "
            "batch is retried"
        )
    chosen: Mapping | str | Path | None = mapping
    if chosen is None and batch.mapping_source is not None:
        source = Path(batch.mapping_source)
        # The mapping as it reads now (fixed since?); the kept text if the file is gone.
        chosen = source if source.is_file() else _kept_mapping(batch)
    common: dict[str, Any] = {
        "provider": batch.provider,
        "now": now,
        "mapping": chosen,
        "batch_id": batch.batch_key,
        "dry_run": dry_run,
        "received_by": received_by,
        "audit": audit,
        "on_quarantine": on_quarantine,
        "on_stage": on_stage,
        "retry_of": batch.id,
        "fmt": batch.format if batch.format in ("csv", "jsonl", "parquet") else None,
    }
    if file is not None:
        return ingest_file(engine, file, **common)
    with _kept_file(engine, batch) as path:
        return ingest_file(engine, path, source=batch.source, **common)


def _kept_mapping(batch: BatchRow) -> Mapping | None:
    if batch.mapping_text is None:
        return None
    from trustledger.ingest.mapping import parse_mapping

    return parse_mapping(batch.mapping_text, file=batch.mapping_source or "mapping.toml")


def batch_json(batch: BatchRow, *, problems: int | None = None) -> dict[str, Any]:
    """A batch as JSON (for ``quarantine show --json`` and the pages)."""
    report = batch.report
    shown = report.get("problems", [])
    if problems is not None:
        shown = shown[:problems]
    return {
        "id": batch.id,
        "batch": batch.batch,
        "provider": batch.provider,
        "batch_id": batch.batch_key,
        "file": batch.source,
        "sha256": batch.file_sha256,
        "size": batch.size,
        "format": batch.format,
        "encoding": batch.encoding,
        "delimiter": batch.delimiter,
        "mapping": batch.mapping_source,
        "status": batch.status,
        "received_at": batch.received_at.isoformat(),
        "received_by": batch.received_by,
        "retry_of": batch.retry_of,
        "counts": report.get("counts", {}),
        "problem_count": batch.problems,
        "problems": [
            {"file": f, "line": ln, "field": fd, "reason": r, "text": f"{f}:{ln}:{fd}: {r}"}
            for f, ln, fd, r in shown
        ],
        "notices": [
            {"file": f, "line": ln, "field": fd, "reason": r}
            for f, ln, fd, r in report.get("notices", [])
        ],
    }
