"""Benchmark: ingest a 1,000,000-row CSV through validation, mapping and storage.

    .venv/bin/python bench/ingest.py [--rows 1000000] [--subjects 100000] [--repeat 3]
    scripts/with-postgres .venv/bin/python bench/ingest.py    # SQLite and PostgreSQL

Writes (once, kept under var/bench/) a bank's CSV in its own layout: its own column names,
event codes, dates as ``20260315`` and amounts in fen, read through a mapping file, with
``--rows`` rows about ``--subjects`` persons (valid resident identity numbers). Then, on
SQLite and, when ``TRUSTLEDGER_TEST_PG`` (or ``--pg``) names one, on PostgreSQL, each run in
a fresh process on a fresh database (so the peak memory, ``ru_maxrss``, is the run's own):

* ``ingest``: ``ingest_file`` as ``trustledger ingest`` runs it (read in chunks, map, check,
  create the subjects, store the records and their first versions, one transaction), the
  audit log left out as ``bench/score.py`` leaves it out;
* raw reference, the same rows stored: the records and record versions that ingest stores,
  built in memory beforehand, inserted into the same tables (same indexes) with the
  driver's ``executemany`` (SQLite) or ``COPY`` (PostgreSQL) in one transaction, with the
  SQLite page cache ingest uses; the subjects are inserted before the clock starts;
* raw reference, the driver's top speed: the CSV's rows, as strings, into one table with
  the CSV's columns and no index, the same way.

Prints medians over ``--repeat`` runs and the ratio of ingest's rate to each raw rate. Goal
(issue #4): at least 0.3 of the raw rate; peak memory under 1 GB.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from random import Random
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "policies" / "example-city.toml"
NOW = datetime(2026, 6, 30, 23, 0, tzinfo=UTC)
HEADER = ["流水号", "客户姓名", "证件类型", "证件号码", "事件", "日期", "金额（分）", "产品"]
EVENTS = {"M1": "loan_overdue_30d", "M3": "loan_default_90d", "CARD": "credit_card_overdue",
          "OK": "loan_repaid_on_time"}  # fmt: skip
MAPPING = """
[mapping]
provider = "city_commercial_bank"
format = "csv"
encoding = "utf-8"

[fields]
reference = "流水号"
subject_name = "客户姓名"
subject_id = "证件号码"
subject_id_kind = { column = "证件类型", codes = { "01" = "cn_ric" } }
valid_from = { column = "日期", date_format = "%Y%m%d" }
amount = { column = "金额（分）", unit = "fen" }
note = "产品"

[fields.record_type]
column = "事件"
codes.M1 = "loan_overdue_30d"
codes.M3 = "loan_default_90d"
codes.CARD = "credit_card_overdue"
codes.OK = "loan_repaid_on_time"
"""
RAW_COLUMNS = ("reference", "name", "id_kind", "id_no", "event", "day", "amount_fen", "product")


def make_file(path: Path, rows: int, subjects: int) -> None:
    from trustledger.identifiers import make_ric

    rnd = Random(4)
    people = []
    for n in range(subjects):
        born = date(1950, 1, 1) + timedelta(days=rnd.randrange(20000))
        name = rnd.choice("王李张刘陈杨黄赵吴周") + rnd.choice(
            "伟芳娜敏静丽强磊军洋"
        ) * rnd.randint(1, 2)
        people.append((name, make_ric("440305", born, n % 1000)))
    days = [(date(2021, 7, 1) + timedelta(days=d)).strftime("%Y%m%d") for d in range(1825)]
    codes = ["OK"] * 6 + ["M1"] * 2 + ["CARD", "M3"]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    with tmp.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(HEADER)
        for i in range(rows):
            name, ric = people[rnd.randrange(subjects)]
            w.writerow(
                [
                    f"CCB-{i:09d}",
                    name,
                    "01",
                    ric,
                    rnd.choice(codes),
                    rnd.choice(days),
                    rnd.randint(100, 10_000_000),
                    rnd.choice(("card", "mortgage", "consumer")),
                ]
            )
    tmp.rename(path)


def fresh_engine(url: str) -> Any:
    from sqlalchemy import text

    from trustledger.service.policies import install_policy
    from trustledger.store import migrate
    from trustledger.store.engine import open_engine, sqlite_file

    path = sqlite_file(url)
    if path is not None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    else:
        engine = open_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    engine = open_engine(url)
    migrate.upgrade(engine)
    install_policy(engine, POLICY, now=NOW)
    return engine


def run_ingest(url: str, file: Path, mapping: Path) -> dict[str, Any]:
    from trustledger.service.ingest import ingest_file

    engine = fresh_engine(url)
    t0 = time.perf_counter()
    report = ingest_file(engine, file, provider="city_commercial_bank", now=NOW, mapping=mapping)
    seconds = time.perf_counter() - t0
    assert report.created == report.rows, report
    return {"seconds": seconds, "rows": report.rows, "subjects": report.new_subjects}


def _stored_rows(
    conn: Any, file: Path
) -> tuple[list[Any], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """What ingest stores for ``file``: subject drafts, records and first versions, as the
    store writes them (built before the clock starts)."""
    from decimal import Decimal

    from trustledger.domain.subject import Identifier, SubjectKind
    from trustledger.store import batches as b
    from trustledger.store.subjects import SubjectDraft

    at = b.stored_instant(conn, NOW)
    day, money = b.stored_day(conn), b.stored_amount(conn)
    drafts: dict[str, SubjectDraft] = {}
    rows: list[tuple[str, str, str, date, Decimal, str]] = []
    with file.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        for ref, name, _kind, ric, event, when, fen, product in reader:
            if ric not in drafts:
                drafts[ric] = SubjectDraft(
                    SubjectKind.PERSON, name, "city_commercial_bank", (Identifier("cn_ric", ric),)
                )
            valid = date(int(when[:4]), int(when[4:6]), int(when[6:]))
            rows.append((ref, ric, EVENTS[event], valid, Decimal(fen) / 100, product))
    return list(drafts.values()), [(at, day, money)], rows  # type: ignore[list-item]


def run_raw(url: str, file: Path) -> dict[str, Any]:
    """The records and versions ingest would store, inserted into the same tables."""
    from trustledger.store import batches as b
    from trustledger.store import subjects as subject_store
    from trustledger.store.tables import record_versions, records

    engine = fresh_engine(url)
    with engine.begin() as conn:
        drafts, ((at, day, money),), parsed = _stored_rows(conn, file)
        sids = subject_store.insert_subjects(conn, drafts, now=NOW)
        subject = {d.identifiers[0].value: s for d, s in zip(drafts, sids, strict=True)}
    from trustledger.store.ids import allocate_ids

    with engine.begin() as conn:
        ids = allocate_ids(conn, records, len(parsed))
        recs = [(rid, "city_commercial_bank", r[0], at) for rid, r in zip(ids, parsed, strict=True)]
        versions = [
            (rid, 1, "create", subject[r[1]], r[2], "city_commercial_bank", day(r[3]), None, at,
             money(r[4]), r[5], "bench", None)
            for rid, r in zip(ids, parsed, strict=True)
        ]  # fmt: skip
    del parsed
    with engine.connect() as conn, b.bulk_cache(conn):  # the page cache ingest uses
        t0 = time.perf_counter()
        with conn.begin():
            b.bulk_insert(conn, records, ("id", "provider", "reference", "created_at"), recs)
            b.bulk_insert(
                conn,
                record_versions,
                ("record_id", "version", "action", "subject_id", "record_type", "provider",
                 "valid_from", "valid_to", "recorded_at", "amount", "note", "batch",
                 "repaired_on"),
                versions,
            )  # fmt: skip
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "rows": len(recs)}


def run_flat(url: str, file: Path) -> dict[str, Any]:
    """The CSV's rows as strings into one table without indexes."""
    from sqlalchemy import Column, MetaData, Table, Text

    from trustledger.store import batches as b

    engine = fresh_engine(url)
    flat = Table("bench_flat", MetaData(), *(Column(c, Text) for c in RAW_COLUMNS))
    flat.create(engine)
    with file.open(encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        next(reader)
        rows = [tuple(r) for r in reader]
    with engine.connect() as conn, b.bulk_cache(conn):
        t0 = time.perf_counter()
        with conn.begin():
            b.bulk_insert(conn, flat, RAW_COLUMNS, rows)
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "rows": len(rows)}


def child(kind: str, url: str, file: Path, mapping: Path) -> None:
    result = {"ingest": lambda: run_ingest(url, file, mapping),
              "raw": lambda: run_raw(url, file),
              "flat": lambda: run_flat(url, file)}[kind]()  # fmt: skip
    # ru_maxrss is in KiB on Linux.
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def measure(kind: str, url: str, file: Path, mapping: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--url", url, "--file", str(file),
         "--mapping", str(mapping)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg", default=os.environ.get("TRUSTLEDGER_TEST_PG"))
    parser.add_argument("--dir", type=Path, default=ROOT / "var" / "bench")
    parser.add_argument("--only", choices=("sqlite", "postgresql"), default=None)
    parser.add_argument("--child", choices=("ingest", "raw", "flat"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--mapping", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.url, args.file, args.mapping)
        return

    file = args.dir / f"bank-{args.rows}.csv"
    mapping = args.dir / "bank-mapping.toml"
    if not file.exists():
        t0 = time.perf_counter()
        make_file(file, args.rows, args.subjects)
        print(
            f"wrote {file} ({file.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.0f} s"
        )
    mapping.write_text(MAPPING, encoding="utf-8")
    targets = []
    if args.only in (None, "sqlite"):
        targets.append(("SQLite", f"sqlite:///{args.dir / 'ingest-bench.db'}"))
    if args.pg and args.only in (None, "postgresql"):
        targets.append(("PostgreSQL", args.pg))
    for name, url in targets:
        runs: dict[str, list[dict[str, Any]]] = {"ingest": [], "raw": [], "flat": []}
        for _ in range(args.repeat):
            for kind in runs:
                runs[kind].append(measure(kind, url, file, mapping))
        rows = runs["ingest"][0]["rows"]

        def rate(kind: str) -> float:
            return rows / statistics.median(r["seconds"] for r in runs[kind])  # noqa: B023

        ingest_rate, raw_rate, flat_rate = rate("ingest"), rate("raw"), rate("flat")
        peak = max(r["peak_mb"] for r in runs["ingest"])
        seconds = sorted(round(r["seconds"], 1) for r in runs["ingest"])
        subjects = runs["ingest"][0]["subjects"]
        print(f"\n{name}: {rows:,} rows, {subjects:,} subjects, medians of {args.repeat} "
              "runs, each in a fresh process on a fresh database")  # fmt: skip
        runs_text = ", ".join(f"{s} s" for s in seconds)
        print(f"  ingest (map, check, store):        {ingest_rate:>10,.0f} rows/s  "
              f"(runs: {runs_text}; peak memory {peak:,.0f} MB)")  # fmt: skip
        print(f"  raw, same rows into the same tables: {raw_rate:>8,.0f} rows/s  "
              f"ratio {ingest_rate / raw_rate:.2f}")  # fmt: skip
        print(f"  raw, strings into one flat table:    {flat_rate:>8,.0f} rows/s  "
              f"ratio {ingest_rate / flat_rate:.2f}")  # fmt: skip
        print(f"  goal: ratio >= 0.3 to the raw rate, peak memory < 1 GB: "
              f"{'met' if ingest_rate / raw_rate >= 0.3 and peak < 1024 else 'not met'} "
              "(against the same tables)")  # fmt: skip


if __name__ == "__main__":
    main()
