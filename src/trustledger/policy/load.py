"""Read a policy file into a :class:`LoadedPolicy`, or say exactly what is wrong with it.

::

    >>> loaded = parse_policy(open("policies/example-city.toml").read(),
    ...                       filename="policies/example-city.toml")   # doctest: +SKIP
    >>> loaded.policy.policy.base_score, loaded.sha256[:12]             # doctest: +SKIP
    (Decimal('1000'), '5c0f...')

Every problem is reported as ``FILE:LINE: key.path: reason`` and all of them at once: TOML
syntax (the line ``tomllib`` names), structure and types (pydantic's errors, each mapped
back to the line where its key is written by :mod:`trustledger.policy.locate`) and
cross-references (:func:`~trustledger.policy.schema.check_references`). A file that fails
raises :class:`~trustledger.errors.PolicyError`; nothing half-loaded is returned.

A policy version is the SHA-256 of its exact text: change one byte and it is a new version.
"""

from __future__ import annotations

import difflib
import hashlib
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import Any

from pydantic import BaseModel, ValidationError

from trustledger.errors import PolicyError, PolicyProblem
from trustledger.policy.locate import LineIndex, Path, index_lines
from trustledger.policy.schema import Policy, check_references

__all__ = ["LoadedPolicy", "format_path", "load_policy", "parse_policy"]

_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_TOML_AT_END = re.compile(r"\s*\(at end of document\)\s*$")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class LoadedPolicy:
    """A validated policy with the exact text it came from.

    ``sha256`` is the hex digest of ``source`` encoded as UTF-8; it identifies the policy
    version. ``line_of(path)`` finds where a key path is written (or its nearest written
    ancestor), for messages that must say FILE:LINE.
    """

    policy: Policy
    source: str
    sha256: str
    filename: str
    _index: LineIndex = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.sha256 != _digest(self.source):
            raise ValueError("sha256 does not match the source text")
        object.__setattr__(self, "_index", index_lines(self.source))

    def line_of(self, path: Path) -> int | None:
        """The line where ``path`` (or its nearest written ancestor) is written."""
        return self._index.line_of(path)

    def problem(self, path: Path, reason: str, severity: str = "error") -> PolicyProblem:
        """A problem at ``path``, worded ``key.path: reason``."""
        return _problem(self.filename, self._index, path, reason, severity)


def load_policy(path: str | FilePath) -> LoadedPolicy:
    """Read and validate a policy file (UTF-8 TOML).

    Raises :class:`~trustledger.errors.PolicyError` listing every problem.
    """
    filename = str(path)
    try:
        data = FilePath(path).read_bytes()
    except OSError as exc:
        reason = f"cannot read the policy file: {exc.strerror or exc}"
        raise PolicyError([PolicyProblem(filename, None, reason)]) from None
    try:
        # Not read_text(): universal newlines would change the text, and so its sha256.
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        reason = f"the file is not UTF-8 (byte {exc.start + 1} cannot be decoded)"
        raise PolicyError([PolicyProblem(filename, line, reason)]) from None
    return parse_policy(text, filename=filename)


def parse_policy(text: str, *, filename: str) -> LoadedPolicy:
    """Validate policy text; ``filename`` is only used in messages.

    >>> parse_policy("[policy]\\nname = 'x'\\n", filename="x.toml")
    Traceback (most recent call last):
    ...
    trustledger.errors.PolicyError: x.toml:1: policy: missing required key 'title'
    x.toml:1: policy: missing required key 'base_score'
    x.toml:1: missing required key 'grades'
    x.toml:1: missing required key 'domains'
    x.toml:1: missing required key 'record_types'
    """
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError([_syntax_problem(filename, text, exc)]) from None

    index = index_lines(text)
    try:
        policy = Policy.model_validate(document)
    except ValidationError as exc:
        problems = [
            _validation_problem(filename, index, error)
            for error in exc.errors()
            if not _consequence(error)
        ]
        raise PolicyError(_sorted(problems)) from None

    references = check_references(policy)
    if references:
        problems = [_problem(filename, index, p, reason) for p, reason in references]
        raise PolicyError(_sorted(problems))
    return LoadedPolicy(policy=policy, source=text, sha256=_digest(text), filename=filename)


def format_path(path: Path) -> str:
    """A key path as it would be written: ``lists.black.rules[0].id``, ``a."b c"``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
            continue
        key = part if _BARE_KEY.match(part) else '"' + part.replace('"', '\\"') + '"'
        out += f".{key}" if out else key
    return out


# -- building problems -------------------------------------------------------------------


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _problem(
    filename: str,
    index: LineIndex,
    path: Path,
    reason: str,
    severity: str = "error",
    *,
    named: Path | None = None,
) -> PolicyProblem:
    """A problem at the line of ``path``, worded ``named: reason`` (``named`` defaults to
    ``path``)."""
    where = format_path(path if named is None else named)
    line = index.line_of(path)
    return PolicyProblem(
        file=filename,
        line=line if line is not None else 1,
        reason=f"{where}: {reason}" if where else reason,
        severity=severity,
    )


def _sorted(problems: list[PolicyProblem]) -> list[PolicyProblem]:
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: p.line or 0)


def _syntax_problem(filename: str, text: str, exc: tomllib.TOMLDecodeError) -> PolicyProblem:
    message = str(exc)
    line: int | None = None
    if m := _TOML_POSITION.search(message):
        line = int(m.group(1))
        message = message[: m.start()] + f" (column {m.group(2)})"
    elif m := _TOML_AT_END.search(message):
        line = text.count("\n") + (0 if text.endswith("\n") else 1) or 1
        message = message[: m.start()] + " (at the end of the file)"
    message = message[:1].lower() + message[1:]
    return PolicyProblem(filename, line, f"TOML syntax error: {message}")


def _validation_problem(filename: str, index: LineIndex, error: Any) -> PolicyProblem:
    loc: Path = tuple(p for p in error["loc"] if isinstance(p, str | int))
    kind: str = error["type"]
    if kind == "missing":
        return _problem(filename, index, loc[:-1], f"missing required key {loc[-1]!r}")
    if kind == "extra_forbidden":
        # At the line of the unknown key, named by the table it is in.
        return _problem(filename, index, loc, _unknown_key(loc), named=loc[:-1])
    return _problem(filename, index, loc, _reason(error))


def _consequence(error: Any) -> bool:
    """Pydantic's "too short *after validation*": the entries were written but some were
    refused, and those refusals are reported on their own lines."""
    if error["type"] != "too_short":
        return False
    written = error.get("input")
    minimum = (error.get("ctx") or {}).get("min_length", 0)
    return isinstance(written, list | dict) and len(written) >= minimum


def _unknown_key(loc: Path) -> str:
    key = loc[-1]
    model = _model_at(loc[:-1])
    if model is None:
        return f"unknown key {key!r}"
    known = list(model.model_fields)
    close = difflib.get_close_matches(str(key), known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key {key!r} ({hint}known keys: {', '.join(known)})"


def _reason(error: Any) -> str:
    """Pydantic's message in plain words, with the value that was refused."""
    kind: str = error["type"]
    ctx: dict[str, Any] = error.get("ctx") or {}
    given = _show(error.get("input"))
    if kind in ("value_error", "assertion_error"):
        return str(error["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind in ("string_type", "str_type"):
        return f"expected text in quotes, got {given}"
    if kind in ("decimal_type", "decimal_parsing", "float_type", "float_parsing", "int_type"):
        return f"expected a number, got {given}"
    if kind == "decimal_max_places":
        return f"at most {ctx.get('decimal_places')} decimal places, got {given}"
    if kind in ("finite_number", "decimal_not_finite"):
        return f"expected a finite number, got {given}"
    if kind in ("bool_type", "bool_parsing"):
        return f"expected true or false, got {given}"
    if kind in ("model_type", "dict_type", "model_attributes_type"):
        return f"expected a table, got {given}"
    if kind in ("tuple_type", "list_type"):
        return f"expected an array, got {given}"
    if kind in ("literal_error", "enum"):
        return f"expected {ctx.get('expected')}, got {given}"
    if kind == "string_pattern_mismatch":
        return (
            f"{given} is not a valid name: use lower-case letters, digits, '_' and '-', "
            "starting with a letter or digit"
        )
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "string_too_long":
        return f"at most {ctx.get('max_length')} characters, got {given}"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length')} entries, got {ctx.get('actual_length')}"
    if kind in ("less_than_equal", "greater_than_equal", "less_than", "greater_than"):
        word = {
            "less_than_equal": "at most",
            "greater_than_equal": "at least",
            "less_than": "less than",
            "greater_than": "more than",
        }[kind]
        bound = next(iter(ctx.values()), "?")
        return f"must be {word} {bound}, got {given}"
    return f"{error['msg']} (got {given})"


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _model_at(loc: Path) -> type[BaseModel] | None:
    """The model whose table sits at ``loc`` (to list its keys), if any."""
    tp: Any = Policy
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if not isinstance(part, str) or part not in tp.model_fields:
                return None
            tp = tp.model_fields[part].annotation
        elif typing.get_origin(tp) is dict:
            tp = typing.get_args(tp)[1]
        elif typing.get_origin(tp) is tuple:
            tp = typing.get_args(tp)[0]
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _unwrap(tp: Any) -> Any:
    """``Annotated[X, ...]`` -> ``X``; ``X | None`` -> ``X``."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp
