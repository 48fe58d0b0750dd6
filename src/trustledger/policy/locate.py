"""Where each key of a TOML document is written: key path -> line number.

``tomllib`` parses without positions, so an error found later (by pydantic, by the
cross-reference checks, by the linter) could not say where it is. :func:`index_lines`
scans the text once and records the line of every key path::

    >>> index = index_lines('[policy]\\nname = "x"\\n\\n[[grades]]\\ngrade = "A"\\n')
    >>> index.line_of(("policy", "name")), index.line_of(("grades", 0, "grade"))
    (2, 5)
    >>> index.line_of(("grades", 0, "min_score"))  # not written: its table's line
    4

The scanner understands what can move a key's line or hide a fake one: table headers
``[a."quoted key"]``, arrays of tables ``[[a.b]]`` (counted per array, nested arrays
included), dotted keys, inline tables, arrays over several lines (each element gets the
line it starts on), multi-line strings and comments. It is written for documents that
``tomllib`` accepted; on broken input it indexes what it can and never raises.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

__all__ = ["LineIndex", "Path", "index_lines"]

#: A key path: table and key names, and array indices.
Path = tuple[str | int, ...]

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}


@dataclass(frozen=True, slots=True)
class LineIndex:
    """Lines (1-based) of the key paths of one TOML document."""

    lines: Mapping[Path, int]

    def exact(self, path: Path) -> int | None:
        """The line where ``path`` itself is written, or ``None``."""
        return self.lines.get(tuple(path))

    def line_of(self, path: Path) -> int | None:
        """The line of ``path``, else of its nearest written ancestor, else ``None``.

        A missing key is reported at its table; a key path that goes deeper than the
        document (an error inside a value) at the key that holds the value.
        """
        path = tuple(path)
        while path:
            line = self.lines.get(path)
            if line is not None:
                return line
            path = path[:-1]
        return None

    def __iter__(self) -> Iterator[Path]:
        return iter(self.lines)

    def __len__(self) -> int:
        return len(self.lines)


def index_lines(text: str) -> LineIndex:
    """Index every key path of a TOML document by the line it is written on."""
    scanner = _Scanner(text)
    scanner.run()
    merged = dict(scanner.implicit)
    merged.update(scanner.explicit)
    return LineIndex(merged)


class _Stop(Exception):
    """The text is not TOML the scanner understands; skip to the next line."""


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.newlines = [i for i, c in enumerate(text) if c == "\n"]
        #: Paths defined where they are written: headers, keys, array elements.
        self.explicit: dict[Path, int] = {}
        #: Tables created on the way (``a`` of ``[a.b]`` or of ``a.b = 1``).
        self.implicit: dict[Path, int] = {}
        #: Arrays of tables (resolved path) -> how many elements so far.
        self.arrays: dict[Path, int] = {}
        self.table: Path = ()

    # -- positions -------------------------------------------------------------------

    def line_at(self, pos: int) -> int:
        return bisect.bisect_left(self.newlines, pos) + 1

    def peek(self, offset: int = 0) -> str:
        i = self.pos + offset
        return self.text[i] if i < len(self.text) else ""

    def at(self, token: str) -> bool:
        return self.text.startswith(token, self.pos)

    def record(self, path: Path, pos: int, *, explicit: bool = True) -> None:
        target = self.explicit if explicit else self.implicit
        target.setdefault(path, self.line_at(pos))

    # -- the document ----------------------------------------------------------------

    def run(self) -> None:
        while self.pos < len(self.text):
            start = self.pos
            try:
                self.statement()
            except _Stop:
                self.skip_line()
            if self.pos == start:  # never loop without progress on odd input
                self.pos += 1

    def statement(self) -> None:
        self.skip_blank()
        c = self.peek()
        if c in ("", "\n"):
            self.pos += len(c)
            return
        if c == "#":
            self.skip_line()
            return
        if c == "\r" and self.peek(1) == "\n":
            self.pos += 2
            return
        if self.at("[["):
            self.array_header()
        elif c == "[":
            self.table_header()
        else:
            start = self.pos
            keys = self.key()
            self.define(self.table, keys, start)
            self.expect("=")
            self.skip_blank()
            self.value(self.table + keys)
        self.end_of_line()

    def table_header(self) -> None:
        start = self.pos
        self.pos += 1
        keys = self.key()
        self.expect("]")
        path = self.resolve(keys)
        for i in range(1, len(path)):
            self.record(path[:i], start, explicit=False)
        self.explicit[path] = self.line_at(start)  # an explicit [a] after [a.b] wins
        self.table = path

    def array_header(self) -> None:
        start = self.pos
        self.pos += 2
        keys = self.key()
        self.expect("]]")
        array = self.resolve(keys[:-1]) + keys[-1:]
        for i in range(1, len(array)):
            self.record(array[:i], start, explicit=False)
        self.record(array, start)
        index = self.arrays.get(array, 0)
        self.arrays[array] = index + 1
        self.table = (*array, index)
        self.explicit[self.table] = self.line_at(start)

    def resolve(self, keys: tuple[str, ...]) -> Path:
        """A header's keys as a path: arrays of tables on the way mean their last element."""
        path: Path = ()
        for k in keys:
            path = (*path, k)
            count = self.arrays.get(path)
            if count:
                path = (*path, count - 1)
        return path

    def define(self, table: Path, keys: tuple[str, ...], pos: int) -> None:
        for i in range(1, len(keys)):
            self.record(table + keys[:i], pos, explicit=False)
        self.record(table + keys, pos)

    # -- keys ------------------------------------------------------------------------

    def key(self) -> tuple[str, ...]:
        parts: list[str] = []
        while True:
            self.skip_blank()
            c = self.peek()
            if c == '"':
                parts.append(self.basic_string())
            elif c == "'":
                parts.append(self.literal_string())
            else:
                m = _BARE.match(self.text, self.pos)
                if m is None:
                    raise _Stop
                parts.append(m.group())
                self.pos = m.end()
            self.skip_blank()
            if self.peek() != ".":
                return tuple(parts)
            self.pos += 1

    # -- values ----------------------------------------------------------------------

    def value(self, path: Path) -> None:
        c = self.peek()
        if self.at('"""'):
            self.multiline('"""', escapes=True)
        elif self.at("'''"):
            self.multiline("'''", escapes=False)
        elif c == '"':
            self.basic_string()
        elif c == "'":
            self.literal_string()
        elif c == "[":
            self.array(path)
        elif c == "{":
            self.inline_table(path)
        else:
            self.scalar()

    def array(self, path: Path) -> None:
        self.pos += 1
        index = 0
        while True:
            self.skip_space_and_comments()
            if self.peek() == "]":
                self.pos += 1
                return
            if self.peek() == "":
                raise _Stop
            self.record((*path, index), self.pos)
            self.value((*path, index))
            index += 1
            self.skip_space_and_comments()
            c = self.peek()
            if c == ",":
                self.pos += 1
            elif c == "]":
                self.pos += 1
                return
            else:
                raise _Stop

    def inline_table(self, path: Path) -> None:
        self.pos += 1
        while True:
            self.skip_space_and_comments()
            c = self.peek()
            if c == "}":
                self.pos += 1
                return
            if c == "":
                raise _Stop
            start = self.pos
            keys = self.key()
            self.define(path, keys, start)
            self.expect("=")
            self.skip_blank()
            self.value(path + keys)
            self.skip_space_and_comments()
            c = self.peek()
            if c == ",":
                self.pos += 1
            elif c == "}":
                self.pos += 1
                return
            else:
                raise _Stop

    def scalar(self) -> None:
        """Numbers, booleans, dates: up to a delimiter (a date may hold one space)."""
        start = self.pos
        n = len(self.text)
        while self.pos < n and self.text[self.pos] not in ",]}#\r\n":
            self.pos += 1
        if self.pos == start:
            raise _Stop

    def basic_string(self) -> str:
        self.pos += 1
        out: list[str] = []
        n = len(self.text)
        while self.pos < n:
            c = self.text[self.pos]
            if c == '"':
                self.pos += 1
                return "".join(out)
            if c == "\n":
                raise _Stop
            if c == "\\":
                out.append(self.escape())
                continue
            out.append(c)
            self.pos += 1
        raise _Stop

    def escape(self) -> str:
        code = self.peek(1)
        if code in _ESCAPES:
            self.pos += 2
            return _ESCAPES[code]
        width = {"u": 4, "U": 8}.get(code)
        if width is not None:
            digits = self.text[self.pos + 2 : self.pos + 2 + width]
            self.pos += 2 + width
            try:
                return chr(int(digits, 16))
            except ValueError:
                raise _Stop from None
        self.pos += 2
        return code

    def literal_string(self) -> str:
        end = self.text.find("'", self.pos + 1)
        newline = self.text.find("\n", self.pos + 1)
        if end < 0 or 0 <= newline < end:
            raise _Stop
        value = self.text[self.pos + 1 : end]
        self.pos = end + 1
        return value

    def multiline(self, quote: str, *, escapes: bool) -> None:
        self.pos += 3
        n = len(self.text)
        while self.pos < n:
            if escapes and self.text[self.pos] == "\\":
                self.pos += 2
                continue
            if self.at(quote):
                # A run of up to five quotes closes the string with its last three.
                run = 0
                while run < 5 and self.peek(run) == quote[0]:
                    run += 1
                self.pos += run
                return
            self.pos += 1
        raise _Stop

    # -- whitespace ------------------------------------------------------------------

    def skip_blank(self) -> None:
        n = len(self.text)
        while self.pos < n and self.text[self.pos] in " \t":
            self.pos += 1

    def skip_space_and_comments(self) -> None:
        while True:
            self.skip_blank()
            c = self.peek()
            if c in ("\n", "\r"):
                self.pos += 1
            elif c == "#":
                self.skip_comment()
            else:
                return

    def skip_comment(self) -> None:
        end = self.text.find("\n", self.pos)
        self.pos = len(self.text) if end < 0 else end

    def skip_line(self) -> None:
        end = self.text.find("\n", self.pos)
        self.pos = len(self.text) if end < 0 else end + 1

    def end_of_line(self) -> None:
        self.skip_blank()
        if self.peek() == "#":
            self.skip_comment()
        if self.peek() == "\r":
            self.pos += 1
        if self.peek() not in ("\n", ""):
            raise _Stop
        self.pos += len(self.peek())

    def expect(self, token: str) -> None:
        self.skip_blank()
        if not self.at(token):
            raise _Stop
        self.pos += len(token)
