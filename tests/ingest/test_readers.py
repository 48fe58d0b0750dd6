"""Readers: encodings (GB18030, UTF-8 with and without a BOM) and delimiters detected or
declared, JSON Lines and Parquet, in chunks, with every problem at its line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trustledger.ingest.readers import Chunk, detect_delimiter, detect_encoding, open_reader


def rows_of(chunks: list[Chunk]) -> list[tuple[int, dict[str, str]]]:
    out = []
    for chunk in chunks:
        for i, line in enumerate(chunk.lines):
            out.append((line, {k: v[i] for k, v in chunk.columns.items()}))
    return out


TEXT = "案号;被执行人;金额\n（2025）粤03执123号;李娜;1.5\n（2025）粤03执124号;王伟;2\n"


@pytest.mark.parametrize(
    ("encoding", "data", "detected"),
    [
        ("gb18030", TEXT.encode("gb18030"), "gb18030"),
        ("utf-8", TEXT.encode("utf-8"), "utf-8"),
        ("utf-8 with BOM", b"\xef\xbb\xbf" + TEXT.encode("utf-8"), "utf-8-sig"),
    ],
)
def test_encodings_are_detected(tmp_path: Path, encoding: str, data: bytes, detected: str) -> None:
    path = tmp_path / "court.csv"
    path.write_bytes(data)
    reader = open_reader(path, fmt="csv")
    assert (reader.encoding, reader.delimiter) == (detected, ";")
    assert reader.header == ["案号", "被执行人", "金额"]  # no BOM left on the first column
    assert rows_of(list(reader.chunks(10))) == [
        (2, {"案号": "（2025）粤03执123号", "被执行人": "李娜", "金额": "1.5"}),
        (3, {"案号": "（2025）粤03执124号", "被执行人": "王伟", "金额": "2"}),
    ]
    assert reader.problems == []


def test_a_declared_encoding_wins_and_bad_bytes_name_their_line(tmp_path: Path) -> None:
    path = tmp_path / "court.csv"
    # Line 3 was pasted in from a GB18030 file into a UTF-8 one.
    path.write_bytes("a,b\n1,李娜\n".encode() + "2,王伟\n".encode("gb18030") + "3,赵敏\n".encode())
    reader = open_reader(path, fmt="csv", encoding="utf-8")
    rows = rows_of(list(reader.chunks(10)))
    assert [line for line, _ in rows] == [2, 4]
    assert [str(p) for p in reader.problems] == [
        f"{path}:3:-: not valid utf-8 (byte 3 of the line): save the file as UTF-8, or "
        "declare its encoding"
    ]


def test_delimiters() -> None:
    assert detect_delimiter("a,b,c") == ","
    assert detect_delimiter("a\tb\tc") == "\t"
    # The ; inside quotes does not count, and a tie goes to the comma.
    assert detect_delimiter('"a;b";c,d') == ","
    assert detect_delimiter('"a,b";c;d') == ";"
    assert detect_delimiter("a|b|c") == "|"
    assert detect_delimiter("single") == ","


def test_detection_of_encodings_from_bytes() -> None:
    assert detect_encoding(b"reference,note\n") == "utf-8"
    assert detect_encoding("编号;金额\nA-1;12\n".encode("gb18030")) == "gb18030"
    # A sample that ends inside a UTF-8 character is still UTF-8.
    assert detect_encoding("名字".encode()[:-1]) == "utf-8"


def test_tab_separated_and_chunks(tmp_path: Path) -> None:
    path = tmp_path / "x.tsv"
    path.write_text("a\tb\n" + "".join(f"{i}\tv{i}\n" for i in range(5)), encoding="utf-8")
    reader = open_reader(path, fmt="csv")
    chunks = list(reader.chunks(2))
    assert [len(c) for c in chunks] == [2, 2, 1]
    assert [c.lines for c in chunks] == [[2, 3], [4, 5], [6]]
    assert reader.rows == 5


def test_quoted_newlines_keep_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text('a,b\n1,"two\nlines"\n2,x\n\n3,y\n', encoding="utf-8")
    reader = open_reader(path, fmt="csv")
    rows = rows_of(list(reader.chunks(10)))
    assert [line for line, _ in rows] == [2, 4, 6]
    assert [str(p) for p in reader.problems] == [
        f"{path}:2:b: the value runs over 2 lines: check for an unbalanced quote"
    ]


def test_jsonl_nested_objects_are_flattened_for_mappings(tmp_path: Path) -> None:
    path = tmp_path / "bank.jsonl"
    path.write_text(
        '{"id": "L-1", "customer": {"name": "李娜", "phone": "138"}, "vip": true}\n'
        "\n"
        '{"id": "L-2", "tags": ["a"]}\n'
        "{oops\n",
        encoding="utf-8",
    )
    reader = open_reader(path, fmt="jsonl")
    rows = rows_of(list(reader.chunks(10)))
    assert rows == [
        (1, {"id": "L-1", "customer.name": "李娜", "customer.phone": "138", "vip": "true"}),
        (3, {"id": "L-2", "customer.name": "", "customer.phone": "", "vip": ""}),
    ]
    assert [str(p) for p in reader.problems] == [
        f"{path}:3:tags: must be a string or a number",
        f"{path}:4:-: not valid JSON: Expecting property name enclosed in double quotes (column 2)",
    ]
    native = open_reader(path, fmt="jsonl", native=True)
    list(native.chunks(10))
    assert f"{path}:1:customer: must be a string or a number" in [str(p) for p in native.problems]


def test_parquet_columns_become_strings_row_by_row(tmp_path: Path) -> None:
    path = tmp_path / "food.parquet"
    table = pa.table(
        {
            "id": ["F-1", "F-2", None],
            "day": pa.array([date(2026, 1, 2), date(2026, 2, 3), None], type=pa.date32()),
            "fine": pa.array([1500, None, 20], type=pa.int64()),
        }
    )
    pq.write_table(table, path, row_group_size=2)
    reader = open_reader(path, fmt="parquet")
    assert reader.header == ["id", "day", "fine"]
    rows = rows_of(list(reader.chunks(2)))
    assert rows == [
        (1, {"id": "F-1", "day": "2026-01-02", "fine": "1500"}),
        (2, {"id": "F-2", "day": "2026-02-03", "fine": ""}),
        (3, {"id": "", "day": "", "fine": "20"}),
    ]


def test_a_file_that_is_not_parquet(tmp_path: Path) -> None:
    path = tmp_path / "food.parquet"
    path.write_text("id,day\n", encoding="utf-8")
    reader = open_reader(path, fmt="parquet")
    assert list(reader.chunks(10)) == []
    (problem,) = reader.problems
    assert str(problem).startswith(f"{path}:0:-: cannot read the file as Parquet")
