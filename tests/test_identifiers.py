"""Identifier validation: vectors from the standards, mutations, normalisation, properties.

Fixture strategy: none. Every vector is inline next to the test that uses it, with its
source, so a reader can check it against the standard.
"""

from __future__ import annotations

import string
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

import trustledger.domain.identifiers as domain_identifiers
import trustledger.identifiers as identifiers
from trustledger.domain.subject import SubjectKind
from trustledger.errors import IdentifierError
from trustledger.identifiers import (
    BUILTIN_KINDS,
    USCC_CHARSET,
    make_ric,
    make_uscc,
    org_code_check_character,
    ric_birth_date,
    ric_check_digit,
    ric_sex,
    subject_kind_for,
    uscc_check_character,
    validate,
)

# GB 11643-1999, annex A (informative) "公民身份号码实例": a woman in Beijing, Chaoyang
# district, born 1949-12-31, and a man in Shantou, Guangdong, born 1880-01-01. Text at
# https://zh.wikisource.org/wiki/GB_11643-1999_公民身份号码
RIC_STANDARD_EXAMPLES = ["11010519491231002X", "440524188001010014"]

# The worked check-character example that accompanies GB 32100-2015 ("校验码计算方法实例"):
# for the first 17 characters 91350100M000100Y4 the weighted sum is 1640, 1640 mod 31 = 28,
# so the check character is 31 - 28 = 3. (The example then shows 91350100M000100Y4Z being
# refused.) Reproduced e.g. at https://renrendoc.com/p-47802332.html and
# https://wddqw.com/doc/53f79e6a996648d7c1c708a1284ac850ad020467.html
USCC_STANDARD_EXAMPLE = "91350100M000100Y43"

# Huawei Technologies Co., Ltd., as published in the infobox ("機構代碼") of the Chinese
# Wikipedia article 華為: https://zh.wikipedia.org/zh-hk/華為
USCC_HUAWEI = "914403001922038216"

# Two codes with "MA" organisation codes (issued after 2015), given as valid examples in
# the docstring of winjs-dev/cloud-utils src/isUnifiedSocialCreditCode.ts.
USCC_PUBLISHED_MA = ["91230184MA1BUFLT44", "92371000MA3MXH0E3W"]

VALID_USCC = [USCC_STANDARD_EXAMPLE, USCC_HUAWEI, *USCC_PUBLISHED_MA]


def reason(excinfo: pytest.ExceptionInfo[IdentifierError]) -> str:
    return excinfo.value.reason


# --- vectors from the standards ------------------------------------------------------


@pytest.mark.parametrize("value", RIC_STANDARD_EXAMPLES)
def test_ric_standard_examples_validate(value: str) -> None:
    assert validate("cn_ric", value) == value
    assert ric_check_digit(value[:17]) == value[17]


def test_ric_standard_examples_decode() -> None:
    assert ric_birth_date("11010519491231002X") == date(1949, 12, 31)
    assert ric_sex("11010519491231002X") == "female"
    assert ric_birth_date("440524188001010014") == date(1880, 1, 1)
    assert ric_sex("440524188001010014") == "male"


def test_make_ric_reproduces_standard_examples() -> None:
    assert make_ric("110105", date(1949, 12, 31), 2) == "11010519491231002X"
    assert make_ric("440524", date(1880, 1, 1), 1) == "440524188001010014"


@pytest.mark.parametrize("value", VALID_USCC)
def test_published_usccs_validate(value: str) -> None:
    assert validate("uscc", value) == value
    assert uscc_check_character(value[:17]) == value[17]
    assert org_code_check_character(value[8:16]) == value[16]


def test_uscc_standard_worked_example() -> None:
    assert uscc_check_character("91350100M000100Y4") == "3"
    with pytest.raises(IdentifierError) as excinfo:
        validate("uscc", "91350100M000100Y4Z")
    assert reason(excinfo) == "check character (position 18) is 'Z', expected '3'"


def test_make_uscc_reproduces_published_codes() -> None:
    assert make_uscc("9", "1", "350100", "M000100Y") == USCC_STANDARD_EXAMPLE
    assert make_uscc("9", "1", "440300", "19220382") == USCC_HUAWEI
    assert make_uscc("9", "2", "371000", "MA3MXH0E") == "92371000MA3MXH0E3W"


def test_check_character_edge_values() -> None:
    # MOD 31: a sum divisible by 31 gives 31 - 0 = 31, which the standard maps to 0.
    assert uscc_check_character("0" * 17) == "0"
    # GB 11714: 11 - (sum mod 11) is 11 -> '0' and 10 -> 'X'.
    assert org_code_check_character("00000000") == "0"
    assert org_code_check_character("40000000") == "X"  # 4 * 3 = 12, 12 mod 11 = 1
    # GB 11714 values letters A=10 ... Z=35 (J is 19, unlike the USCC's 18).
    assert org_code_check_character("M0001TGQ") == "X"


def test_pilot_code_with_wrong_final_check_is_refused() -> None:
    # Some codes issued in Fujian pilot areas before GB 32100-2015 carry a final character
    # that does not satisfy it (noted in aarioai/id-rule chinese_org_id.go). The
    # organisation code is fine; the registry refuses the code and says why.
    assert org_code_check_character("M0001TGQ") == "X"
    with pytest.raises(IdentifierError) as excinfo:
        validate("uscc", "91350100M0001TGQXM")
    assert reason(excinfo) == "check character (position 18) is 'M', expected '1'"


# --- mutations: every single-character change is refused -----------------------------


@pytest.mark.parametrize("value", VALID_USCC)
def test_every_single_character_change_of_a_uscc_is_refused(value: str) -> None:
    alphabet = USCC_CHARSET + "IOSVZ*"
    for position in range(18):
        for ch in alphabet:
            if ch == value[position]:
                continue
            mutated = value[:position] + ch + value[position + 1 :]
            with pytest.raises(IdentifierError):
                validate("uscc", mutated)


@pytest.mark.parametrize("value", RIC_STANDARD_EXAMPLES)
def test_every_single_character_change_of_a_ric_is_refused(value: str) -> None:
    for position in range(18):
        for ch in string.digits + "XA*":
            if ch == value[position]:
                continue
            mutated = value[:position] + ch + value[position + 1 :]
            with pytest.raises(IdentifierError):
                validate("cn_ric", mutated)


def test_transposition_of_adjacent_characters_is_refused() -> None:
    value = USCC_HUAWEI
    for i in range(17):
        if value[i] == value[i + 1]:
            continue
        swapped = value[:i] + value[i + 1] + value[i] + value[i + 2 :]
        with pytest.raises(IdentifierError):
            validate("uscc", swapped)


# --- precise reasons -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("cn_ric", "", "is empty"),
        ("cn_ric", "   ", "is empty"),
        ("cn_ric", "11010519491231002", "must be 18 characters, got 17"),
        ("cn_ric", "11010519491231002X1", "must be 18 characters, got 19"),
        ("uscc", "91350100M000100Y4", "must be 18 characters, got 17"),
        ("uscc", "91350100M000100Y433", "must be 18 characters, got 19"),
        (
            "cn_ric",
            "1101A519491231002X",
            "illegal character 'A' at position 5 (positions 1-17 must be digits)",
        ),
        (
            "cn_ric",
            "11010519491231002Y",
            "illegal character 'Y' at position 18 (the check digit is 0-9 or X)",
        ),
        (
            "cn_ric",
            "110105194912310021",
            "check digit (position 18) is '1', expected 'X'",
        ),
        (
            "uscc",
            "91350100M000100I43",
            "illegal character 'I' at position 16"
            " (allowed: digits and capital letters except I, O, S, V and Z)",
        ),
        (
            "uscc",
            "913501A0M000100Y43",
            "illegal character 'A' at position 7"
            " (positions 3-8 are the division code, digits only)",
        ),
        (
            "uscc",
            "91350100M000100Y53",
            "organisation code check character (position 17) is '5', expected '4' (GB 11714)",
        ),
        (
            "uscc",
            "91350100M000100Y4\u200b",
            "check character (position 18) is '\\u200b' (U+200B), expected '3'",
        ),
    ],
)
def test_reasons_say_exactly_what_is_wrong(kind: str, value: str, expected: str) -> None:
    with pytest.raises(IdentifierError) as excinfo:
        validate(kind, value)
    assert reason(excinfo) == expected
    assert excinfo.value.field == kind


def _ric_with_date(digits8: str) -> str:
    first17 = "110105" + digits8 + "001"
    return first17 + ric_check_digit(first17)


@pytest.mark.parametrize(
    ("digits8", "expected"),
    [
        ("19990230", "birth date 19990230 (positions 7-14) is not a real date"),
        ("19991301", "birth date 19991301 (positions 7-14) is not a real date"),
        ("19990100", "birth date 19990100 (positions 7-14) is not a real date"),
        ("19000229", "birth date 19000229 (positions 7-14) is not a real date"),
        ("20230229", "birth date 20230229 (positions 7-14) is not a real date"),
        ("17991231", "birth date 17991231 (positions 7-14) is before 1800"),
        ("00000000", "birth date 00000000 (positions 7-14) is not a real date"),
    ],
)
def test_impossible_birth_dates_are_refused(digits8: str, expected: str) -> None:
    # The check digit is right, so only the date can be the reason.
    with pytest.raises(IdentifierError) as excinfo:
        validate("cn_ric", _ric_with_date(digits8))
    assert reason(excinfo) == expected


@pytest.mark.parametrize("digits8", ["20000229", "20240229", "18000101", "19491231"])
def test_real_birth_dates_are_accepted(digits8: str) -> None:
    value = _ric_with_date(digits8)
    assert validate("cn_ric", value) == value


def test_errors_name_the_field() -> None:
    with pytest.raises(IdentifierError) as excinfo:
        validate("uscc", "91350100M000100Y4Z", field="rows[3].subject_id")
    assert excinfo.value.field == "rows[3].subject_id"
    assert str(excinfo.value).startswith("rows[3].subject_id: ")
    with pytest.raises(IdentifierError) as excinfo:
        validate("passport", "x", field="holder_id")
    assert excinfo.value.field == "holder_id"


def test_non_text_value_is_refused() -> None:
    with pytest.raises(IdentifierError) as excinfo:
        validate("cn_ric", 110105194912310021)  # type: ignore[arg-type]
    assert reason(excinfo) == "must be text, got int"


# --- normalisation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "raw", "expected"),
    [
        ("cn_ric", "11010519491231002x", "11010519491231002X"),
        ("cn_ric", "  110105 19491231 002X\t", "11010519491231002X"),
        ("cn_ric", "110105-19491231-002X", "11010519491231002X"),
        ("cn_ric", "１１０１０５１９４９１２３１００２ｘ", "11010519491231002X"),
        ("uscc", "91350100m000100y43", "91350100M000100Y43"),
        ("uscc", "9135 0100 M000 100Y 43", "91350100M000100Y43"),
        ("uscc", "91350100-M000100Y4-3", "91350100M000100Y43"),
        ("uscc", "\u3000９１３５０１００Ｍ０００１００Ｙ４３\u3000", "91350100M000100Y43"),
        ("uscc", "91350100\uff0dM000100Y43", "91350100M000100Y43"),  # full-width hyphen
    ],
)
def test_normalisation(kind: str, raw: str, expected: str) -> None:
    assert validate(kind, raw) == expected


def test_full_width_letter_outside_the_charset_is_still_refused() -> None:
    with pytest.raises(IdentifierError) as excinfo:
        validate("uscc", "91350100Ｏ000100Y43")
    assert "illegal character 'O' at position 9" in reason(excinfo)


# --- generic kinds -------------------------------------------------------------------

PATTERNS = {"passport": r"[EG]\d{8}", "hk_id": r"[A-Z]{1,2}\d{6}\([0-9A]\)"}


def test_generic_pattern_normalises_and_matches() -> None:
    assert validate("passport", " e12345678 ", patterns=PATTERNS) == "E12345678"
    assert validate("passport", "Ｅ１２３４５６７８", patterns=PATTERNS) == "E12345678"
    assert validate("hk_id", "a123456(7)", patterns=PATTERNS) == "A123456(7)"


def test_generic_pattern_keeps_internal_separators() -> None:
    # Only the built-in kinds know that spaces and hyphens are decoration.
    with pytest.raises(IdentifierError) as excinfo:
        validate("passport", "E1234-5678", patterns=PATTERNS)
    assert reason(excinfo) == r"'E1234-5678' does not match the passport pattern [EG]\d{8}"


def test_generic_pattern_must_match_whole_value() -> None:
    with pytest.raises(IdentifierError):
        validate("passport", "E123456789", patterns=PATTERNS)
    with pytest.raises(IdentifierError) as excinfo:
        validate("passport", "  ", patterns=PATTERNS)
    assert reason(excinfo) == "is empty"


def test_unknown_kind_lists_known_kinds() -> None:
    with pytest.raises(IdentifierError) as excinfo:
        validate("ssn", "078-05-1120")
    assert reason(excinfo) == "unknown identifier kind 'ssn'; known kinds: cn_ric, uscc"
    with pytest.raises(IdentifierError) as excinfo:
        validate("ssn", "078-05-1120", patterns=PATTERNS)
    assert reason(excinfo) == (
        "unknown identifier kind 'ssn'; known kinds: cn_ric, hk_id, passport, uscc"
    )


def test_builtin_kinds_ignore_patterns() -> None:
    loose = {"uscc": r".*", "cn_ric": r".*"}
    with pytest.raises(IdentifierError):
        validate("uscc", "91350100M000100Y4Z", patterns=loose)
    with pytest.raises(IdentifierError):
        validate("cn_ric", "anything", patterns=loose)


# --- helpers -------------------------------------------------------------------------


def test_subject_kind_for() -> None:
    assert subject_kind_for("uscc") is SubjectKind.ORGANISATION
    assert subject_kind_for("cn_ric") is SubjectKind.PERSON
    assert subject_kind_for("passport") is None
    assert frozenset({"uscc", "cn_ric"}) == BUILTIN_KINDS


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: make_uscc("9", "1", "35010", "M000100Y"), "uscc.division"),
        (lambda: make_uscc("9", "1", "35010A", "M000100Y"), "uscc.division"),
        (lambda: make_uscc("9", "1", "350100", "M000100"), "uscc.org_code"),
        (lambda: make_uscc("9", "1", "350100", "M000100O"), "uscc.org_code"),
        (lambda: make_uscc("91", "1", "350100", "M000100Y"), "uscc"),
        (lambda: make_uscc("I", "1", "350100", "M000100Y"), "uscc"),
        (lambda: make_ric("11010", date(1990, 1, 1), 1), "cn_ric.division"),
        (lambda: make_ric("110105", date(1799, 1, 1), 1), "cn_ric.birth_date"),
        (lambda: make_ric("110105", date(1990, 1, 1), 1000), "cn_ric.sequence"),
        (lambda: make_ric("110105", date(1990, 1, 1), -1), "cn_ric.sequence"),
        (lambda: uscc_check_character("91350100M000100"), "uscc"),
        (lambda: ric_check_digit("1101051949123100X"), "cn_ric"),
        (lambda: org_code_check_character("M00010*Y"), "org_code"),
        (lambda: ric_birth_date("11010519491231002Y"), "cn_ric"),
    ],
)
def test_helpers_refuse_bad_parts(call: object, field: str) -> None:
    assert callable(call)
    with pytest.raises(IdentifierError) as excinfo:
        call()
    assert excinfo.value.field == field


def test_public_module_reexports_domain() -> None:
    assert identifiers.__all__ == domain_identifiers.__all__
    for name in identifiers.__all__:
        assert getattr(identifiers, name) is getattr(domain_identifiers, name)


# --- properties ----------------------------------------------------------------------

uscc_char = st.sampled_from(USCC_CHARSET)
digits = st.text(alphabet=string.digits, min_size=6, max_size=6)


@given(
    authority=uscc_char,
    category=uscc_char,
    division=digits,
    org=st.text(alphabet=USCC_CHARSET, min_size=8, max_size=8),
)
def test_make_uscc_always_validates(authority: str, category: str, division: str, org: str) -> None:
    code = make_uscc(authority, category, division, org)
    assert len(code) == 18
    assert validate("uscc", code) == code
    assert validate("uscc", code.lower()) == code
    assert subject_kind_for("uscc") is SubjectKind.ORGANISATION


@given(
    division=digits,
    born=st.dates(min_value=date(1800, 1, 1), max_value=date(9999, 12, 31)),
    sequence=st.integers(min_value=0, max_value=999),
)
def test_make_ric_always_validates(division: str, born: date, sequence: int) -> None:
    code = make_ric(division, born, sequence)
    assert validate("cn_ric", code) == code
    assert ric_birth_date(code) == born
    assert ric_sex(code) == ("male" if sequence % 2 else "female")


@given(st.text(max_size=40))
def test_validate_is_idempotent_on_generic_kinds(raw: str) -> None:
    patterns = {"anything": r"(?s).+"}
    try:
        once = validate("anything", raw, patterns=patterns)
    except IdentifierError:
        return
    assert validate("anything", once, patterns=patterns) == once


@given(st.text(alphabet=USCC_CHARSET + "ioszv -\u3000", max_size=22))
def test_validate_is_idempotent_on_builtin_kinds(raw: str) -> None:
    for kind in ("uscc", "cn_ric"):
        try:
            once = validate(kind, raw)
        except IdentifierError:
            continue
        assert validate(kind, once) == once
