"""Reading providers' files in chunks: CSV, JSON Lines and Parquet.

A reader never holds a whole file: it yields :class:`Chunk` objects of at most ``size``
rows (the provider's columns as lists of strings, and the line each row starts on), so
memory stays flat however large the file. Problems of form (an undecodable byte, bad
JSON, a row with too many fields, an unbalanced quote) come back as
:class:`~trustledger.errors.RowProblem` objects naming FILE:LINE:FIELD, collected in
``reader.problems``; reading goes on past them so that one report lists them all.

CSV and JSON Lines are decoded line by line in the encoding declared, or detected from
the first 64 KiB: a UTF-8 byte-order mark, else UTF-8 if the sample is valid UTF-8, else
charset-normalizer's guess (GB2312, GBK and a guess of Korean that reads as well as
GB18030 read as GB18030, their superset: the providers here write Chinese). A
CSV's delimiter is declared or detected from its header line (``,``, tab, ``;``, ``|``).
For Parquet, LINE is the row number (the first row is 1); line 0 is the file's schema.

>>> import tempfile, os
>>> with tempfile.TemporaryDirectory() as tmp:
...     p = Path(tmp, "x.csv")
...     _ = p.write_bytes("编号;金额\\nA-1;12\\n".encode("gb18030"))
...     r = open_reader(p, fmt="csv")
...     (r.encoding, r.delimiter, r.header), [c.columns for c in r.chunks(100)]
(('gb18030', ';', ['编号', '金额']), [{'编号': ['A-1'], '金额': ['12']}])
"""

from __future__ import annotations

import codecs
import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any, Final

from trustledger.errors import RowProblem
from trustledger.ingest.mapping import DELIMITERS

__all__ = [
    "FORMAT_BY_SUFFIX",
    "Chunk",
    "Reader",
    "detect_delimiter",
    "detect_encoding",
    "format_of",
    "open_reader",
]

#: How much of a file encoding detection looks at.
SAMPLE_BYTES: Final = 64 * 1024
#: How much of a file is decoded at a time.
BLOCK_BYTES: Final = 1 << 20
FORMAT_BY_SUFFIX: Final = {
    "csv": "csv",
    "tsv": "csv",
    "txt": None,
    "jsonl": "jsonl",
    "ndjson": "jsonl",
    "json": "jsonl",
    "parquet": "parquet",
    "pq": "parquet",
}
#: charset-normalizer's names for the GB family, all read as their superset GB18030.
_GB: Final = frozenset({"gb2312", "gbk", "gb18030", "hz", "cp936"})


@dataclass(slots=True)
class Chunk:
    """Up to ``size`` rows: the provider's columns, each a list of (stripped) strings,
    "" for an empty or missing value; ``lines[i]`` is where row ``i`` starts."""

    lines: list[int]
    columns: dict[str, list[str]]

    def __len__(self) -> int:
        return len(self.lines)


@dataclass
class Reader:
    """A file being read. ``header`` is known before the first chunk for CSV and Parquet
    (None for JSON Lines, whose keys may differ per line)."""

    file: str
    format: str
    header: list[str] | None = None
    encoding: str | None = None
    delimiter: str | None = None
    problems: list[RowProblem] = field(default_factory=list)
    #: Rows read so far (blank lines are not rows).
    rows: int = 0
    _chunks: Any = None

    def chunks(self, size: int) -> Iterator[Chunk]:
        """The file's rows, ``size`` at a time; call once."""
        chunks: Iterator[Chunk] = self._chunks(size)
        return chunks


def format_of(path: Path, declared: str | None = None) -> str | None:
    """The format ``declared``, else the one the file's extension names (None if neither)."""
    if declared:
        return (
            declared.lower()
            .replace("ndjson", "jsonl")
            .replace("json", "jsonl")
            .replace("jsonll", "jsonl")
        )
    return FORMAT_BY_SUFFIX.get(path.suffix.lower().lstrip("."))


def open_reader(
    path: Path,
    *,
    fmt: str,
    encoding: str | None = None,
    delimiter: str | None = None,
    native: bool = False,
) -> Reader:
    """A reader of ``path`` in format ``fmt`` (csv, jsonl or parquet). ``native`` keeps the
    rules of trustledger's own format for JSON values (nested objects and booleans are
    refused rather than flattened)."""
    name = str(path)
    if fmt == "parquet":
        return _parquet_reader(path, name)
    reader = Reader(name, fmt)
    with path.open("rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    if encoding in (None, "", "auto"):
        encoding = detect_encoding(sample)
        if encoding is None:
            reader.problems.append(
                RowProblem(
                    name,
                    1,
                    "-",
                    "cannot tell the file's encoding: declare it (--encoding, or encoding "
                    "in the mapping): utf-8, utf-8-sig or gb18030",
                )
            )
            reader._chunks = lambda size: iter(())
            return reader
    reader.encoding = encoding
    if fmt == "csv":
        first = _first_line(sample, encoding)
        if delimiter in (None, "", "auto"):
            delimiter = detect_delimiter(first)
        reader.delimiter = delimiter
        _csv_header(reader, path, encoding, delimiter)
        reader._chunks = lambda size: _csv_chunks(reader, path, encoding, delimiter, size)
    elif fmt == "jsonl":
        reader._chunks = lambda size: _jsonl_chunks(reader, path, encoding, size, native)
    else:
        raise ValueError(f"unknown format {fmt!r}")
    return reader


def detect_encoding(sample: bytes) -> str | None:
    """The encoding of a file that starts with ``sample``: ``utf-8-sig`` (a byte-order
    mark), ``utf-8``, ``gb18030`` or another charset-normalizer names; None if unsure.

    >>> detect_encoding("reference,note\\n".encode()), detect_encoding(b"\\xef\\xbb\\xbfa\\n")
    ('utf-8', 'utf-8-sig')
    >>> text = "案号,被执行人,证件号码,履行情况\\n（2025）粤03执123号,张伟\\n"
    >>> detect_encoding(text.encode("gb18030"))
    'gb18030'
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        # Not final: the sample may end inside a character.
        decoder.decode(sample, final=False)
    except UnicodeDecodeError:
        pass
    else:
        return "utf-8"
    from charset_normalizer import from_bytes

    matches = list(from_bytes(sample))
    if not matches:
        return None
    best = matches[0]
    # A short Chinese text reads as Korean (cp949) as well as GB18030; a registry's
    # providers write Chinese: GB18030 wins when it reads the sample about as cleanly.
    for match in matches:
        if match.encoding.lower().replace("_", "") in _GB and match.chaos <= best.chaos + 0.1:
            return "gb18030"
    return str(best.encoding)


def detect_delimiter(header: str) -> str:
    """The delimiter of a CSV whose first line is ``header``: the most frequent of
    ``,``, tab, ``;`` and ``|`` outside quotes (``,`` when none occurs).

    >>> detect_delimiter("a;b;c"), detect_delimiter("a\\tb, c\\td"), detect_delimiter("a")
    (';', '\\t', ',')
    """
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for ch in header:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _first_line(sample: bytes, encoding: str) -> str:
    line = sample.split(b"\n", 1)[0]
    return line.decode(encoding, errors="replace").lstrip("\ufeff").rstrip("\r")


def _decoded_blocks(reader: Reader, path: Path, encoding: str) -> Iterator[list[str]]:
    """The file's lines, decoded strictly, about a megabyte at a time. A line that cannot
    be decoded is reported (with its byte) and read as an empty line, so that line numbers
    still count the file's lines."""
    codec = "utf-8" if encoding == "utf-8-sig" else encoding
    number = 0
    with path.open("rb") as handle:
        while raws := handle.readlines(BLOCK_BYTES):
            if number == 0 and raws[0].startswith(codecs.BOM_UTF8):
                raws[0] = raws[0][3:]
            try:
                texts = [raw.decode(codec) for raw in raws]
            except UnicodeDecodeError:
                texts = []
                for k, raw in enumerate(raws, start=number + 1):
                    try:
                        texts.append(raw.decode(codec))
                    except UnicodeDecodeError as exc:
                        reader.problems.append(
                            RowProblem(
                                reader.file,
                                k,
                                "-",
                                f"not valid {encoding} (byte {exc.start + 1} of the line): "
                                "save the file as UTF-8, or declare its encoding",
                            )
                        )
                        texts.append("\n")
            number += len(raws)
            yield texts


def _decoded_lines(reader: Reader, path: Path, encoding: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of each line (see :func:`_decoded_blocks`)."""
    number = 0
    for texts in _decoded_blocks(reader, path, encoding):
        for text in texts:
            number += 1
            yield number, text


def _csv_header(reader: Reader, path: Path, encoding: str, delimiter: str) -> None:
    lines = (text for _, text in _decoded_lines(Reader(reader.file, "csv"), path, encoding))
    try:
        header = next(csv.reader(lines, delimiter=delimiter, strict=True), None)
    except csv.Error as exc:
        reader.problems.append(RowProblem(reader.file, 1, "-", f"cannot read the header: {exc}"))
        reader.header = []
        return
    if header is None:
        reader.problems.append(
            RowProblem(reader.file, 1, "-", "the file is empty: expected a header row")
        )
        reader.header = []
        return
    reader.header = [h.strip() for h in header]
    seen: set[str] = set()
    for col in reader.header:
        if col in seen:
            reader.problems.append(
                RowProblem(reader.file, 1, col, f"column {col!r} appears twice in the header")
            )
        seen.add(col)


def _csv_chunks(
    reader: Reader, path: Path, encoding: str, delimiter: str, size: int
) -> Iterator[Chunk]:
    header = reader.header or []
    width = len(header)
    if not width:
        return
    # csv counts the lines it consumed (line_num): a record runs from the line after the
    # previous one's last to its own last, undecodable lines included (read as empty).
    rows_in = csv.reader(
        chain.from_iterable(_decoded_blocks(reader, path, encoding)),
        delimiter=delimiter,
        strict=True,
    )
    try:
        next(rows_in)  # the header, read already
    except (StopIteration, csv.Error):
        return
    file = reader.file
    problems = reader.problems
    starts: list[int] = []
    ends: list[int] = []
    rows: list[list[str]] = []
    previous = rows_in.line_num
    try:
        for values in rows_in:
            end = rows_in.line_num
            if len(values) == width:
                rows.append(values)
                starts.append(previous + 1)
                ends.append(end)
                if len(rows) >= size:
                    yield _chunk(file, header, starts, ends, rows, problems)
                    reader.rows += len(rows)
                    starts, ends, rows = [], [], []
            elif values and any(v.strip() for v in values):  # a blank line is no row
                problems.append(
                    RowProblem(
                        file, previous + 1, "-", f"{len(values)} fields, the header has {width}"
                    )
                )
            previous = end
    except csv.Error as exc:
        problems.append(RowProblem(file, previous + 1, "-", f"{exc} (an unbalanced quote?)"))
    if rows:
        yield _chunk(file, header, starts, ends, rows, problems)
        reader.rows += len(rows)


def _chunk(
    file: str,
    header: list[str],
    starts: list[int],
    ends: list[int],
    rows: list[list[str]],
    problems: list[RowProblem],
) -> Chunk:
    """Rows of a CSV as columns of stripped values; a value that runs over several lines
    (an unbalanced quote, most likely) is a problem."""
    for k, (start, end) in enumerate(zip(starts, ends, strict=True)):
        if end > start:
            for column, value in zip(header, rows[k], strict=True):
                if "\n" in value or "\r" in value:
                    problems.append(
                        RowProblem(
                            file,
                            start,
                            column,
                            f"the value runs over {end - start + 1} lines: check for an "
                            "unbalanced quote",
                        )
                    )
    strip = str.strip
    columns = {
        name: list(map(strip, values))
        for name, values in zip(header, zip(*rows, strict=True), strict=True)
    }
    return Chunk(starts, columns)


def _jsonl_chunks(
    reader: Reader, path: Path, encoding: str, size: int, native: bool
) -> Iterator[Chunk]:
    file = reader.file
    problems = reader.problems
    lines: list[int] = []
    objects: list[dict[str, str]] = []
    for number, text in _decoded_lines(reader, path, encoding):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append(
                RowProblem(file, number, "-", f"not valid JSON: {exc.msg} (column {exc.colno})")
            )
            continue
        if not isinstance(obj, dict):
            problems.append(RowProblem(file, number, "-", "each line must be a JSON object"))
            continue
        values: dict[str, str] = {}
        _flatten(obj, "", values, file, number, problems, native)
        lines.append(number)
        objects.append(values)
        if len(objects) >= size:
            reader.rows += len(objects)
            yield _columns_of(lines, objects)
            lines, objects = [], []
    if objects:
        reader.rows += len(objects)
        yield _columns_of(lines, objects)


def _flatten(
    obj: dict[str, Any],
    prefix: str,
    out: dict[str, str],
    file: str,
    line: int,
    problems: list[RowProblem],
    native: bool,
) -> None:
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if value is None:
            out[name] = ""
        elif isinstance(value, dict) and not native:
            _flatten(value, f"{name}.", out, file, line, problems, native)
        elif isinstance(value, bool) and not native:
            out[name] = "true" if value else "false"
        elif isinstance(value, (dict, list, bool)):
            problems.append(RowProblem(file, line, name, "must be a string or a number"))
        else:
            out[name] = str(value).strip()


def _columns_of(lines: list[int], objects: list[dict[str, str]]) -> Chunk:
    names: dict[str, None] = {}
    for obj in objects:
        for key in obj:
            names[key] = None
    columns = {name: [obj.get(name, "") for obj in objects] for name in names}
    return Chunk(lines, columns)


def _parquet_reader(path: Path, name: str) -> Reader:
    import pyarrow as pa
    import pyarrow.parquet as pq

    reader = Reader(name, "parquet")
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        reader.problems.append(RowProblem(name, 0, "-", f"cannot read the file as Parquet: {exc}"))
        reader.header = []
        reader._chunks = lambda size: iter(())
        return reader
    reader.header = list(parquet.schema_arrow.names)

    def chunks(size: int) -> Iterator[Chunk]:
        done = 0
        try:
            for batch in parquet.iter_batches(batch_size=size):
                n = batch.num_rows
                columns = {
                    col: _strings(batch.column(i)) for i, col in enumerate(batch.schema.names)
                }
                reader.rows += n
                yield Chunk(list(range(done + 1, done + n + 1)), columns)
                done += n
        except (pa.ArrowException, OSError) as exc:
            reader.problems.append(
                RowProblem(name, done + 1, "-", f"cannot read the Parquet file from here: {exc}")
            )
        finally:
            parquet.close()

    reader._chunks = chunks
    return reader


def _strings(array: Any) -> list[str]:
    """A Parquet column as strings: dates as YYYY-MM-DD, numbers as written, null as ""."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_timestamp(array.type):
        array = pc.cast(array, pa.date32())
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        array = pc.cast(array, pa.string())
    return [("" if v is None else v.strip()) for v in array.to_pylist()]
