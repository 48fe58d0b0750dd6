"""From a provider's chunk of rows to checked values, column by column.

:class:`Layout` checks a file's columns against the mapping once (a column the mapping
names but the file lacks, a column the file has but nobody mapped); :meth:`Layout.apply`
turns a :class:`~trustledger.ingest.readers.Chunk` of the provider's columns into our
fields (codes translated, constants filled in); :class:`RowChecker` parses and checks
them into :class:`Checked` columns (dates, amounts in yuan, validated identifiers,
grants). Pure: no database, no clock (``today`` is given). Work is done per column, and
each distinct identifier and date is checked once per batch, so that a million rows
check in seconds.

Every problem is a :class:`~trustledger.errors.RowProblem` naming FILE:LINE:FIELD, where
FIELD is the provider's own column (what it can find in its file) or, for a value the
mapping supplies, our field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from trustledger.domain.batch import REQUIRED_COLUMNS
from trustledger.domain.record import RecordAction
from trustledger.domain.subject import Identifier, SubjectKind
from trustledger.errors import IdentifierError, RowProblem
from trustledger.identifiers import subject_kind_for, validate
from trustledger.ingest.mapping import (
    NATIVE,
    RECORD_FIELDS,
    TARGETS,
    UNITS,
    FieldSpec,
    Mapping,
    fact_key,
)
from trustledger.ingest.readers import Chunk
from trustledger.policy.schema import Policy

__all__ = ["Checked", "IdState", "Layout", "Mapped", "RowChecker"]

_CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ACTIONS: Final = {
    a.value: a for a in (RecordAction.CREATE, RecordAction.CORRECT, RecordAction.RETRACT)
}
_KINDS: Final = {k.value: k for k in SubjectKind}
_CENT: Final = Decimal("0.01")
_MAX_AMOUNT: Final = Decimal("1e16")
_MAX_CENTS: Final = 10**18
#: Shown of a code table in a message about an unknown code.
_CODES_SHOWN: Final = 12


@dataclass(slots=True)
class Mapped:
    """A chunk in our fields: ``values[field][i]`` is row ``i``'s value ("" if none)."""

    file: str
    lines: list[int]
    values: dict[str, list[str]]
    #: The dedupe key of each row (None without one).
    fact_keys: list[str | None]
    problems: list[RowProblem]
    #: Rows with a problem already (an unknown code), and the fields it is in: those
    #: are not checked again (one problem per field).
    bad: set[int]
    bad_fields: set[tuple[int, str]] = field(default_factory=set)
    #: Rows the mapping's [skip] says are not records (left out of the above).
    skipped: int = 0

    def __len__(self) -> int:
        return len(self.lines)


class Layout:
    """The columns of one file, checked against its mapping once."""

    def __init__(self, mapping: Mapping, file: str, header: list[str] | None) -> None:
        self.mapping = mapping
        self.file = file
        self.header = header
        self.problems: list[RowProblem] = []
        #: Our fields the mapping or the file leaves without a value, by name; reported
        #: (once) only if a row needs them: a file of retractions needs just a reference.
        self.absent: list[RowProblem] = []
        self._absent_reported = False
        self._unknown_reported: set[str] = set()
        if header is not None:
            self._check_header(header)
        elif not mapping.native:
            self.absent = self._unmapped_required()

    def _check_header(self, header: list[str]) -> None:
        mapping, file = self.mapping, self.file
        columns = set(header)
        line = 0 if self._is_parquet() else 1
        if mapping.native:
            known = ", ".join(RECORD_FIELDS)
            unknown = [c for c in header if c not in RECORD_FIELDS]
            self.problems += [
                RowProblem(file, line, c, f"unknown column {c!r}; known columns: {known}")
                for c in unknown
            ]
            self.absent = [
                RowProblem(file, line, c, f"required column {c!r} is missing from the header")
                for c in REQUIRED_COLUMNS
                if c not in columns
            ]
            if unknown:
                # As before: an unknown column and the missing ones are reported together.
                self.problems += self.absent
                self.absent = []
                self._absent_reported = True
            return
        for spec in mapping.fields.values():
            if spec.column is not None and spec.column not in columns:
                self.problems.append(
                    mapping.problem(
                        ("fields", spec.target, "column"),
                        f"column {spec.column!r} is not in {file} (its columns: "
                        f"{', '.join(header) or 'none'})",
                    )
                )
        for col in mapping.skip:
            if col not in columns:
                self.problems.append(
                    mapping.problem(
                        ("skip", col),
                        f"column {col!r} is not in {file} (its columns: {', '.join(header)})",
                    )
                )
        for i, col in enumerate(mapping.dedupe_columns):
            if col not in columns:
                self.problems.append(
                    mapping.problem(
                        ("dedupe", "columns", i),
                        f"column {col!r} is not in {file} (its columns: {', '.join(header)})",
                    )
                )
        if not mapping.ignore_other_columns:
            used = mapping.columns | mapping.ignore
            for col in header:
                if col not in used:
                    self.problems.append(
                        RowProblem(
                            file,
                            line,
                            col,
                            f"column {col!r} is not in the mapping {mapping.file}: map it under "
                            "[fields] or list it in [mapping] ignore",
                        )
                    )
        self.absent = self._unmapped_required()

    def _is_parquet(self) -> bool:
        return self.file.lower().endswith((".parquet", ".pq"))

    def _unmapped_required(self) -> list[RowProblem]:
        mapping = self.mapping
        assert mapping.file is not None
        return [
            RowProblem(
                mapping.file,
                mapping.line_of("fields"),
                f"fields.{name}",
                f"the mapping does not fill {name}, which every record but a retraction needs",
            )
            for name in ("record_type", "valid_from")
            if name not in mapping.fields
        ]

    def apply(self, chunk: Chunk) -> Mapped:
        """The chunk in our fields, codes translated; problems of unknown codes."""
        mapping, file = self.mapping, self.file
        skipped = 0
        if mapping.skip:
            chunk, skipped = _without_skipped(chunk, mapping)
        n = len(chunk)
        problems: list[RowProblem] = []
        bad: set[int] = set()
        bad_fields: set[tuple[int, str]] = set()
        if self.header is None:
            self._unknown_keys(chunk, problems, bad)
        values: dict[str, list[str]] = {}
        empty = [""] * n
        for target, spec in mapping.fields.items():
            if spec.value is not None:
                values[target] = [spec.value] * n
                continue
            assert spec.column is not None
            column = chunk.columns.get(spec.column, empty)
            if spec.codes is not None:
                bad_fields.update((i, target) for i in unknown_codes(spec, column))
                column = _translate(mapping, spec, column, file, chunk.lines, problems, bad)
            if spec.default is not None:
                default = spec.default
                column = [v or default for v in column]
            values[target] = column
        for target in TARGETS:
            values.setdefault(target, empty)
        keys: list[str | None]
        if mapping.dedupe_kind is not None:
            kind = mapping.dedupe_kind
            cols = [chunk.columns.get(c, empty) for c in mapping.dedupe_columns]
            keys = [fact_key(kind, parts) for parts in zip(*cols, strict=True)]
        else:
            keys = [None] * n
        return Mapped(file, chunk.lines, values, keys, problems, bad, bad_fields, skipped)

    def _unknown_keys(self, chunk: Chunk, problems: list[RowProblem], bad: set[int]) -> None:
        """JSON Lines: a key nobody mapped, at each line that has a value for it."""
        mapping = self.mapping
        if mapping.ignore_other_columns and not mapping.native:
            return
        used = frozenset(RECORD_FIELDS) if mapping.native else mapping.columns | mapping.ignore
        for name, column in chunk.columns.items():
            if name in used:
                continue
            for i, value in enumerate(column):
                if mapping.native:
                    reason = f"unknown field {name!r}; known fields: {', '.join(RECORD_FIELDS)}"
                else:
                    reason = (
                        f"key {name!r} is not in the mapping {mapping.file}: map it under "
                        "[fields] or list it in [mapping] ignore"
                    )
                # Rows of the chunk without the key read it as empty: only the rows that
                # send a value for it are at fault.
                if value:
                    problems.append(RowProblem(self.file, chunk.lines[i], name, reason))
                    bad.add(i)

    def absent_problems(self) -> list[RowProblem]:
        """The problems of required fields nobody fills, once (when a row needs them)."""
        if self._absent_reported:
            return []
        self._absent_reported = True
        return self.absent


def _without_skipped(chunk: Chunk, mapping: Mapping) -> tuple[Chunk, int]:
    """The chunk without the rows the mapping's [skip] marks, and how many there were."""
    n = len(chunk)
    empty = [""] * n
    marks = [(chunk.columns.get(col, empty), values) for col, values in mapping.skip.items()]
    keep = [i for i in range(n) if not any(col[i] in values for col, values in marks)]
    if len(keep) == n:
        return chunk, 0
    return (
        Chunk(
            [chunk.lines[i] for i in keep],
            {name: [col[i] for i in keep] for name, col in chunk.columns.items()},
        ),
        n - len(keep),
    )


def unknown_codes(spec: FieldSpec, column: list[str]) -> list[int]:
    """Rows whose (untranslated) value is not one of the field's codes."""
    codes = spec.codes
    assert codes is not None
    strangers = set(column) - codes.keys() - {""}
    return [i for i, v in enumerate(column) if v in strangers] if strangers else []


def _translate(
    mapping: Mapping,
    spec: FieldSpec,
    column: list[str],
    file: str,
    lines: list[int],
    problems: list[RowProblem],
    bad: set[int],
) -> list[str]:
    codes = spec.codes
    assert codes is not None
    out = list(map(codes.get, column, column))  # an unknown code stays as it is
    strangers = set(column) - codes.keys() - {""}
    unknown = [i for i, v in enumerate(column) if v in strangers] if strangers else []
    if unknown:
        known = list(codes)
        shown = ", ".join(repr(c) for c in known[:_CODES_SHOWN])
        more = f" and {len(known) - _CODES_SHOWN} more" if len(known) > _CODES_SHOWN else ""
        where = f"{mapping.file}:{spec.line}"
        for i in unknown:
            problems.append(
                RowProblem(
                    file,
                    lines[i],
                    spec.label,
                    f"unknown code {column[i]!r} for {spec.target}: the mapping ({where}, "
                    f"fields.{spec.target}.codes) knows {shown}{more}",
                )
            )
            bad.add(i)
    return out


class IdState:
    """What a row says about its subject's identifier."""

    VALID: Final = 0
    #: No identifier at all (or a kind without a value): the identity resolver decides.
    MISSING: Final = 1
    #: An identifier of a known kind that fails validation (a check digit): the resolver
    #: decides (a legacy code on the exceptions list), or it is a problem.
    INVALID: Final = 2


@dataclass(slots=True)
class Checked:
    """A chunk's rows, checked: ``bad[i]`` rows have problems and must not be stored."""

    file: str
    lines: list[int]
    action: list[RecordAction]
    reference: list[str]
    id_state: list[int]
    #: The validated identifier (VALID), else None; and as a key ("kind:value", the same
    #: string object on every row of one subject, so that hashing it is free).
    identifier: list[Identifier | None]
    id_key: list[str | None]
    #: The identifier as sent, for the resolver (kind, value; "" when absent), and the
    #: reason it failed (INVALID).
    id_kind: list[str]
    id_value: list[str]
    id_error: list[IdentifierError | None]
    kind: list[SubjectKind | None]
    name: list[str]
    record_type: list[str]
    valid_from: list[date | None]
    valid_to: list[date | None]
    amount: list[Decimal | None]
    note: list[str | None]
    birth_date: list[date | None]
    address: list[str | None]
    phone: list[str | None]
    fact_key: list[str | None]
    #: Row i repeats row duplicate_of[i] of this chunk exactly (same reference, same
    #: values): it is counted and stored once.
    duplicate_of: dict[int, int]
    bad: list[bool]
    problems: list[RowProblem]
    #: The provider's names of our fields, for messages.
    labels: dict[str, str]
    #: (row, field) pairs that have a problem already (an unknown code).
    skip: set[tuple[int, str]] = field(default_factory=set)
    #: Each row's mapped values, to compare repeated references.
    signature: Callable[[int], tuple[str, ...]] = field(repr=False, default=lambda i: ())

    def __len__(self) -> int:
        return len(self.lines)

    def problem(self, i: int, target: str, reason: str) -> RowProblem | None:
        """Mark row ``i`` bad with a problem in ``target`` (named as the provider names it;
        none when that field has one already)."""
        self.bad[i] = True
        if (i, target) in self.skip:
            return None
        p = RowProblem(self.file, self.lines[i], self.labels.get(target, target), reason)
        self.problems.append(p)
        return p


class RowChecker:
    """Checks rows of one provider against the policy, with caches kept for the batch."""

    def __init__(
        self,
        *,
        provider: str,
        policy: Policy,
        today: date,
        mapping: Mapping = NATIVE,
        resolver: bool = False,
    ) -> None:
        self.provider = provider
        self.policy = policy
        self.today = today
        self.mapping = mapping
        #: Whether rows without a usable identifier go to the identity resolver (else
        #: they are problems).
        self.resolver = resolver
        self.patterns = {k: t.pattern for k, t in policy.identifier_types.items()}
        self.grants = frozenset(policy.providers[provider].grants)
        self._ids: dict[tuple[str, str], tuple[Identifier, str] | IdentifierError] = {}
        self._kinds: dict[str, SubjectKind] = {}
        self._dates: dict[tuple[str, str | None], date | str] = {}
        self._amounts: dict[str, Decimal | str] = {}
        labels = {name: name for name in TARGETS}
        for name, spec in mapping.fields.items():
            labels[name] = spec.label
        self.labels = labels
        amount = mapping.fields.get("amount")
        self.unit = UNITS[amount.unit] if amount is not None and amount.unit else None
        self.unit_name = amount.unit if amount is not None else None
        per_unit = (self.unit or Decimal(1)) * 100
        self.cents_per_unit = int(per_unit) if per_unit == per_unit.to_integral() else 0
        self.formats = {
            name: (mapping.fields[name].date_format if name in mapping.fields else None)
            for name in ("valid_from", "valid_to", "birth_date")
        }

    # -- the parsers, each value once per batch ------------------------------------------

    def identifier(self, kind: str, value: str) -> tuple[Identifier, str] | IdentifierError:
        """The identifier validated, with its key, or why it is not valid (once a batch)."""
        found = self._ids.get((kind, value))
        if found is None:
            try:
                normal = validate(kind, value, field="subject_id", patterns=self.patterns)
            except IdentifierError as exc:
                found = exc
            else:
                found = (Identifier(kind, normal), f"{kind}:{normal}")
            if len(self._ids) > 1_000_000:
                self._ids.clear()
            self._ids[(kind, value)] = found
        return found

    def day(self, value: str, fmt: str | None) -> date | str:
        key = (value, fmt)
        found = self._dates.get(key)
        if found is None:
            try:
                if fmt is None:
                    found = date.fromisoformat(value)
                else:
                    found = datetime.strptime(value, fmt).date()
            except ValueError:
                want = "YYYY-MM-DD" if fmt is None else f"{fmt!r} (the mapping's date_format)"
                found = f"{value!r} is not a date: write {want}"
            self._dates[key] = found
        return found

    def amount(self, raw: str) -> Decimal | str:
        found = self._amounts.get(raw)
        if found is not None:
            return found
        try:
            amount = Decimal(raw.replace(",", ""))
        except InvalidOperation:
            found = f"{raw!r} is not a number"
        else:
            if not amount.is_finite() or amount < 0:
                found = f"{raw!r} must be zero or more"
            else:
                if self.unit is not None:
                    amount = amount * self.unit
                if amount >= _MAX_AMOUNT:
                    # Checked before the decimals: quantizing 1e30 overflows the context.
                    found = f"{raw!r} is too large (at most 16 digits)"
                elif amount != amount.quantize(_CENT):
                    unit = f" {self.unit_name} ({amount} yuan)" if self.unit is not None else ""
                    found = f"{raw!r}{unit} has more than two decimals of a yuan"
                else:
                    found = amount.quantize(_CENT)
        if len(self._amounts) < 100_000:
            self._amounts[raw] = found
        return found

    # -- the rows --------------------------------------------------------------------------

    def check(self, mapped: Mapped) -> Checked:
        """Check every row of ``mapped``; see :class:`Checked`."""
        n = len(mapped)
        v = mapped.values
        lines = mapped.lines
        out = Checked(
            file=mapped.file,
            lines=lines,
            action=[RecordAction.CREATE] * n,
            reference=v["reference"],
            id_state=[IdState.MISSING] * n,
            identifier=[None] * n,
            id_key=[None] * n,
            id_kind=v["subject_id_kind"],
            id_value=v["subject_id"],
            id_error=[None] * n,
            kind=[None] * n,
            name=v["subject_name"],
            record_type=v["record_type"],
            valid_from=[None] * n,
            valid_to=[None] * n,
            amount=[None] * n,
            note=[x or None for x in v["note"]],
            birth_date=[None] * n,
            address=[x or None for x in v["address"]],
            phone=[x or None for x in v["phone"]],
            fact_key=mapped.fact_keys,
            duplicate_of={},
            bad=[False] * n,
            problems=list(mapped.problems),
            labels=self.labels,
            skip=mapped.bad_fields,
        )
        for i in mapped.bad:
            out.bad[i] = True
        self._controls(out, v)
        self._actions(out, v["action"])
        retract = RecordAction.RETRACT
        live = [i for i in range(n) if out.action[i] is not retract]
        self._references(out)
        self._identifiers(out, live, v["subject_kind"])
        self._record_types(out, live)
        self._dates_of(out, live, v)
        self._amounts_of(out, live, v["amount"])
        self._duplicates(out, v)
        return out

    def _controls(self, out: Checked, v: dict[str, list[str]]) -> None:
        # A NUL or another control character is never data, and PostgreSQL cannot even
        # store a NUL: refuse the row before any of its values reaches the database.
        for target, column in v.items():
            if not _CONTROL.search("".join(column)):
                continue
            for i, value in enumerate(column):
                if _CONTROL.search(value):
                    out.problem(
                        i,
                        target,
                        "contains a control character (such as NUL); only text is accepted",
                    )

    def _actions(self, out: Checked, raw: list[str]) -> None:
        actions = out.action
        for i, value in enumerate(raw):
            if not value:
                continue
            found = _ACTIONS.get(value.lower())
            if found is None:
                out.problem(
                    i, "action", f"{value!r} is not an action: use create, correct or retract"
                )
            else:
                actions[i] = found

    def _references(self, out: Checked) -> None:
        refs = out.reference
        if refs and all(refs) and max(map(len, refs)) <= 200:
            return
        for i, ref in enumerate(refs):
            if not ref:
                out.problem(i, "reference", "required: the provider's own id for this record")
            elif len(ref) > 200:
                out.problem(i, "reference", "longer than 200 characters")

    def _identifiers(self, out: Checked, live: Sequence[int], kinds: list[str]) -> None:
        policy = self.policy
        ids = self._ids
        id_kinds, id_values = out.id_kind, out.id_value
        identifier, id_key, id_state, kind_of = out.identifier, out.id_key, out.id_state, out.kind
        valid = IdState.VALID
        for i in live:
            id_kind, id_value = id_kinds[i], id_values[i]
            stated = kinds[i]
            if not stated:
                # The usual row: a valid identifier seen before in this batch.
                seen = ids.get((id_kind, id_value))
                if isinstance(seen, tuple):
                    identifier[i], id_key[i] = seen
                    id_state[i] = valid
                    kind_of[i] = self._kinds[id_kind]
                    continue
            if stated:
                k = _KINDS.get(stated.lower())
                if k is None:
                    out.problem(
                        i, "subject_kind", f"{stated!r} is not a kind: use person or organisation"
                    )
                else:
                    out.kind[i] = k
            if not id_kind and not id_value:
                self._missing(out, i, "subject_id_kind")
                continue
            if not id_kind:
                out.problem(
                    i,
                    "subject_id_kind",
                    "required: uscc, cn_ric" + "".join(f", {k}" for k in sorted(self.patterns)),
                )
                continue
            if id_kind not in ("uscc", "cn_ric") and id_kind not in self.patterns:
                known = sorted({"uscc", "cn_ric"} | set(self.patterns))
                out.problem(
                    i,
                    "subject_id_kind",
                    f"unknown identifier kind {id_kind!r}; known kinds: {', '.join(known)}",
                )
                continue
            kind = self._kinds.get(id_kind)
            if kind is None:
                kind = subject_kind_for(id_kind) or policy.identifier_types[id_kind].subject_kind
                self._kinds[id_kind] = kind
            if out.kind[i] is not None and out.kind[i] is not kind:
                out.problem(
                    i, "subject_kind", f"{kinds[i]!r} but a {id_kind} identifies a {kind.value}"
                )
            out.kind[i] = kind
            if not id_value:
                self._missing(out, i, "subject_id")
                continue
            result = ids.get((id_kind, id_value)) or self.identifier(id_kind, id_value)
            if isinstance(result, IdentifierError):
                out.id_error[i] = result
                out.id_state[i] = IdState.INVALID
                if not self.resolver:
                    out.problem(i, "subject_id", result.reason)
            else:
                out.id_state[i] = IdState.VALID
                out.identifier[i], out.id_key[i] = result

    def _missing(self, out: Checked, i: int, target: str) -> None:
        out.id_state[i] = IdState.MISSING
        if not self.resolver:
            reason = (
                "required: the subject's identifier"
                if target == "subject_id"
                else "required: uscc, cn_ric" + "".join(f", {k}" for k in sorted(self.patterns))
            )
            out.problem(i, target, reason)

    def _record_types(self, out: Checked, live: Sequence[int]) -> None:
        policy, grants, provider = self.policy, self.grants, self.provider
        granted = ", ".join(policy.providers[provider].grants)
        types = policy.record_types
        for i in live:
            rtype = out.record_type[i]
            if not rtype:
                out.problem(i, "record_type", "required")
            elif rtype not in types:
                out.problem(
                    i,
                    "record_type",
                    f"unknown record type {rtype!r}; {provider} may submit: {granted}",
                )
            elif rtype not in grants:
                out.problem(
                    i,
                    "record_type",
                    f"record type {rtype!r} is not granted to provider {provider!r}; "
                    f"it may submit: {granted}",
                )
            else:
                kind = out.kind[i]
                applies = types[rtype].applies_to
                if kind is not None and kind not in applies:
                    allowed = ", ".join(k.value for k in applies)
                    out.problem(
                        i,
                        "record_type",
                        f"record type {rtype!r} applies to {allowed}, not to a {kind.value}",
                    )
                elif kind is None and len(applies) == 1:
                    # A row without an identifier: the record type tells the kind.
                    out.kind[i] = applies[0]

    def _outcomes(self, raws: list[str], fmt: str | None, field: str) -> dict[str, Any]:
        """Each distinct value of a date column: the day, or why it is not one (None for
        an empty cell). Dates repeat: a million rows hold a few thousand days."""
        today = self.today
        out: dict[str, Any] = {}
        for raw in set(raws):
            if not raw:
                out[raw] = None
                continue
            got = self.day(raw, fmt)
            if isinstance(got, date) and got > today:
                got = (
                    f"{raw} is in the future (today is {today.isoformat()})"
                    if field == "valid_from"
                    else f"{raw} is in the future"
                )
            out[raw] = got
        return out

    def _dates_of(self, out: Checked, live: Sequence[int], v: dict[str, list[str]]) -> None:
        raw_from, raw_to, raw_birth = v["valid_from"], v["valid_to"], v["birth_date"]
        starts = self._outcomes(raw_from, self.formats["valid_from"], "valid_from")
        ends = self._outcomes(raw_to, self.formats["valid_to"], "valid_to")
        births = self._outcomes(raw_birth, self.formats["birth_date"], "birth_date")
        valid_from, valid_to, birth_date = out.valid_from, out.valid_to, out.birth_date
        for i in live:
            got = starts[raw_from[i]]
            if got.__class__ is date:
                valid_from[i] = got
            elif got is None:
                out.problem(i, "valid_from", "required: the day the fact began (YYYY-MM-DD)")
            else:
                out.problem(i, "valid_from", got)
            got = ends[raw_to[i]]
            if got is not None:
                if got.__class__ is not date:
                    out.problem(i, "valid_to", got)
                else:
                    valid_to[i] = got
                    start = valid_from[i]
                    if start is not None and got <= start:
                        out.problem(
                            i,
                            "valid_to",
                            f"{raw_to[i]} is not after valid_from {start.isoformat()}",
                        )
            got = births[raw_birth[i]]
            if got is not None:
                if got.__class__ is date:
                    birth_date[i] = got
                else:
                    out.problem(i, "birth_date", got)

    def _amounts_of(self, out: Checked, live: Sequence[int], raw: list[str]) -> None:
        amounts = out.amount
        parse = self.amount
        # Whole numbers of a unit worth whole fen (the usual case: "120050" fen, "35" yuan)
        # skip Decimal's parsing: cents are counted as an int.
        factor = self.cents_per_unit
        for i in live:
            value = raw[i]
            if not value:
                continue
            if factor and value.isdigit() and value.isascii():
                cents = int(value) * factor
                if cents < _MAX_CENTS:
                    amounts[i] = Decimal(cents).scaleb(-2)
                    continue
            got = parse(value)
            if isinstance(got, str):
                out.problem(i, "amount", got)
            else:
                amounts[i] = got

    def _duplicates(self, out: Checked, v: dict[str, list[str]]) -> None:
        columns = [v[t] for t in TARGETS]

        def signature(i: int) -> tuple[str, ...]:
            return tuple(c[i] for c in columns)

        out.signature = signature
        first: dict[str, int] = {}
        for i, ref in enumerate(out.reference):
            if not ref:
                continue
            j = first.setdefault(ref, i)
            if j == i:
                continue
            if signature(i) == signature(j) and out.action[i] is RecordAction.CREATE:
                out.duplicate_of[i] = j
            else:
                out.problem(
                    i,
                    "reference",
                    f"{ref!r} appears twice in this batch with other values "
                    f"(first at line {out.lines[j]})",
                )
