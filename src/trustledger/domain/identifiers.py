"""Identifier validation: the USCC, the resident identity number, and policy-defined kinds.

Two kinds are built in because their check characters are defined by national standards:

``uscc``
    The 18-character Unified Social Credit Code of GB 32100-2015 for legal entities and
    other organisations. Position 1 is the registration authority, 2 the organisation
    category, 3-8 the administrative division code (GB/T 2260, digits), 9-17 the
    organisation code of GB 11714 (whose last character is its own check character) and
    18 the check character over the first 17 (modulus 31).

``cn_ric``
    The 18-character citizen identification number of GB 11643-1999: a 6-digit address
    code, the birth date as ``YYYYMMDD``, a 3-digit sequence (odd for men, even for women)
    and an ISO 7064 MOD 11-2 check digit (``0``-``9`` or ``X``).

Any other kind is generic: the policy gives a regular expression that the whole
normalised value must match (see :class:`trustledger.policy.schema.IdentifierType`).

Every refusal raises :class:`~trustledger.errors.IdentifierError` naming the field and
saying exactly what is wrong, because the person who typed the code has to fix it:

>>> validate("uscc", "91350100m000100y4z", field="company_id")
Traceback (most recent call last):
...
trustledger.errors.IdentifierError: company_id: check character (position 18) is 'Z', expected '3'
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import date
from functools import lru_cache
from typing import Final

from trustledger.domain.subject import SubjectKind
from trustledger.errors import IdentifierError

__all__ = [
    "BUILTIN_KINDS",
    "RIC_EARLIEST_BIRTH_YEAR",
    "USCC_CHARSET",
    "make_ric",
    "make_uscc",
    "normalise",
    "org_code_check_character",
    "ric_birth_date",
    "ric_check_digit",
    "ric_sex",
    "subject_kind_for",
    "uscc_check_character",
    "validate",
]

#: The characters a USCC may contain, in the order of their values 0-30 (GB 32100-2015,
#: table 1). I, O, S, V and Z are left out because they are mistaken for 1, 0, 5, U and 2.
USCC_CHARSET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE: Final = {c: i for i, c in enumerate(USCC_CHARSET)}
#: W_i = 3^(i-1) mod 31: 1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28.
_USCC_WEIGHTS: Final = tuple(pow(3, i, 31) for i in range(17))

#: GB 11714 values its characters 0-9 then A=10 ... Z=35 (all 26 letters), so a letter's
#: value here differs from its USCC value after H (J is 19 here, 18 in the USCC).
_ORG_VALUE: Final = {c: i for i, c in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")}
_ORG_WEIGHTS: Final = (3, 7, 9, 10, 5, 8, 4, 2)

#: ISO 7064 MOD 11-2 weights 2^(18-i) mod 11: 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, ...
_RIC_WEIGHTS: Final = tuple(pow(2, 17 - i, 11) for i in range(17))
#: The check digit for each value of (weighted sum mod 11).
_RIC_CHECK: Final = "10X98765432"

#: The earliest birth year a resident identity number may carry. GB 11643-1999's own
#: annex example (440524188001010014) is of a person born in 1880, so 1900 would refuse
#: the standard itself; anything before 1800 is a typo, not a person.
RIC_EARLIEST_BIRTH_YEAR: Final = 1800

#: The kinds validated by their standard's rules; a policy pattern cannot replace them.
BUILTIN_KINDS: Final = frozenset({"uscc", "cn_ric"})

_DIGITS: Final = frozenset("0123456789")
# Separators people type or paste between groups of a code ("9135 0100 M000 100Y 43",
# "110105-19491231-002X"). NFKC already maps full-width spaces and hyphens to these.
_SEPARATORS: Final = frozenset(" -\u2010\u2011\u2012\u2013\u2212\t\n\r\u00a0")
_USCC_LETTERS_NOTE: Final = "digits and capital letters except I, O, S, V and Z"


def normalise(value: str, *, compact: bool = False) -> str:
    """Normalise an identifier the way :func:`validate` does, without checking it.

    Surrounding whitespace goes, full-width and other compatibility characters become
    their plain forms (NFKC), letters are upper-cased; ``compact`` also drops spaces and
    hyphens inside the value.

    >>> normalise(" ９１３５０１００m０００１００y４３ ")
    '91350100M000100Y43'
    >>> normalise("110105-19491231-002x", compact=True)
    '11010519491231002X'
    """
    # Repeat to a fixed point: upper-casing can produce characters NFKC rewrites again,
    # and validate() must be idempotent on its own output.
    text = value
    for _ in range(4):
        again = unicodedata.normalize("NFKC", text).upper().strip()
        if again == text:
            break
        text = again
    if compact:
        text = "".join(ch for ch in text if ch not in _SEPARATORS)
    return text


def _describe(ch: str) -> str:
    """Quote a character so that invisible or look-alike ones can still be told apart."""
    if ch.isprintable() and not ch.isspace():
        return repr(ch)
    return f"{ch!r} (U+{ord(ch):04X})"


def _require_length(value: str, length: int, field: str) -> None:
    if not value:
        raise IdentifierError(field, "is empty")
    if len(value) != length:
        raise IdentifierError(field, f"must be {length} characters, got {len(value)}")


def _require_uscc_chars(value: str, field: str, *, first_position: int = 1) -> None:
    for offset, ch in enumerate(value):
        if ch not in _USCC_VALUE:
            position = first_position + offset
            raise IdentifierError(
                field,
                f"illegal character {_describe(ch)} at position {position}"
                f" (allowed: {_USCC_LETTERS_NOTE})",
            )


def _require_digits(value: str, field: str, what: str, *, first_position: int = 1) -> None:
    for offset, ch in enumerate(value):
        if ch not in _DIGITS:
            position = first_position + offset
            raise IdentifierError(
                field, f"illegal character {_describe(ch)} at position {position} ({what})"
            )


def _org_check(first8: str) -> str:
    total = sum(_ORG_VALUE[c] * w for c, w in zip(first8, _ORG_WEIGHTS, strict=True))
    value = 11 - total % 11
    return "X" if value == 10 else "0" if value == 11 else str(value)


def _uscc_check(first17: str) -> str:
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def _ric_check(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, _RIC_WEIGHTS, strict=True))
    return _RIC_CHECK[total % 11]


def uscc_check_character(first17: str) -> str:
    """The 18th (check) character of a USCC from its first 17 (GB 32100-2015).

    >>> uscc_check_character("91350100M000100Y4")
    '3'
    """
    body = normalise(first17, compact=True)
    _require_length(body, 17, "uscc")
    _require_uscc_chars(body, "uscc")
    return _uscc_check(body)


def org_code_check_character(first8: str) -> str:
    """The 9th (check) character of a GB 11714 organisation code from its first 8.

    >>> org_code_check_character("M000100Y")
    '4'
    """
    body = normalise(first8, compact=True)
    _require_length(body, 8, "org_code")
    for position, ch in enumerate(body, start=1):
        if ch not in _ORG_VALUE:
            raise IdentifierError(
                "org_code",
                f"illegal character {_describe(ch)} at position {position}"
                " (allowed: digits and capital letters)",
            )
    return _org_check(body)


def ric_check_digit(first17: str) -> str:
    """The 18th (check) digit of a resident identity number, ISO 7064 MOD 11-2.

    >>> ric_check_digit("11010519491231002")
    'X'
    """
    body = normalise(first17, compact=True)
    _require_length(body, 17, "cn_ric")
    _require_digits(body, "cn_ric", "positions 1-17 must be digits")
    return _ric_check(body)


def _validate_uscc(value: str, field: str) -> str:
    _require_length(value, 18, field)
    # Position 18 is left to the check below, which also says what it should have been.
    _require_uscc_chars(value[:17], field)
    _require_digits(
        value[2:8], field, "positions 3-8 are the division code, digits only", first_position=3
    )
    org_expected = _org_check(value[8:16])
    if value[16] != org_expected:
        raise IdentifierError(
            field,
            f"organisation code check character (position 17) is {value[16]!r},"
            f" expected {org_expected!r} (GB 11714)",
        )
    expected = _uscc_check(value[:17])
    if value[17] != expected:
        raise IdentifierError(
            field, f"check character (position 18) is {_describe(value[17])}, expected {expected!r}"
        )
    return value


def _ric_date(digits8: str, field: str) -> date:
    year, month, day = int(digits8[:4]), int(digits8[4:6]), int(digits8[6:])
    try:
        born = date(year, month, day)
    except ValueError:
        raise IdentifierError(
            field, f"birth date {digits8} (positions 7-14) is not a real date"
        ) from None
    if year < RIC_EARLIEST_BIRTH_YEAR:
        raise IdentifierError(
            field,
            f"birth date {digits8} (positions 7-14) is before {RIC_EARLIEST_BIRTH_YEAR}",
        )
    return born


def _validate_ric(value: str, field: str) -> str:
    _require_length(value, 18, field)
    _require_digits(value[:17], field, "positions 1-17 must be digits")
    if value[17] not in _DIGITS and value[17] != "X":
        raise IdentifierError(
            field,
            f"illegal character {_describe(value[17])} at position 18"
            " (the check digit is 0-9 or X)",
        )
    _ric_date(value[6:14], field)
    expected = _ric_check(value[:17])
    if value[17] != expected:
        raise IdentifierError(
            field, f"check digit (position 18) is {value[17]!r}, expected {expected!r}"
        )
    return value


_BUILTIN: Final[Mapping[str, Callable[[str, str], str]]] = {
    "uscc": _validate_uscc,
    "cn_ric": _validate_ric,
}


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def validate(
    kind: str,
    value: str,
    *,
    field: str | None = None,
    patterns: Mapping[str, str] | None = None,
) -> str:
    """Check an identifier and return its normalised form.

    ``kind`` is ``"uscc"``, ``"cn_ric"`` or a key of ``patterns`` (kind -> regular
    expression that must match the whole normalised value). Errors name ``field``, or the
    kind when no field is given. A pattern that does not compile raises :class:`re.error`:
    that is a fault of the policy, which its linter reports, not of the value.

    >>> validate("cn_ric", " 11010519491231002x ")
    '11010519491231002X'
    >>> validate("passport", " e12345678", patterns={"passport": r"[EG]\\d{8}"})
    'E12345678'
    """
    name = field or kind
    if not isinstance(value, str):
        # Rows read from JSON may carry a number where a code belongs.
        raise IdentifierError(name, f"must be text, got {type(value).__name__}")
    check = _BUILTIN.get(kind)
    if check is not None:
        return check(normalise(value, compact=True), name)
    pattern = patterns.get(kind) if patterns is not None else None
    if pattern is None:
        known = sorted(BUILTIN_KINDS | set(patterns or ()))
        raise IdentifierError(
            name, f"unknown identifier kind {kind!r}; known kinds: {', '.join(known)}"
        )
    text = normalise(value)
    if not text:
        raise IdentifierError(name, "is empty")
    if _compiled(pattern).fullmatch(text) is None:
        raise IdentifierError(name, f"{text!r} does not match the {kind} pattern {pattern}")
    return text


def make_uscc(authority: str, category: str, division: str, org_code8: str) -> str:
    """Build a valid USCC, computing both check characters.

    ``authority`` and ``category`` are one character each (``"9"``, ``"1"``: an enterprise
    registered with market regulation), ``division`` the 6-digit GB/T 2260 code of the
    registering office and ``org_code8`` the first 8 characters of the organisation code.

    >>> make_uscc("9", "1", "350100", "M000100Y")
    '91350100M000100Y43'
    """
    head = normalise(authority + category, compact=True)
    if len(head) != 2:
        raise IdentifierError(
            "uscc",
            f"authority and category must be one character each, got {authority!r}"
            f" and {category!r}",
        )
    _require_uscc_chars(head, "uscc")
    region = normalise(division, compact=True)
    _require_length(region, 6, "uscc.division")
    _require_digits(region, "uscc.division", "the division code is 6 digits")
    body = normalise(org_code8, compact=True)
    _require_length(body, 8, "uscc.org_code")
    _require_uscc_chars(body, "uscc.org_code", first_position=9)
    first17 = head + region + body + _org_check(body)
    return first17 + _uscc_check(first17)


def make_ric(division: str, birth_date: date, sequence: int) -> str:
    """Build a valid resident identity number.

    ``sequence`` is 0-999; odd numbers are for men and even ones for women.

    >>> make_ric("110105", date(1949, 12, 31), 2)
    '11010519491231002X'
    """
    region = normalise(division, compact=True)
    _require_length(region, 6, "cn_ric.division")
    _require_digits(region, "cn_ric.division", "the division code is 6 digits")
    if not RIC_EARLIEST_BIRTH_YEAR <= birth_date.year <= 9999:
        raise IdentifierError(
            "cn_ric.birth_date", f"{birth_date} is before {RIC_EARLIEST_BIRTH_YEAR}"
        )
    if not 0 <= sequence <= 999:
        raise IdentifierError("cn_ric.sequence", f"must be 0-999, got {sequence}")
    first17 = f"{region}{birth_date:%Y%m%d}{sequence:03d}"
    return first17 + _ric_check(first17)


def ric_birth_date(value: str) -> date:
    """The birth date a resident identity number carries (the number is validated first).

    >>> ric_birth_date("440524188001010014")
    datetime.date(1880, 1, 1)
    """
    text = validate("cn_ric", value)
    return _ric_date(text[6:14], "cn_ric")


def ric_sex(value: str) -> str:
    """``"male"`` for an odd sequence number, ``"female"`` for an even one.

    >>> ric_sex("11010519491231002X")
    'female'
    """
    text = validate("cn_ric", value)
    return "male" if int(text[16]) % 2 else "female"


def subject_kind_for(kind: str) -> SubjectKind | None:
    """The kind of subject a built-in identifier kind names; ``None`` for other kinds.

    >>> subject_kind_for("uscc")
    <SubjectKind.ORGANISATION: 'organisation'>
    """
    if kind == "uscc":
        return SubjectKind.ORGANISATION
    if kind == "cn_ric":
        return SubjectKind.PERSON
    return None
