"""Ingesting a provider's batch of records: all of it, or none of it.

A batch is a CSV (UTF-8, header row) or JSON Lines file with these fields:

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

Every row is checked before anything is written. One bad row rejects the whole batch
with :class:`~trustledger.errors.BatchRejected`, which lists every problem as
FILE:LINE:FIELD: reason. A batch that passes is written in one transaction. Sending the
same ``create`` row again stores nothing new, so a batch can be re-sent safely.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from trustledger.domain.batch import BATCH_FIELDS, REQUIRED_COLUMNS
from trustledger.domain.record import RecordAction
from trustledger.domain.subject import Identifier, SubjectId, SubjectKind
from trustledger.errors import BatchRejected, IdentifierError, NotFound, RowProblem
from trustledger.identifiers import ric_birth_date, subject_kind_for, validate
from trustledger.policy.schema import Policy
from trustledger.service.policies import active_policy
from trustledger.store import records as record_store
from trustledger.store import subjects as subject_store
from trustledger.store.records import CurrentRecord, NewVersion
from trustledger.store.subjects import SubjectDraft

__all__ = [
    "FIELDS",
    "IngestReport",
    "Row",
    "ingest_file",
    "ingest_rows",
    "read_batch",
    "rows_from_objects",
]

FIELDS = BATCH_FIELDS


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

    @property
    def stored(self) -> int:
        return self.created + self.corrected + self.retracted


# --- reading -------------------------------------------------------------------------------


def read_batch(path: Path, *, fmt: str | None = None) -> tuple[list[Row], list[RowProblem]]:
    """Read a CSV or JSON Lines file into rows; problems of form (bad JSON, missing columns,
    bad encoding) come back as RowProblems rather than exceptions."""
    name = str(path)
    fmt = (fmt or _guess_format(path)).lower()
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        return [], [
            RowProblem(
                name,
                line,
                "-",
                f"not valid UTF-8 (byte {column} of the line): save the file as UTF-8",
            )
        ]
    if fmt == "csv":
        return _read_csv(name, text)
    if fmt in ("jsonl", "ndjson", "json"):
        return _read_jsonl(name, text)
    raise BatchRejected([RowProblem(name, 1, "-", f"unknown format {fmt!r}: use csv or jsonl")])


_FORMATS = {"jsonl": "jsonl", "ndjson": "jsonl", "json": "jsonl", "csv": "csv"}


def _guess_format(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in _FORMATS:
        raise BatchRejected(
            [
                RowProblem(
                    str(path),
                    1,
                    "-",
                    f"cannot tell the format from "
                    f"'.{suffix}': name the file .csv or .jsonl, or pass "
                    "--format csv|jsonl",
                )
            ]
        )
    return _FORMATS[suffix]


def _missing_columns(name: str, header: list[str], needed: tuple[str, ...]) -> list[RowProblem]:
    return [
        RowProblem(name, 1, col, f"required column {col!r} is missing from the header")
        for col in needed
        if col not in header
    ]


def _read_csv(name: str, text: str) -> tuple[list[Row], list[RowProblem]]:
    # strict: an unbalanced quote at the end of the file is an error, not a silent field.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        return [], [RowProblem(name, 1, "-", f"cannot read the header: {exc}")]
    if header is None:
        return [], [RowProblem(name, 1, "-", "the file is empty: expected a header row")]
    header = [h.strip() for h in header]
    problems = [
        RowProblem(name, 1, col, f"unknown column {col!r}; known columns: {', '.join(FIELDS)}")
        for col in header
        if col not in FIELDS
    ]
    if problems:
        return [], problems + _missing_columns(name, header, REQUIRED_COLUMNS)
    rows: list[Row] = []
    line = reader.line_num + 1
    while True:
        start = line
        try:
            values = next(reader, None)
        except csv.Error as exc:
            problems.append(RowProblem(name, start, "-", f"{exc} (an unbalanced quote?)"))
            break
        if values is None:
            break
        line = reader.line_num + 1
        if not values or all(not v.strip() for v in values):
            continue
        if len(values) != len(header):
            problems.append(
                RowProblem(name, start, "-", f"{len(values)} fields, the header has {len(header)}")
            )
            continue
        for column, value in zip(header, values, strict=True):
            if "\n" in value or "\r" in value:
                problems.append(
                    RowProblem(
                        name,
                        start,
                        column,
                        f"the value runs over {line - start} lines: check for an unbalanced quote",
                    )
                )
        rows.append(Row(name, start, {h: v.strip() for h, v in zip(header, values, strict=True)}))
    # Retractions need only a reference; every other row needs the record's columns.
    needed = (
        ("reference",)
        if all(r.values.get("action", "").lower() == "retract" for r in rows) and rows
        else REQUIRED_COLUMNS
    )
    problems += _missing_columns(name, header, needed)
    return rows, problems


def _read_jsonl(name: str, text: str) -> tuple[list[Row], list[RowProblem]]:
    rows: list[Row] = []
    problems: list[RowProblem] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            problems.append(
                RowProblem(name, number, "-", f"not valid JSON: {exc.msg} (column {exc.colno})")
            )
            continue
        if not isinstance(obj, dict):
            problems.append(RowProblem(name, number, "-", "each line must be a JSON object"))
            continue
        values = _values_of(obj, name, number, problems)
        rows.append(Row(name, number, values))
    return rows, problems


def _values_of(
    obj: dict[str, Any], name: str, number: int, problems: list[RowProblem]
) -> dict[str, str]:
    values: dict[str, str] = {}
    for key, value in obj.items():
        if key not in FIELDS:
            problems.append(
                RowProblem(
                    name, number, key, f"unknown field {key!r}; known fields: {', '.join(FIELDS)}"
                )
            )
        elif value is None:
            values[key] = ""
        elif isinstance(value, (dict, list, bool)):
            problems.append(RowProblem(name, number, key, "must be a string or a number"))
        else:
            values[key] = str(value).strip()
    return values


def rows_from_objects(
    objects: Sequence[dict[str, Any]], *, file: str
) -> tuple[list[Row], list[RowProblem]]:
    """Rows from already-parsed JSON objects (an HTTP request's ``records``), numbered
    from 1 as "lines" of ``file``."""
    rows: list[Row] = []
    problems: list[RowProblem] = []
    for number, obj in enumerate(objects, start=1):
        rows.append(Row(file, number, _values_of(obj, file, number, problems)))
    return rows, problems


# --- checking ------------------------------------------------------------------------------


@dataclass(slots=True)
class _Checked:
    row: Row
    action: RecordAction
    reference: str
    identifier: Identifier | None = None
    kind: SubjectKind | None = None
    subject_name: str = ""
    record_type: str = ""
    valid_from: date | None = None
    valid_to: date | None = None
    amount: Decimal | None = None
    note: str | None = None
    problems: list[RowProblem] = field(default_factory=list)

    def bad(self, fieldname: str, reason: str) -> None:
        self.problems.append(RowProblem(self.row.file, self.row.line, fieldname, reason))


def _parse_date(c: _Checked, fieldname: str, value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        c.bad(fieldname, f"{value!r} is not a date: write YYYY-MM-DD")
        return None


class _IdentifierCache:
    """Validates each distinct identifier once per batch (a subject has many rows)."""

    def __init__(self, policy: Policy) -> None:
        #: The policy's own identifier kinds, kind -> pattern.
        self.patterns = {k: t.pattern for k, t in policy.identifier_types.items()}
        self._seen: dict[tuple[str, str], str | IdentifierError] = {}

    def validate(self, kind: str, value: str) -> str:
        key = (kind, value)
        result = self._seen.get(key)
        if result is None:
            try:
                result = validate(kind, value, field="subject_id", patterns=self.patterns)
            except IdentifierError as exc:
                result = exc
            self._seen[key] = result
        if isinstance(result, IdentifierError):
            raise result
        return result


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _check_row(
    row: Row, *, provider: str, policy: Policy, today: date, checked_ids: _IdentifierCache
) -> _Checked:
    v = row.values
    controls = [k for k, value in v.items() if _CONTROL.search(value)]
    if controls:
        # A NUL or another control character is never data, and PostgreSQL cannot even
        # store a NUL: refuse the row before any of its values reaches the database.
        c = _Checked(row, RecordAction.CREATE, "")
        for k in controls:
            c.bad(k, "contains a control character (such as NUL); only text is accepted")
        return c
    raw_action = v.get("action", "") or "create"
    try:
        action = RecordAction(raw_action.lower())
    except ValueError:
        action = RecordAction.CREATE
        c = _Checked(row, action, v.get("reference", ""))
        c.bad("action", f"{raw_action!r} is not an action: use create, correct or retract")
    else:
        c = _Checked(row, action, v.get("reference", ""))
    if not c.reference:
        c.bad("reference", "required: the provider's own id for this record")
    elif len(c.reference) > 200:
        c.bad("reference", "longer than 200 characters")
    if action is RecordAction.RETRACT:
        c.note = v.get("note") or None
        return c

    id_kind = v.get("subject_id_kind", "")
    id_value = v.get("subject_id", "")
    if not id_kind:
        c.bad(
            "subject_id_kind",
            "required: uscc, cn_ric" + "".join(f", {k}" for k in sorted(checked_ids.patterns)),
        )
    elif not id_value:
        c.bad("subject_id", "required: the subject's identifier")
    else:
        try:
            normalised = checked_ids.validate(id_kind, id_value)
        except IdentifierError as exc:
            c.bad(exc.field, exc.reason)
        else:
            c.identifier = Identifier(id_kind, normalised)
            c.kind = subject_kind_for(id_kind) or (
                policy.identifier_types[id_kind].subject_kind
                if id_kind in policy.identifier_types
                else None
            )
    c.subject_name = v.get("subject_name", "")

    rtype = v.get("record_type", "")
    c.record_type = rtype
    grants = policy.providers[provider].grants
    if not rtype:
        c.bad("record_type", "required")
    elif rtype not in policy.record_types:
        c.bad(
            "record_type",
            f"unknown record type {rtype!r}; {provider} may submit: {', '.join(grants)}",
        )
    elif rtype not in grants:
        c.bad(
            "record_type",
            f"record type {rtype!r} is not granted to provider {provider!r}; "
            f"it may submit: {', '.join(grants)}",
        )
    elif c.kind is not None and c.kind not in policy.record_types[rtype].applies_to:
        allowed = ", ".join(k.value for k in policy.record_types[rtype].applies_to)
        c.bad("record_type", f"record type {rtype!r} applies to {allowed}, not to a {c.kind.value}")

    raw_from = v.get("valid_from", "")
    if not raw_from:
        c.bad("valid_from", "required: the day the fact began (YYYY-MM-DD)")
    else:
        c.valid_from = _parse_date(c, "valid_from", raw_from)
        if c.valid_from is not None and c.valid_from > today:
            c.bad("valid_from", f"{raw_from} is in the future (today is {today.isoformat()})")
    raw_to = v.get("valid_to", "")
    if raw_to:
        c.valid_to = _parse_date(c, "valid_to", raw_to)
        if c.valid_to is not None and c.valid_from is not None and c.valid_to <= c.valid_from:
            c.bad("valid_to", f"{raw_to} is not after valid_from {c.valid_from.isoformat()}")

    raw_amount = v.get("amount", "")
    if raw_amount:
        try:
            amount = Decimal(raw_amount.replace(",", ""))
        except InvalidOperation:
            c.bad("amount", f"{raw_amount!r} is not a number")
        else:
            if not amount.is_finite() or amount < 0:
                c.bad("amount", f"{raw_amount!r} must be zero or more")
            elif amount >= Decimal("1e16"):
                # Checked before the decimals: quantizing 1e30 overflows the context.
                c.bad("amount", f"{raw_amount!r} is too large (at most 16 digits)")
            elif amount != amount.quantize(Decimal("0.01")):
                c.bad("amount", f"{raw_amount!r} has more than two decimals")
            else:
                c.amount = amount
    c.note = v.get("note") or None
    return c


# --- storing -------------------------------------------------------------------------------


def _differs(c: _Checked, cur: CurrentRecord, subject_id: SubjectId | None) -> list[str]:
    """The fields in which a row differs from the stored version of its record."""
    pairs = {
        "subject_id": (subject_id, cur.subject_id),
        "record_type": (c.record_type, cur.record_type),
        "valid_from": (c.valid_from, cur.valid_from),
        "valid_to": (c.valid_to, cur.valid_to),
        "amount": (c.amount, cur.amount),
        "note": (c.note, cur.note),
    }
    return [name for name, (new, old) in pairs.items() if new != old]


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
    :class:`BatchRejected` having stored nothing."""
    if provider not in policy.providers:
        known = ", ".join(sorted(policy.providers)) or "(none)"
        raise NotFound(f"unknown provider {provider!r}; the policy knows: {known}")
    # "Today" is the jurisdiction's: a provider in UTC+8 may report this morning's events.
    today = now.astimezone(policy.policy.zone).date()
    cache = _IdentifierCache(policy)
    checked = [
        _check_row(r, provider=provider, policy=policy, today=today, checked_ids=cache)
        for r in rows
    ]
    problems = list(read_problems or [])
    seen: dict[str, int] = {}
    for c in checked:
        problems.extend(c.problems)
        if c.reference:
            if c.reference in seen:
                c.bad(
                    "reference",
                    f"{c.reference!r} appears twice in this batch "
                    f"(first at line {seen[c.reference]})",
                )
                problems.append(c.problems[-1])
            else:
                seen[c.reference] = c.row.line

    current = record_store.current_by_reference(conn, provider, list(seen))
    known_subjects = subject_store.lookup_identifiers(
        conn, [c.identifier for c in checked if c.identifier is not None]
    )
    new_subjects: dict[Identifier, SubjectDraft] = {}
    for c in checked:
        if c.problems:
            continue
        cur = current.get(c.reference)
        if cur is None:
            if c.action is not RecordAction.CREATE:
                c.bad("reference", f"no record {c.reference!r} from {provider} to {c.action.value}")
        elif cur.action is RecordAction.RETRACT:
            if c.action is not RecordAction.RETRACT:  # retracting again changes nothing
                c.bad(
                    "reference",
                    f"record {c.reference!r} was retracted; a retracted record "
                    "cannot be changed or sent again",
                )
        elif cur.action is RecordAction.EXPIRE:
            c.bad(
                "reference",
                f"record {c.reference!r} left the file at the end of its retention; "
                "it cannot be changed or sent again",
            )
        elif c.action is RecordAction.CREATE:
            sid = known_subjects.get(c.identifier) if c.identifier is not None else None
            changed = _differs(c, cur, sid)
            if changed:
                c.bad(
                    "reference",
                    f"record {c.reference!r} is already stored with other "
                    f"{', '.join(changed)}: send action=correct to change it",
                )
        if c.identifier is not None and c.identifier not in known_subjects:
            if not c.subject_name:
                c.bad(
                    "subject_name",
                    f"subject {c.identifier.value} is new to the registry: "
                    "subject_name is required",
                )
            elif c.identifier not in new_subjects and c.kind is not None:
                new_subjects[c.identifier] = _draft(c, provider)
        problems.extend(c.problems)
    if problems:
        problems.sort(key=lambda p: (p.file, p.line))
        raise BatchRejected(problems, total_rows=len(rows))

    report = IngestReport(provider=provider, file=file, batch=batch, rows=len(rows))
    drafts = list(new_subjects.values())
    for ident, sid in zip(
        new_subjects, subject_store.insert_subjects(conn, drafts, now=now), strict=True
    ):
        known_subjects[ident] = sid
    report.new_subjects = len(drafts)

    creates = [c for c in checked if c.action is RecordAction.CREATE]
    fresh = [c for c in creates if c.reference not in current]
    report.unchanged = len(creates) - len(fresh)
    ids = record_store.insert_records(conn, provider, [c.reference for c in fresh], now=now)
    versions: list[NewVersion] = []
    for c, rid in zip(fresh, ids, strict=True):
        versions.append(_version(c, rid, 1, known_subjects, provider, batch))
    for c in checked:
        if c.action is RecordAction.CREATE:
            continue
        cur = current[c.reference]
        # A re-sent correction or retraction stores nothing new: batches can be re-sent.
        if c.action is RecordAction.RETRACT and cur.action is RecordAction.RETRACT:
            report.unchanged += 1
            continue
        if c.action is RecordAction.CORRECT and not _differs(
            c, cur, known_subjects[c.identifier] if c.identifier is not None else None
        ):
            report.unchanged += 1
            continue
        if c.action is RecordAction.RETRACT:
            versions.append(
                NewVersion(
                    record_id=cur.record_id,
                    version=cur.version + 1,
                    action=RecordAction.RETRACT,
                    subject_id=cur.subject_id,
                    record_type=cur.record_type,
                    provider=provider,
                    valid_from=cur.valid_from,
                    valid_to=cur.valid_to,
                    amount=None,
                    note=c.note,
                    batch=batch,
                )
            )
            report.retracted += 1
        else:
            corrected = _version(c, cur.record_id, cur.version + 1, known_subjects, provider, batch)
            # A provider's correction does not undo an approved credit repair.
            versions.append(replace(corrected, repaired_on=cur.repaired_on))
            report.corrected += 1
        report.changed_records.append(cur.record_id)
    report.created = len(fresh)
    report.subject_ids = sorted({v.subject_id for v in versions})
    record_store.insert_versions(conn, versions, now=now)
    return report


def _draft(c: _Checked, provider: str) -> SubjectDraft:
    assert c.identifier is not None and c.kind is not None
    birth = ric_birth_date(c.identifier.value) if c.identifier.kind == "cn_ric" else None
    region = None
    if c.identifier.kind == "cn_ric":
        region = c.identifier.value[:6]
    elif c.identifier.kind == "uscc":
        region = c.identifier.value[2:8]
    return SubjectDraft(
        kind=c.kind,
        name=c.subject_name,
        created_by=provider,
        identifiers=(c.identifier,),
        birth_date=birth,
        region=region,
    )


def _version(
    c: _Checked,
    record_id: int,
    version: int,
    subjects: dict[Identifier, SubjectId],
    provider: str,
    batch: str,
) -> NewVersion:
    assert c.identifier is not None and c.valid_from is not None
    action = RecordAction.CREATE if version == 1 else RecordAction.CORRECT
    return NewVersion(
        record_id=record_id,
        version=version,
        action=action,
        subject_id=subjects[c.identifier],
        record_type=c.record_type,
        provider=provider,
        valid_from=c.valid_from,
        valid_to=c.valid_to,
        amount=c.amount,
        note=c.note,
        batch=batch,
    )


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
) -> IngestReport:
    """Read, check and store one file in one transaction; see the module docstring.

    ``audit`` is called in that transaction once the rows are stored, to log the write.
    """
    path = Path(path)
    if path.is_dir():
        raise NotFound(f"{path}: is a directory; give one CSV or JSON Lines file")
    if not path.is_file():
        raise NotFound(f"{path}: no such file")
    batch = f"{provider}:{hashlib.sha256(path.read_bytes()).hexdigest()[:16]}"
    if on_stage:
        on_stage("reading")
    rows, read_problems = read_batch(path, fmt=fmt)
    with engine.begin() as conn:
        active = active_policy(conn, policy_ref)
        if on_stage:
            on_stage("checking and storing")
        report = ingest_rows(
            conn,
            rows,
            provider=provider,
            policy=active.policy,
            now=now,
            batch=batch,
            file=str(path),
            read_problems=read_problems,
        )
        report.policy_version = active.label
        if audit is not None:
            audit(conn, report)
        return report
