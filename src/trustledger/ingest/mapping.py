"""A provider's mapping: from its own columns, codes and units to trustledger's fields.

Every agency exports its data its own way: the court's judgments come as a GB18030 CSV
with Chinese headers and dates written ``2025年3月1日``, the bank's as JSON Lines with
nested objects, the transit operator's with its own offence codes, the inspectorate's
as Parquet with amounts in ten thousands of yuan. A mapping file (TOML) says, once per
provider, how to read its files; ``docs/ingest.md`` documents the format key by key::

    [mapping]
    provider = "intermediate_court"
    format = "csv"
    encoding = "gb18030"
    ignore = ["承办法官"]

    [fields.reference]
    column = "案号"

    [fields.record_type]
    column = "履行情况"
    codes."全部未履行" = "court_judgment_unfulfilled"
    codes."迟延履行" = "court_judgment_fulfilled_late"

    [fields.valid_from]
    column = "生效日期"
    date_format = "%Y年%m月%d日"

    [fields.amount]
    column = "执行标的（万元）"
    unit = "wan_yuan"

    [dedupe]
    kind = "judgment"
    columns = ["案号"]

A mapping that cannot be read raises :class:`MappingError`, whose problems are
``FILE:LINE:FIELD: reason`` with the mapping file, the line of the key and its key path.
Files in trustledger's own format (``docs/cli.md``, section ingest) are read through
:data:`NATIVE`, the mapping in which every field is the column of the same name.

>>> m = parse_mapping('[mapping]\\nprovider = "bank"\\n[fields.reference]\\ncolumn = "id"\\n',
...                   file="bank.toml")
>>> m.fields["reference"].column, m.provider
('id', 'bank')
>>> try:
...     parse_mapping('[mapping]\\nprovider = "bank"\\n[fields.refrence]\\ncolumn = "id"\\n',
...                   file="bank.toml")
... except MappingError as exc:
...     print(exc.problems[0])  # doctest: +ELLIPSIS
bank.toml:3:fields.refrence: unknown field 'refrence' (did you mean 'reference'?); ...
"""

from __future__ import annotations

import codecs
import difflib
import hashlib
import tomllib
import unicodedata
from collections.abc import Mapping as MappingType
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from trustledger.domain.batch import BATCH_FIELDS
from trustledger.errors import InvalidInput, RowProblem
from trustledger.policy.locate import LineIndex, index_lines

__all__ = [
    "ENCODINGS",
    "FORMATS",
    "IDENTITY_FIELDS",
    "NATIVE",
    "TARGETS",
    "UNITS",
    "FieldSpec",
    "Mapping",
    "MappingError",
    "fact_key",
    "load_mapping",
    "parse_mapping",
]

#: Fields a record is made of (the columns of trustledger's own format).
RECORD_FIELDS: Final = BATCH_FIELDS
#: Fields that only help to find the subject of a row without a usable identifier
#: (the identity resolver compares them); ``subject_kind`` says person or organisation.
IDENTITY_FIELDS: Final = ("subject_kind", "birth_date", "address", "phone")
#: Every field a mapping may fill.
TARGETS: Final = (*RECORD_FIELDS, *IDENTITY_FIELDS)
DATE_FIELDS: Final = frozenset({"valid_from", "valid_to", "birth_date"})

#: Amount units: how many yuan one unit is.
UNITS: Final[MappingType[str, Decimal]] = {
    "yuan": Decimal(1),
    "jiao": Decimal("0.1"),
    "fen": Decimal("0.01"),
    "thousand_yuan": Decimal(1000),
    "wan_yuan": Decimal(10000),
}
FORMATS: Final = ("csv", "jsonl", "parquet")
#: Encodings documented for CSV and JSON Lines; any other codec Python knows is accepted
#: too. ``auto`` detects (a byte-order mark, then UTF-8, then charset-normalizer).
ENCODINGS: Final = ("auto", "utf-8", "utf-8-sig", "gb18030")
#: Delimiters ``auto`` chooses from.
DELIMITERS: Final = (",", "\t", ";", "|")

_MAPPING_KEYS: Final = (
    "provider",
    "format",
    "encoding",
    "delimiter",
    "ignore",
    "ignore_other_columns",
)
_FIELD_KEYS: Final = ("column", "value", "codes", "default", "unit", "date_format")
_DEDUPE_KEYS: Final = ("kind", "columns")


class MappingError(InvalidInput):
    """A mapping file could not be read; ``problems`` says where, as FILE:LINE:FIELD."""

    def __init__(self, problems: list[RowProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """How one of our fields is filled: from a ``column`` (their name for it) or a
    constant ``value``; ``codes`` translate their codes to ours (a code missing from it
    is an error); ``default`` stands in for an empty cell; ``unit`` scales an amount;
    ``date_format`` reads a date (``strptime``; ISO ``YYYY-MM-DD`` when absent)."""

    target: str
    column: str | None = None
    value: str | None = None
    codes: MappingType[str, str] | None = None
    default: str | None = None
    unit: str | None = None
    date_format: str | None = None
    #: Where the field is written in the mapping file (for messages), 0 for NATIVE.
    line: int = 0

    @property
    def label(self) -> str:
        """The name a row problem gives the field: the provider's column when there is
        one (what it can find in its own file), else our field's name."""
        return self.column if self.column is not None else self.target


@dataclass(frozen=True)
class Mapping:
    """A parsed mapping; :data:`NATIVE` for trustledger's own format."""

    #: The mapping file as named (None for NATIVE).
    file: str | None
    provider: str | None
    fields: MappingType[str, FieldSpec]
    format: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    #: Columns the provider sends that are not needed.
    ignore: frozenset[str] = frozenset()
    ignore_other_columns: bool = False
    dedupe_kind: str | None = None
    dedupe_columns: tuple[str, ...] = ()
    #: Rows that are not records: column -> the values that mark them (read, counted as
    #: skipped, not stored).
    skip: MappingType[str, frozenset[str]] = field(default_factory=dict)
    #: The exact text and its SHA-256 (None for NATIVE).
    text: str | None = None
    sha256: str | None = None
    index: LineIndex = field(default_factory=lambda: LineIndex({}))

    @property
    def native(self) -> bool:
        return self.file is None

    def line_of(self, *path: str | int) -> int:
        found = self.index.line_of(tuple(path))
        return found if found is not None else 1

    def problem(self, path: tuple[str | int, ...], reason: str) -> RowProblem:
        """A problem of the mapping itself, at the line of ``path``."""
        assert self.file is not None
        return RowProblem(self.file, self.line_of(*path), _dotted(path), reason)

    @property
    def columns(self) -> frozenset[str]:
        """The provider's columns the mapping reads."""
        named = {f.column for f in self.fields.values() if f.column is not None}
        return frozenset(named | set(self.dedupe_columns) | set(self.skip))


def _dotted(path: tuple[str | int, ...]) -> str:
    return ".".join(str(p) for p in path)


NATIVE: Final = Mapping(
    file=None,
    provider=None,
    fields={name: FieldSpec(name, column=name) for name in RECORD_FIELDS},
)


def load_mapping(path: str | Path) -> Mapping:
    """Read and check a mapping file (UTF-8 TOML); see :func:`parse_mapping`."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise MappingError(
            [RowProblem(name, 1, "-", f"cannot read the mapping file: {exc.strerror or exc}")]
        ) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise MappingError([RowProblem(name, line, "-", "the mapping file is not UTF-8")]) from None
    return parse_mapping(text, file=name)


def parse_mapping(text: str, *, file: str) -> Mapping:
    """Check a mapping's text; every problem at once, or a :class:`Mapping`."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        line = 1
        if "(at line " in message:
            head, _, rest = message.partition("(at line ")
            line = int(rest.split(",", 1)[0])
            message = head.strip()
        raise MappingError([RowProblem(file, line, "-", f"TOML syntax error: {message}")]) from None
    parser = _Parser(file, index_lines(text))
    return parser.parse(doc, text)


class _Parser:
    def __init__(self, file: str, index: LineIndex) -> None:
        self.file = file
        self.index = index
        self.problems: list[RowProblem] = []

    def bad(self, path: tuple[str | int, ...], reason: str) -> None:
        line = self.index.line_of(path)
        self.problems.append(RowProblem(self.file, line or 1, _dotted(path), reason))

    def unknown_keys(self, table: dict[str, Any], known: tuple[str, ...], at: str) -> None:
        for key in table:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.bad((at, key), f"unknown key {key!r}{hint}; known keys: {', '.join(known)}")

    def text(self, path: tuple[str | int, ...], value: Any) -> str | None:
        if not isinstance(value, str):
            self.bad(path, f"expected text in quotes, got {value!r}")
            return None
        return value

    def parse(self, doc: dict[str, Any], text: str) -> Mapping:
        for key in doc:
            if key not in ("mapping", "fields", "dedupe", "skip"):
                self.bad(
                    (key,),
                    f"unknown table {key!r}; a mapping has [mapping], [fields.*], [dedupe] "
                    "and [skip]",
                )
        head = doc.get("mapping", {})
        if not isinstance(head, dict):
            self.bad(("mapping",), "expected a table")
            head = {}
        self.unknown_keys(head, _MAPPING_KEYS, "mapping")
        provider = (
            self.text(("mapping", "provider"), head["provider"]) if "provider" in head else None
        )
        if "provider" not in head:
            self.bad(
                ("mapping",), "missing required key 'provider': the provider this mapping is for"
            )
        fmt = None
        if "format" in head and (fmt := self.text(("mapping", "format"), head["format"])):
            if fmt not in FORMATS:
                self.bad(("mapping", "format"), f"unknown format {fmt!r}; use {', '.join(FORMATS)}")
                fmt = None
        encoding = None
        if "encoding" in head and (
            encoding := self.text(("mapping", "encoding"), head["encoding"])
        ):
            encoding = self.encoding(encoding)
        delimiter = None
        if "delimiter" in head and (
            delimiter := self.text(("mapping", "delimiter"), head["delimiter"])
        ):
            if delimiter != "auto" and len(delimiter) != 1:
                self.bad(
                    ("mapping", "delimiter"),
                    f'{delimiter!r}: give one character (",", "\\t", ";", "|") or "auto"',
                )
                delimiter = None
        ignore: set[str] = set()
        raw_ignore = head.get("ignore", [])
        if not isinstance(raw_ignore, list):
            self.bad(("mapping", "ignore"), "expected an array of column names")
        else:
            for i, col in enumerate(raw_ignore):
                if (name := self.text(("mapping", "ignore", i), col)) is not None:
                    ignore.add(name)
        ignore_others = head.get("ignore_other_columns", False)
        if not isinstance(ignore_others, bool):
            self.bad(("mapping", "ignore_other_columns"), "expected true or false")
            ignore_others = False

        fields: dict[str, FieldSpec] = {}
        raw_fields = doc.get("fields", {})
        if not isinstance(raw_fields, dict):
            self.bad(("fields",), "expected a table of fields")
            raw_fields = {}
        for target, spec in raw_fields.items():
            parsed = self.field(target, spec)
            if parsed is not None:
                fields[target] = parsed
        if "reference" not in fields and "fields" in doc:
            self.bad(("fields",), "missing [fields.reference]: the provider's own id of a record")
        elif "fields" not in doc:
            self.bad(("mapping",), "missing [fields.*]: say which column fills each field")

        kind, columns = self.dedupe(doc.get("dedupe"))
        skip = self.skip(doc.get("skip", {}))
        if self.problems:
            raise MappingError(sorted(self.problems, key=lambda p: p.line))
        return Mapping(
            file=self.file,
            provider=provider,
            fields=fields,
            format=fmt,
            encoding=encoding,
            delimiter=delimiter,
            ignore=frozenset(ignore),
            ignore_other_columns=ignore_others,
            dedupe_kind=kind,
            dedupe_columns=columns,
            skip=skip,
            text=text,
            sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
            index=self.index,
        )

    def encoding(self, name: str) -> str | None:
        if name == "auto":
            return name
        try:
            codecs.lookup(name)
        except LookupError:
            self.bad(
                ("mapping", "encoding"),
                f"unknown encoding {name!r}; use {', '.join(ENCODINGS)} (or another codec name)",
            )
            return None
        return name

    def field(self, target: str, spec: Any) -> FieldSpec | None:
        at = ("fields", target)
        if target not in TARGETS:
            close = difflib.get_close_matches(target, TARGETS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            self.bad(at, f"unknown field {target!r}{hint}; the fields: {', '.join(TARGETS)}")
            return None
        if isinstance(spec, str):
            # fields.note = "备注" is short for fields.note.column = "备注".
            return FieldSpec(target, column=spec, line=self.index.line_of(at) or 1)
        if not isinstance(spec, dict):
            self.bad(at, "expected a table (column, value, codes, ...) or a column name")
            return None
        for key in spec:
            if key not in _FIELD_KEYS:
                close = difflib.get_close_matches(key, _FIELD_KEYS, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                self.bad(
                    (*at, key), f"unknown key {key!r}{hint}; known keys: {', '.join(_FIELD_KEYS)}"
                )
        column = self.text((*at, "column"), spec["column"]) if "column" in spec else None
        value = self.text((*at, "value"), spec["value"]) if "value" in spec else None
        if ("column" in spec) == ("value" in spec):
            self.bad(at, "give exactly one of column (the provider's column) or value (a constant)")
        default = self.text((*at, "default"), spec["default"]) if "default" in spec else None
        codes: dict[str, str] | None = None
        if "codes" in spec:
            raw = spec["codes"]
            if not isinstance(raw, dict) or not raw:
                self.bad((*at, "codes"), "expected a table of their code = our value")
            else:
                codes = {}
                for code, ours in raw.items():
                    if (text := self.text((*at, "codes", code), ours)) is not None:
                        codes[code.strip()] = text
        unit = None
        if "unit" in spec:
            unit = self.text((*at, "unit"), spec["unit"])
            if target != "amount":
                self.bad((*at, "unit"), "only amount has a unit")
            elif unit is not None and unit not in UNITS:
                self.bad((*at, "unit"), f"unknown unit {unit!r}; use {', '.join(UNITS)}")
                unit = None
        date_format = None
        if "date_format" in spec:
            date_format = self.text((*at, "date_format"), spec["date_format"])
            if target not in DATE_FIELDS:
                self.bad((*at, "date_format"), f"only {', '.join(sorted(DATE_FIELDS))} are dates")
            elif date_format is not None and not _round_trips(date_format):
                self.bad(
                    (*at, "date_format"),
                    f"{date_format!r} does not read back a date it writes: use strptime codes "
                    'such as %Y, %m and %d (e.g. "%Y年%m月%d日" or "%d/%m/%Y")',
                )
        return FieldSpec(
            target,
            column=column,
            value=value,
            codes=codes,
            default=default,
            unit=unit,
            date_format=date_format,
            line=self.index.line_of(at) or 1,
        )

    def dedupe(self, raw: Any) -> tuple[str | None, tuple[str, ...]]:
        if raw is None:
            return None, ()
        if not isinstance(raw, dict):
            self.bad(("dedupe",), "expected a table with kind and columns")
            return None, ()
        self.unknown_keys(raw, _DEDUPE_KEYS, "dedupe")
        kind = self.text(("dedupe", "kind"), raw["kind"]) if "kind" in raw else None
        if "kind" not in raw:
            self.bad(
                ("dedupe",),
                "missing required key 'kind': a name for the facts these "
                'keys identify, the same in every provider\'s mapping (e.g. "judgment")',
            )
        cols = raw.get("columns")
        columns: list[str] = []
        if not isinstance(cols, list) or not cols:
            self.bad(("dedupe", "columns"), "expected an array of one or more column names")
        else:
            for i, col in enumerate(cols):
                if (name := self.text(("dedupe", "columns", i), col)) is not None:
                    columns.append(name)
        return kind, tuple(columns)

    def skip(self, raw: Any) -> dict[str, frozenset[str]]:
        if not isinstance(raw, dict):
            self.bad(("skip",), "expected a table of column = [values that mark a non-record]")
            return {}
        out: dict[str, frozenset[str]] = {}
        for column, values in raw.items():
            if not isinstance(values, list) or not values:
                self.bad(("skip", column), "expected an array of one or more values")
                continue
            kept = [v.strip() for i, v in enumerate(values) if self.text(("skip", column, i), v)]
            out[column] = frozenset(kept)
        return out


def _round_trips(fmt: str) -> bool:
    """Whether ``fmt`` writes a day that it reads back (so it names year, month and day)."""
    day = date(2031, 12, 29)
    try:
        return datetime.strptime(day.strftime(fmt), fmt).date() == day
    except ValueError:
        return False


def fact_key(kind: str, values: tuple[str, ...]) -> str | None:
    """The key two providers' rows share when they report the same fact: the dedupe
    ``kind`` and the key columns' values, each NFKC-normalised (full-width brackets and
    digits as ASCII), upper-cased, without spaces. None when a value is empty.

    >>> fact_key("judgment", ("（2025）粤03执 123号",))
    'judgment:(2025)粤03执123号'
    """
    parts = []
    for value in values:
        text = "".join(unicodedata.normalize("NFKC", value).upper().split())
        if not text:
            return None
        parts.append(text)
    return f"{kind}:" + "|".join(parts)
