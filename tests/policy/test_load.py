"""The loader and the line locator.

Fixture strategy: one small valid policy written out below with its line numbers in
view; each test breaks one thing in it (by replacing a line) and asserts the exact
FILE:LINE and message. The locator is tested on a table of tricky documents and with a
hypothesis property: generated documents in varied TOML styles must parse to the data
they were built from, and every key must be indexed at the line where it was written.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trustledger.errors import PolicyError, PolicyProblem
from trustledger.policy.load import LoadedPolicy, format_path, load_policy, parse_policy
from trustledger.policy.locate import index_lines

FILE = "policies/x.toml"

# Line numbers matter: tests below name them.
VALID = """\
# A small policy for loader tests.
[policy]
name = "x"
title = "X"
base_score = 1000

[[grades]]
grade = "A"
min_score = 900

[[grades]]
grade = "B"

[domains.finance]
title = "Finance"
cap_negative = -400

[domains.transport]
title = "Transport"

[record_types.fare_evasion]
domain = "transport"
title = "Fare evasion"
points = -5
decay = { kind = "linear", period = "1y" }
counts_for = "1y"
legal_basis = "Rail Transit Regulations, art. 33"

[record_types.loan_default]
domain = "finance"
title = "Loan default"
points = -80
counts_for = "5y"
legal_basis = "Credit Reporting Regulation, art. 16"

[lists.black]
kind = "black"
title = "Black list"
legal_basis = "Some law"

[[lists.black.rules]]
id = "defaulters"
record_types = [
    "loan_default",
    "fare_evasion",
]
duration = "3y"

[measures.loan_review]
kind = "sanction"
title = "Loan review"
legal_basis = "Commercial Banking Law, art. 35"
effect = "deny"
affected_by = { finance = "Repayment history" }
when = { record_types = ["loan_default"], grade_at_most = "B" }

[providers.bank]
kind = "bank"
title = "Bank"
grants = ["loan_default"]
"""


def line_no(text: str, needle: str) -> int:
    """The line (1-based) of the only line that contains ``needle``."""
    hits = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(hits) == 1, (needle, hits)
    return hits[0]


def replace_line(needle: str, new: str) -> str:
    lines = VALID.splitlines(keepends=True)
    i = line_no(VALID, needle) - 1
    lines[i] = new + "\n"
    return "".join(lines)


def problems_of(text: str) -> list[PolicyProblem]:
    with pytest.raises(PolicyError) as info:
        parse_policy(text, filename=FILE)
    return info.value.problems


def only_problem(text: str) -> str:
    problems = problems_of(text)
    assert len(problems) == 1, [str(p) for p in problems]
    return str(problems[0])


# -- valid text --------------------------------------------------------------------------


def test_valid_policy_loads() -> None:
    loaded = parse_policy(VALID, filename=FILE)
    assert loaded.filename == FILE
    assert loaded.source == VALID
    assert loaded.sha256 == hashlib.sha256(VALID.encode("utf-8")).hexdigest()
    assert loaded.policy.record_types["fare_evasion"].decay.kind == "linear"
    assert loaded.line_of(("record_types", "loan_default", "points")) == line_no(VALID, "= -80")
    # Not written: falls back to the table that would hold it.
    assert loaded.line_of(("record_types", "loan_default", "retention")) == line_no(
        VALID, "[record_types.loan_default]"
    )


def test_sha256_identifies_the_exact_text() -> None:
    a = parse_policy(VALID, filename=FILE)
    b = parse_policy(VALID, filename="elsewhere.toml")
    c = parse_policy(VALID + "# one more comment\n", filename=FILE)
    assert a.sha256 == b.sha256
    assert c.sha256 != a.sha256


def test_loaded_policy_refuses_a_wrong_digest() -> None:
    loaded = parse_policy(VALID, filename=FILE)
    with pytest.raises(ValueError, match="sha256"):
        LoadedPolicy(policy=loaded.policy, source=VALID + " ", sha256=loaded.sha256, filename=FILE)


def test_load_policy_keeps_the_bytes_exactly(tmp_path: Path) -> None:
    path = tmp_path / "crlf.toml"
    path.write_bytes(VALID.replace("\n", "\r\n").encode("utf-8"))
    loaded = load_policy(path)
    assert loaded.source == VALID.replace("\n", "\r\n")
    assert loaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert loaded.filename == str(path)
    assert loaded.line_of(("record_types", "loan_default", "points")) == line_no(VALID, "= -80")


def test_load_policy_unreadable_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(PolicyError) as info:
        load_policy(missing)
    assert str(info.value).startswith(f"{missing}: cannot read the policy file")


def test_load_policy_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[policy]\nname = "x"\ntitle = "caf\xe9"\n')
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert str(info.value).startswith(f"{path}:3: the file is not UTF-8")


# -- one error per kind, each at its exact line ------------------------------------------


def test_syntax_error_names_the_line() -> None:
    text = replace_line('title = "Loan default"', "title Loan default")
    line = line_no(VALID, 'title = "Loan default"')
    assert only_problem(text) == (
        f"{FILE}:{line}: TOML syntax error: expected '=' after a key in a key/value pair (column 7)"
    )


def test_syntax_error_at_end_of_document() -> None:
    text = VALID + "broken = [1,\n"
    assert only_problem(text).startswith(f"{FILE}:{VALID.count(chr(10)) + 1}: TOML syntax error")


def test_unknown_key_lists_the_known_keys() -> None:
    text = replace_line("points = -80", "pionts = -80")
    line = line_no(VALID, "points = -80")
    problems = [str(p) for p in problems_of(text)]
    assert (
        f"{FILE}:{line}: record_types.loan_default: unknown key 'pionts' (did you mean "
        "'points'? known keys: domain, title, description, applies_to, points, decay, "
        "counts_for, retention, legal_basis, disputed_counts, repair_after, public, rating)"
    ) in problems
    # ... and, all at once, the consequence: points is now missing.
    header = line_no(VALID, "[record_types.loan_default]")
    assert f"{FILE}:{header}: record_types.loan_default: missing required key 'points'" in problems
    assert len(problems) == 2


def test_unknown_top_level_table() -> None:
    text = VALID + "\n[scoring]\nx = 1\n"
    line = text.count("\n") - 1
    message = only_problem(text)
    assert message.startswith(f"{FILE}:{line}: unknown key 'scoring' (known keys: policy, grades")


def test_missing_key_is_reported_at_its_table() -> None:
    text = replace_line('legal_basis = "Credit Reporting Regulation, art. 16"', "")
    header = line_no(VALID, "[record_types.loan_default]")
    assert only_problem(text) == (
        f"{FILE}:{header}: record_types.loan_default: missing required key 'legal_basis'"
    )


def test_bad_duration() -> None:
    text = replace_line('counts_for = "1y"', 'counts_for = "3q"')
    line = line_no(VALID, 'counts_for = "1y"')
    assert only_problem(text) == (
        f"{FILE}:{line}: record_types.fare_evasion.counts_for: invalid duration '3q': use "
        "whole numbers with y (years), m (months), w (weeks) or d (days)"
    )


def test_bad_duration_inside_an_inline_table() -> None:
    text = replace_line("decay = {", 'decay = { kind = "linear", period = "a year" }')
    line = line_no(VALID, "decay = {")
    assert only_problem(text).startswith(
        f"{FILE}:{line}: record_types.fare_evasion.decay.period: invalid duration 'a year'"
    )


@pytest.mark.parametrize(
    ("needle", "new", "message"),
    [
        ("points = -80", 'points = "eighty"', "points: expected a number, got 'eighty'"),
        ("points = -80", "points = -80.125", "points: at most 2 decimal places, got -80.125"),
        ("points = -80", "points = [1]", "points: expected a number, got an array"),
        ('title = "Loan default"', "title = 5", "title: expected text in quotes, got 5"),
        ('domain = "finance"', "domain = true", "domain: expected text in quotes, got true"),
    ],
)
def test_bad_type(needle: str, new: str, message: str) -> None:
    text = replace_line(needle, new)
    line = line_no(VALID, needle)
    assert only_problem(text) == f"{FILE}:{line}: record_types.loan_default.{message}"


def test_bad_choice_and_bad_name() -> None:
    text = replace_line('effect = "deny"', 'effect = "forbid"')
    line = line_no(VALID, 'effect = "deny"')
    assert only_problem(text) == (
        f"{FILE}:{line}: measures.loan_review.effect: expected 'allow', 'deny' or "
        "'allow_with_conditions', got 'forbid'"
    )
    text = replace_line('id = "defaulters"', 'id = "Bad Name"')
    line = line_no(VALID, 'id = "defaulters"')
    assert only_problem(text).startswith(
        f"{FILE}:{line}: lists.black.rules[0].id: 'Bad Name' is not a valid name"
    )


def test_model_rule_is_reported_at_its_table() -> None:
    text = replace_line('effect = "deny"', 'effect = "allow"')
    header = line_no(VALID, "[measures.loan_review]")
    assert only_problem(text) == (
        f"{FILE}:{header}: measures.loan_review: a sanction's effect is 'deny' or "
        "'allow_with_conditions'"
    )


def test_bad_cross_reference_in_a_multiline_array() -> None:
    text = replace_line('    "fare_evasion",', '    "fare_dodging",')
    line = line_no(VALID, '    "fare_evasion",')
    assert only_problem(text) == (
        f"{FILE}:{line}: lists.black.rules[0].record_types[1]: unknown record type 'fare_dodging'"
    )


def test_bad_cross_references_all_at_once() -> None:
    text = replace_line('domain = "transport"', 'domain = "rail"')
    text = text.replace('grants = ["loan_default"]', 'grants = ["loan_defualt"]')
    text = text.replace('affected_by = { finance = "', 'affected_by = { fin = "')
    problems = [str(p) for p in problems_of(text)]
    domain_line = line_no(VALID, 'domain = "transport"')
    assert problems == [
        f"{FILE}:{domain_line}: record_types.fare_evasion.domain: "
        "unknown domain 'rail'; known: finance, transport",
        f"{FILE}:{line_no(VALID, 'affected_by =')}: measures.loan_review.affected_by.fin: "
        "unknown domain 'fin'; known: finance, transport",
        f"{FILE}:{line_no(VALID, 'grants =')}: providers.bank.grants[0]: unknown record type "
        "'loan_defualt'",
    ]


def test_every_problem_at_once_in_file_order() -> None:
    text = replace_line('counts_for = "1y"', 'counts_for = "3q"')
    text = text.replace("points = -80", 'points = "x"').replace('grade = "B"', "grade = 2")
    problems = problems_of(text)
    assert len(problems) == 3
    assert [p.line for p in problems] == sorted(p.line or 0 for p in problems)
    assert all(p.file == FILE and p.severity == "error" for p in problems)


def test_grade_order_is_checked() -> None:
    text = replace_line("min_score = 900", "min_score = 900\n\n[[grades]]\ngrade = 'C'")
    header = line_no(VALID, "min_score = 900") + 2  # the inserted [[grades]]
    assert only_problem(text) == (
        f"{FILE}:{header}: grades[1].min_score: only the last (lowest) grade may leave out "
        "min_score"
    )


# -- format_path -------------------------------------------------------------------------


def test_format_path() -> None:
    assert format_path(("lists", "black", "rules", 0, "id")) == "lists.black.rules[0].id"
    assert format_path(("measures", "m", "affected_by", "a b")) == 'measures.m.affected_by."a b"'
    assert format_path(()) == ""


# -- the locator: a table of cases -------------------------------------------------------

LOCATOR_CASES: list[tuple[str, dict[tuple[str | int, ...], int]]] = [
    # headers, quoted keys, dotted keys, comments
    (
        '# c\n[a."b.c"] # t\nk = 1\nd.e = 2  # x\n',
        {("a",): 2, ("a", "b.c"): 2, ("a", "b.c", "k"): 3, ("a", "b.c", "d", "e"): 4},
    ),
    # multi-line strings hide fake headers and keys
    (
        "a = \"\"\"\n[fake]\nb = 1\n\"\"\"\nc = '''\n[[x]]\n'''\nd = 1\n",
        {("a",): 1, ("c",): 5, ("d",): 8},
    ),
    # a closing run of more than three quotes
    ('a = """x""""\nb = 2\n', {("a",): 1, ("b",): 2}),
    # escapes in basic strings, '#' inside strings
    ('a = "q\\"# not a comment"\nb = \'#\'\n', {("a",): 1, ("b",): 2}),
    # arrays of tables, counted per array and per parent element
    (
        "[[t]]\nx = 1\n[[t.u]]\ny = 1\n[[t]]\nx = 2\n[[t.u]]\ny = 2\n[t.v]\nz = 3\n",
        {
            ("t",): 1,
            ("t", 0): 1,
            ("t", 0, "x"): 2,
            ("t", 0, "u", 0): 3,
            ("t", 0, "u", 0, "y"): 4,
            ("t", 1): 5,
            ("t", 1, "x"): 6,
            ("t", 1, "u", 0): 7,
            ("t", 1, "u", 0, "y"): 8,
            ("t", 1, "v"): 9,
            ("t", 1, "v", "z"): 10,
        },
    ),
    # inline tables map their keys to their line; multi-line arrays give each element its
    # line, comments and a stray ']' in a comment included
    (
        "a = { x = 1, y = { z = [1, 2] } }\nb = [\n  # ] not the end\n  1,\n\n  { k = 2 },\n]\n",
        {
            ("a", "x"): 1,
            ("a", "y", "z", 1): 1,
            ("b",): 2,
            ("b", 0): 4,
            ("b", 1): 6,
            ("b", 1, "k"): 6,
        },
    ),
    # dates and times are scalars, spaces included
    ("d = 1979-05-27 07:32:00Z # c\ne = 1\n", {("d",): 1, ("e",): 2}),
    # an explicit [a] after [a.b] is where a is written
    ("[a.b]\nx = 1\n[a]\ny = 2\n", {("a",): 3, ("a", "b"): 1, ("a", "y"): 4}),
    # CRLF line ends
    ("[a]\r\nx = 1\r\n\r\ny = 2\r\n", {("a",): 1, ("a", "x"): 2, ("a", "y"): 4}),
]


@pytest.mark.parametrize(("text", "expected"), LOCATOR_CASES)
def test_locator_cases(text: str, expected: dict[tuple[str | int, ...], int]) -> None:
    tomllib.loads(text)  # the cases are valid TOML
    index = index_lines(text)
    assert {path: index.exact(path) for path in expected} == expected


def test_locator_falls_back_to_the_nearest_ancestor() -> None:
    index = index_lines("[a]\nx = 1\n[a.b]\ny = { z = 1 }\n")
    assert index.line_of(("a", "b", "y", "z", "deeper", 3)) == 4
    assert index.line_of(("a", "b", "missing")) == 3
    assert index.line_of(("a", "missing")) == 1
    assert index.line_of(("nowhere",)) is None


@given(st.text(max_size=200))
def test_locator_never_raises(text: str) -> None:
    index = index_lines(text)
    n = text.count("\n") + 1
    assert all(1 <= line <= n for line in index.lines.values())


# -- the locator: a property over generated documents ------------------------------------


class Inline(dict[str, Any]):
    """A table written inline: ``{ k = v }``."""


class Sub(dict[str, Any]):
    """A table written with a ``[header]`` (or as dotted keys)."""


class Aot(list[dict[str, Any]]):
    """An array of tables: ``[[header]]``."""


_KEY_CHARS = "abz_-09 .\"'#=[]é"
_TEXT_CHARS = "ab #=[]{}\"'\\\n.é"
keys = st.text(alphabet=_KEY_CHARS, min_size=1, max_size=5)
scalars = st.one_of(
    st.integers(-(10**6), 10**6), st.booleans(), st.text(alphabet=_TEXT_CHARS, max_size=10)
)
leaves = st.one_of(
    scalars,
    st.lists(scalars, max_size=4),
    st.dictionaries(keys, scalars, max_size=3).map(Inline),
)


def tables(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    if depth == 0:
        return st.dictionaries(keys, leaves, max_size=4)
    inner = tables(depth - 1)
    children = st.one_of(leaves, inner.map(Sub), st.lists(inner, min_size=1, max_size=3).map(Aot))
    return st.dictionaries(keys, children, max_size=4)


def plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


class Writer:
    """Writes a document in randomly chosen styles, noting where each key path goes."""

    def __init__(self, data: st.DataObject) -> None:
        self.draw = data.draw
        self.chunks: list[str] = []
        self.line = 1
        self.expected: dict[tuple[str | int, ...], int] = {}

    def emit(self, text: str) -> None:
        self.chunks.append(text)
        self.line += text.count("\n")

    def noise(self) -> None:
        for _ in range(self.draw(st.integers(0, 2))):
            self.emit(self.draw(st.sampled_from(["\n", "# a comment [x]\n", "  # k = 1\n"])))

    def key(self, k: str) -> str:
        if re.fullmatch(r"[A-Za-z0-9_-]+", k) and self.draw(st.booleans()):
            return k
        if "'" not in k and self.draw(st.booleans()):
            return f"'{k}'"
        return json.dumps(k)

    def string(self, s: str, *, one_line: bool) -> str:
        style = self.draw(st.sampled_from(["basic", "literal", "multi", "multiliteral"]))
        if style == "literal" and "'" not in s and "\n" not in s:
            return f"'{s}'"
        if not one_line and style == "multiliteral" and "'" not in s and not s.startswith("\n"):
            return f"'''{s}'''"
        if not one_line and style in ("multi", "multiliteral"):
            body = s.replace("\\", "\\\\").replace('"', '\\"')
            return f'"""\n{body}"""'
        return json.dumps(s)

    def value(self, path: tuple[str | int, ...], v: Any, line: int, *, one_line: bool) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int):
            return str(v)
        if isinstance(v, str):
            return self.string(v, one_line=one_line)
        if isinstance(v, Inline):
            parts = []
            for k, item in v.items():
                self.expected[(*path, k)] = line
                parts.append(f"{self.key(k)} = {self.value((*path, k), item, line, one_line=True)}")
            return "{ " + ", ".join(parts) + " }" if parts else "{}"
        assert isinstance(v, list)
        multiline = not one_line and self.draw(st.booleans())
        text = "[\n" if multiline else "["
        for i, item in enumerate(v):
            if multiline and self.draw(st.booleans()):
                text += "  # ] comment\n"
            here = line + text.count("\n")
            self.expected[(*path, i)] = here
            text += ("  " if multiline else "") + self.value(
                (*path, i), item, here, one_line=one_line
            )
            text += ",\n" if multiline else ", "
        return text + "]"

    def keyval(self, path: tuple[str | int, ...], keytext: str, v: Any) -> None:
        self.noise()
        self.expected[path] = self.line
        text = f"{keytext} = {self.value(path, v, self.line, one_line=False)}"
        if self.draw(st.booleans()):
            text += "  # trailing"
        self.emit(text + "\n")

    def table(
        self,
        path: tuple[str | int, ...],
        names: tuple[str, ...],
        table: dict[str, Any],
        header: str | None,
    ) -> None:
        if header is not None:
            self.noise()
            self.expected[path] = self.line
            self.emit(header + "\n")
        nested = {k: v for k, v in table.items() if isinstance(v, Sub | Aot)}
        for k, v in table.items():
            if k not in nested:
                self.keyval((*path, k), self.key(k), v)
        headed: dict[str, Any] = {}
        for k, v in nested.items():
            flat = (
                isinstance(v, Sub) and v and not any(isinstance(x, Sub | Aot) for x in v.values())
            )
            if flat and isinstance(v, Sub) and self.draw(st.booleans()):
                for kk, vv in v.items():  # dotted keys: a.b = ...
                    self.keyval((*path, k, kk), f"{self.key(k)}.{self.key(kk)}", vv)
            else:
                headed[k] = v
        for k, v in headed.items():
            dotted = ".".join(self.key(n) for n in (*names, k))
            if isinstance(v, Sub):
                self.table((*path, k), (*names, k), v, f"[{dotted}]")
            else:
                for i, element in enumerate(v):
                    self.table((*path, k, i), (*names, k), element, f"[[{dotted}]]")
                self.expected[(*path, k)] = self.expected[(*path, k, 0)]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=tables(2), data=st.data())
def test_locator_finds_every_key_of_generated_documents(
    document: dict[str, Any], data: st.DataObject
) -> None:
    writer = Writer(data)
    writer.table((), (), document, None)
    text = "".join(writer.chunks)
    assert tomllib.loads(text) == plain(document), text
    index = index_lines(text)
    found = {path: index.exact(path) for path in writer.expected}
    assert found == writer.expected, text


def test_an_unknown_time_zone_is_named_with_its_line() -> None:
    text = VALID.replace("base_score = 1000", 'base_score = 1000\ntimezone = "Mars/Olympus"', 1)
    (problem,) = problems_of(text)
    assert problem.line == text.splitlines().index('timezone = "Mars/Olympus"') + 1
    assert "unknown time zone 'Mars/Olympus'" in problem.reason
