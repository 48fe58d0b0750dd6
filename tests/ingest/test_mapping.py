"""Mapping files: every mistake in one is named as MAPPING:LINE:KEY.PATH, and a mapping
turns a provider's columns, codes and units into our fields."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from trustledger.ingest.check import Layout, RowChecker
from trustledger.ingest.mapping import (
    NATIVE,
    MappingError,
    fact_key,
    load_mapping,
    parse_mapping,
)
from trustledger.ingest.readers import Chunk
from trustledger.policy.load import load_policy

from .conftest import ALICE, COURT_MAPPING

POLICY = load_policy(Path(__file__).resolve().parents[2] / "policies" / "example-city.toml").policy
TODAY = date(2026, 6, 30)


def problems_of(text: str) -> list[str]:
    with pytest.raises(MappingError) as caught:
        parse_mapping(text, file="m.toml")
    return [str(p) for p in caught.value.problems]


def test_a_mapping_reads_columns_codes_units_and_dates() -> None:
    m = parse_mapping(COURT_MAPPING, file="court.toml")
    assert m.provider == "intermediate_court" and m.format == "csv"
    assert m.fields["amount"].unit == "wan_yuan"
    assert m.fields["record_type"].codes == {
        "全部未履行": "court_judgment_unfulfilled",
        "迟延履行": "court_judgment_fulfilled_late",
    }
    assert m.dedupe_kind == "judgment" and m.dedupe_columns == ("案号",)
    assert m.ignore == {"承办法官"}
    assert m.sha256 is not None and len(m.sha256) == 64


def test_every_mistake_names_the_file_line_and_key() -> None:
    text = (
        "[mapping]\n"  # 1
        'provider = "bank"\n'  # 2
        'format = "xlsx"\n'  # 3
        'encoding = "klingon"\n'  # 4
        "\n"  # 5
        "[fields.refrence]\n"  # 6
        'column = "id"\n'  # 7
        "\n"  # 8
        "[fields.amount]\n"  # 9
        'column = "amt"\n'  # 10
        'unit = "dollars"\n'  # 11
        "\n"  # 12
        "[fields.valid_from]\n"  # 13
        'column = "day"\n'  # 14
        'date_format = "%H:%M"\n'  # 15
        "\n"  # 16
        "[fields.note]\n"  # 17
        'column = "n"\n'  # 18
        'value = "x"\n'  # 19
        'colour = "red"\n'  # 20
    )
    found = problems_of(text)
    assert found == [
        "m.toml:3:mapping.format: unknown format 'xlsx'; use csv, jsonl, parquet",
        "m.toml:4:mapping.encoding: unknown encoding 'klingon'; use auto, utf-8, utf-8-sig, "
        "gb18030 (or another codec name)",
        "m.toml:6:fields.refrence: unknown field 'refrence' (did you mean 'reference'?); the "
        "fields: reference, action, subject_id_kind, subject_id, subject_name, record_type, "
        "valid_from, valid_to, amount, note, subject_kind, birth_date, address, phone",
        "m.toml:6:fields: missing [fields.reference]: the provider's own id of a record",
        "m.toml:11:fields.amount.unit: unknown unit 'dollars'; use yuan, jiao, fen, "
        "thousand_yuan, wan_yuan",
        "m.toml:15:fields.valid_from.date_format: '%H:%M' does not read back a date it writes: "
        'use strptime codes such as %Y, %m and %d (e.g. "%Y年%m月%d日" or "%d/%m/%Y")',
        "m.toml:17:fields.note: give exactly one of column (the provider's column) or value "
        "(a constant)",
        "m.toml:20:fields.note.colour: unknown key 'colour' (did you mean 'column'?); known "
        "keys: column, value, codes, default, unit, date_format",
    ]


def test_syntax_errors_and_a_missing_provider_name_their_line() -> None:
    assert problems_of('[mapping]\nprovider = "bank"\n[fields.reference\n') == [
        "m.toml:3:-: TOML syntax error: Expected ']' at the end of a table declaration"
    ]
    assert problems_of('[fields.reference]\ncolumn = "id"\n') == [
        "m.toml:1:mapping: missing required key 'provider': the provider this mapping is for"
    ]


def test_a_mapping_file_that_is_missing_or_not_utf8(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match=r"nope.toml:1:-: cannot read the mapping file"):
        load_mapping(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_bytes('[mapping]\nprovider = "银行"\n'.encode("gb18030"))
    with pytest.raises(MappingError, match=r"bad.toml:2:-: the mapping file is not UTF-8"):
        load_mapping(bad)


def test_the_dedupe_key_is_normalised() -> None:
    # Full-width brackets, spaces and case do not make two keys of one case number.
    assert fact_key("judgment", ("（2025）粤03执 123号",)) == fact_key(
        "judgment", ("(2025)粤03执123号",)
    )
    assert fact_key("judgment", ("ab", "c d")) == "judgment:AB|CD"
    assert fact_key("judgment", ("",)) is None


def chunk(columns: dict[str, list[str]], first_line: int = 2) -> Chunk:
    n = len(next(iter(columns.values())))
    return Chunk(list(range(first_line, first_line + n)), columns)


def test_columns_the_mapping_names_must_be_in_the_file_and_others_mapped() -> None:
    m = parse_mapping(COURT_MAPPING, file="court.toml")
    header = ["案号", "被执行人", "证件类型", "证件号码", "履行情况", "生效日期", "法院"]
    layout = Layout(m, "court.csv", header)
    line = COURT_MAPPING.splitlines().index('column = "执行标的（万元）"') + 1
    assert [str(p) for p in layout.problems] == [
        f"court.toml:{line}:fields.amount.column: column '执行标的（万元）' is not in court.csv "
        "(its columns: 案号, 被执行人, 证件类型, 证件号码, 履行情况, 生效日期, 法院)",
        "court.csv:1:法院: column '法院' is not in the mapping court.toml: map it under "
        "[fields] or list it in [mapping] ignore",
    ]


def test_unknown_codes_name_the_row_the_column_and_the_mapping_line() -> None:
    m = parse_mapping(COURT_MAPPING, file="court.toml")
    header = [
        "案号",
        "被执行人",
        "证件类型",
        "证件号码",
        "履行情况",
        "生效日期",
        "执行标的（万元）",
    ]
    layout = Layout(m, "court.csv", header + ["承办法官"])
    assert layout.problems == []
    data = {h: ["x", "y"] for h in header}
    data["履行情况"] = ["全部未履行", "全部末履行"]  # a typo of the provider's own code
    data["证件类型"] = ["居民身份证", "居民身份证"]
    mapped = layout.apply(chunk(data))
    line = COURT_MAPPING.index("[fields.record_type]")
    line = COURT_MAPPING[:line].count("\n") + 1
    assert [str(p) for p in mapped.problems] == [
        f"court.csv:3:履行情况: unknown code '全部末履行' for record_type: the mapping "
        f"(court.toml:{line}, fields.record_type.codes) knows '全部未履行', '迟延履行'"
    ]
    assert mapped.values["record_type"][0] == "court_judgment_unfulfilled"
    assert mapped.bad == {1}


def check(mapping_text: str, columns: dict[str, list[str]]) -> tuple[list[str], object]:
    m = parse_mapping(mapping_text, file="m.toml")
    layout = Layout(m, "f.csv", list(columns))
    assert layout.problems == []
    checker = RowChecker(provider="city_commercial_bank", policy=POLICY, today=TODAY, mapping=m)
    checked = checker.check(layout.apply(chunk(columns)))
    return [str(p) for p in checked.problems], checked


BANK = """
[mapping]
provider = "city_commercial_bank"
[fields]
reference = "ref"
subject_id_kind = { value = "cn_ric" }
subject_id = "id"
subject_name = "name"
valid_from = { column = "day", date_format = "%d/%m/%Y" }
amount = { column = "amt", unit = "fen" }

[fields.record_type]
column = "type"
codes = { OD30 = "loan_overdue_30d", CC = "credit_card_overdue", FARE = "fare_evasion" }
"""


def test_units_dates_and_grants_through_a_mapping() -> None:
    problems, checked = check(
        BANK,
        {
            "ref": ["A", "B", "C", "D"],
            "id": [ALICE] * 4,
            "name": ["李娜"] * 4,
            "type": ["OD30", "CC", "FARE", "OD30"],
            "day": ["01/03/2026", "02/03/2026", "03/03/2026", "2026-03-04"],
            "amt": ["120050", "5", "100", "12.5"],
        },
    )
    assert problems == [
        "f.csv:4:type: record type 'fare_evasion' is not granted to provider "
        "'city_commercial_bank'; it may submit: loan_overdue_30d, loan_default_90d, "
        "credit_card_overdue, loan_repaid_on_time",
        "f.csv:5:day: '2026-03-04' is not a date: write '%d/%m/%Y' (the mapping's date_format)",
        "f.csv:5:amt: '12.5' fen (0.125 yuan) has more than two decimals of a yuan",
    ]
    assert checked.amount[:2] == [Decimal("1200.50"), Decimal("0.05")]  # type: ignore[attr-defined]
    assert checked.valid_from[0] == date(2026, 3, 1)  # type: ignore[attr-defined]


def test_the_native_format_is_a_mapping_too() -> None:
    layout = Layout(NATIVE, "x.csv", ["reference", "record_type", "colour"])
    assert [str(p) for p in layout.problems] == [
        "x.csv:1:colour: unknown column 'colour'; known columns: reference, action, "
        "subject_id_kind, subject_id, subject_name, record_type, valid_from, valid_to, "
        "amount, note",
        "x.csv:1:valid_from: required column 'valid_from' is missing from the header",
        "x.csv:1:subject_id_kind: required column 'subject_id_kind' is missing from the header",
        "x.csv:1:subject_id: required column 'subject_id' is missing from the header",
    ]
