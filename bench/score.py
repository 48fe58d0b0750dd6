"""Benchmark: score 100,000 subjects with about 2 million records on SQLite.

    .venv/bin/python bench/score.py [--subjects 100000] [--repeat 3] [--db var/bench/score.db]

Builds the database once (synthetic population -> provider files -> ingest, the same path
as ``trustledger demo``) and keeps it for later runs. Then, each in a fresh process so the
peak memory is its own:

* raw reference: read every record version with the plain ``sqlite3`` module, no
  SQLAlchemy, no objects, no scoring (the floor for any scoring that reads the store);
* ``score_all``: the real thing, as ``trustledger score`` runs it (read, evaluate, store).

Prints medians over ``--repeat`` runs and the ratio to the raw reference. Goal (issue #3):
the whole scoring run under 60 s on the 2-core reference machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "policies" / "example-city.toml"
AS_OF = "2026-06-30"


def build(db: Path, subjects: int) -> None:
    from trustledger.service.ingest import ingest_file
    from trustledger.service.policies import install_policy
    from trustledger.store import migrate
    from trustledger.store.engine import open_engine
    from trustledger.synth.population import generate, write_provider_files

    db.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    now = datetime(2026, 6, 30, 23, 0, tzinfo=UTC)
    engine = open_engine(f"sqlite:///{db}")
    migrate.upgrade(engine)
    install_policy(engine, POLICY, now=now)
    t0 = time.perf_counter()
    population = generate(subjects, seed=1, as_of=now.date())
    t1 = time.perf_counter()
    files = write_provider_files(population, db.parent / f"files-{subjects}")
    t2 = time.perf_counter()
    for provider, path in sorted(files.items()):
        ingest_file(engine, path, provider=provider, now=now)
    t3 = time.perf_counter()
    n = len(population.records)
    print(
        f"built {db}: {subjects:,} subjects, {n:,} records; generate {t1 - t0:.1f} s, "
        f"write files {t2 - t1:.1f} s, ingest {t3 - t2:.1f} s ({n / (t3 - t2):,.0f} rows/s)"
    )
    engine.dispose()


def child_raw(db: Path) -> dict[str, float]:
    import sqlite3

    t0 = time.perf_counter()
    con = sqlite3.connect(db)
    n = 0
    cur = con.execute(
        "SELECT record_id, version, subject_id, record_type, valid_from, "
        "valid_to, action FROM record_versions ORDER BY subject_id"
    )
    while rows := cur.fetchmany(20_000):
        n += len(rows)
    return {"seconds": time.perf_counter() - t0, "records": n}


def child_score(db: Path) -> dict[str, float]:
    from datetime import date

    from trustledger.service.scoring import score_all
    from trustledger.store.engine import open_engine

    engine = open_engine(f"sqlite:///{db}")
    now = datetime.now(UTC)
    t0 = time.perf_counter()
    summary = score_all(engine, as_of=date.fromisoformat(AS_OF), known_at=now, now=now)
    return {
        "seconds": time.perf_counter() - t0,
        "records": summary.run.records,
        "subjects": summary.run.subjects,
    }


def peak_rss_mb() -> float:
    """This process's own peak resident set size.

    Not ``getrusage().ru_maxrss``: Linux carries that across ``exec``, so a child would
    report the peak of the parent that built the database.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(kind: str, db: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--db", str(db)],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db", type=Path, default=None)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--child", choices=["raw", "score"])
    args = parser.parse_args()
    db = args.db or ROOT / "var" / "bench" / f"score-{args.subjects}.db"
    if args.child:
        result = child_raw(db) if args.child == "raw" else child_score(db)
        result["max_rss_mb"] = peak_rss_mb()
        print(json.dumps(result))
        return
    if args.rebuild or not db.exists():
        build(db, args.subjects)
    raws, scores = [], []
    for i in range(args.repeat):
        raws.append(run_child("raw", db))
        scores.append(run_child("score", db))
        print(
            f"  run {i + 1}: raw read {raws[-1]['seconds']:.2f} s, "
            f"score_all {scores[-1]['seconds']:.2f} s, "
            f"peak RSS {scores[-1]['max_rss_mb']:.0f} MB"
        )
    raw_s = statistics.median(r["seconds"] for r in raws)
    score_s = statistics.median(s["seconds"] for s in scores)
    n_rec, n_sub = scores[0]["records"], scores[0]["subjects"]
    peak = statistics.median(s["max_rss_mb"] for s in scores)
    print(f"\nSQLite, {n_sub:,.0f} subjects, {n_rec:,.0f} records, median of {args.repeat}:")
    print(
        f"  raw sqlite3 read of all record versions: {raw_s:6.2f} s "
        f"({n_rec / raw_s:>10,.0f} records/s), peak RSS "
        f"{statistics.median(r['max_rss_mb'] for r in raws):.0f} MB"
    )
    print(
        f"  trustledger score (read+evaluate+store): {score_s:6.2f} s "
        f"({n_rec / score_s:>10,.0f} records/s, {n_sub / score_s:,.0f} subjects/s), "
        f"peak RSS {peak:.0f} MB"
    )
    print(
        f"  ratio score / raw read: {score_s / raw_s:.1f}x; goal: under 60 s "
        f"({'met' if score_s < 60 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
