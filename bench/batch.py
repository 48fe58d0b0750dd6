"""Benchmark: rescore a population of 1,000,000 subjects (about 20 million records) with
each batch engine, beside a bare DuckDB aggregate over the same Parquet.

    .venv/bin/python bench/batch.py [--subjects 1000000] [--repeat 3]
                                    [--engines duckdb,spark] [--dir var/bench/batch-1000000]

Writes the population once (``trustledger demo --out``'s generator, seed 1) and keeps it.
Then, each in a fresh process so that its peak memory is its own:

* floor: a bare DuckDB aggregate, the sum of each subject's points (record type joined to
  its points) over the same Parquet: what any engine must at least read and group;
* each engine's whole rescore: decay, expiry, caps, bounds, grades and every list rule,
  with the results fetched as Arrow tables (nothing is written to a store).

Prints medians over ``--repeat`` runs and ratios. Goals (issue #8) on the 2-core
reference machine: DuckDB within 3x of the floor, the whole rescore under 60 s, peak memory
under 4 GB, Spark local within 10x of DuckDB.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "policies" / "example-city.toml"
AS_OF = date(2026, 6, 30)


def build(directory: Path, subjects: int) -> None:
    from trustledger.policy.load import load_policy
    from trustledger.synth.columnar import PolicyFacts, write_population

    facts = PolicyFacts.of(load_policy(POLICY).policy)
    t0 = time.perf_counter()
    summary = write_population(directory, subjects, seed=1, as_of=AS_OF, facts=facts)
    seconds = time.perf_counter() - t0
    print(
        f"wrote {directory}: {summary.subjects:,} subjects, {summary.records:,} records "
        f"in {seconds:.1f} s ({summary.records / seconds:,.0f} records/s)"
    )


def _hwm_mb(pid: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    """The peak resident set size (VmHWM; ru_maxrss survives exec on Linux) of this
    process plus its children still running: Spark's JVM is one."""
    total = _hwm_mb("self")
    me = str(Path("/proc/self").resolve().name)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if fields[1] == me:
                total += _hwm_mb(stat.parent.name)
        except (OSError, IndexError):
            continue
    return total


def child_floor(directory: Path) -> dict[str, float]:
    import duckdb

    from trustledger.policy.load import load_policy

    policy = load_policy(POLICY).policy
    t0 = time.perf_counter()
    con = duckdb.connect()
    points = ", ".join(
        f"('{name}', {int(rt.points * 100)})" for name, rt in policy.record_types.items()
    )
    rows = con.sql(
        f"""
        SELECT r.subject_id, SUM(p.cents) AS cents
        FROM read_parquet('{directory}/records/*.parquet') r
        JOIN (VALUES {points}) p(record_type, cents) ON p.record_type = r.record_type
        GROUP BY r.subject_id
        """
    ).to_arrow_table()
    n = con.execute(
        f"SELECT COUNT(*) FROM read_parquet('{directory}/records/*.parquet')"
    ).fetchone()
    assert n is not None
    return {"seconds": time.perf_counter() - t0, "groups": rows.num_rows, "records": n[0]}


def child_engine(name: str, directory: Path) -> dict[str, float]:
    from trustledger.batch import ParquetSource, engine
    from trustledger.policy.load import load_policy

    policy = load_policy(POLICY).policy
    t0 = time.perf_counter()
    with engine(name) as eng:
        started = time.perf_counter()
        result = eng.score(
            ParquetSource(directory), policy, as_of=AS_OF, policy_version="example-city"
        )
        job = time.perf_counter() - started
        peak = peak_rss_mb()  # before close(): Spark's JVM is still a child
    return {
        "seconds": time.perf_counter() - t0,
        "job_seconds": job,
        "records": result.record_count,
        "subjects": result.subject_count,
        "list_entries": result.lists.num_rows,
        "max_rss_mb": peak,
    }


def run_child(kind: str, directory: Path) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--dir", str(directory)],
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subjects", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--engines", default="duckdb,spark")
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--child", default=None)
    args = parser.parse_args()
    directory = args.dir or ROOT / "var" / "bench" / f"batch-{args.subjects}"
    if args.child:
        if args.child == "floor":
            result = child_floor(directory)
        else:
            result = child_engine(args.child, directory)
        result.setdefault("max_rss_mb", peak_rss_mb())
        print(json.dumps(result))
        return
    if not (directory / "records").exists():
        build(directory, args.subjects)
    engines = [e for e in args.engines.split(",") if e]
    runs: dict[str, list[dict[str, float]]] = {"floor": [], **{e: [] for e in engines}}
    for i in range(args.repeat):
        line = []
        for kind in runs:
            runs[kind].append(run_child(kind, directory))
            line.append(f"{kind} {runs[kind][-1]['seconds']:.1f} s")
        print(f"  run {i + 1}: " + ", ".join(line), flush=True)

    def median(kind: str, key: str = "seconds") -> float:
        return statistics.median(r[key] for r in runs[kind])

    n = runs["floor"][0]["records"]
    floor = median("floor")
    print(f"\n{n:,.0f} records, median of {args.repeat} (each run in a fresh process):")
    print(
        f"  floor: bare DuckDB sum of points by subject  {floor:7.2f} s "
        f"({n / floor:>12,.0f} records/s), peak RSS {median('floor', 'max_rss_mb'):,.0f} MB"
    )
    for kind in engines:
        s = median(kind)
        print(
            f"  {kind:6s} engine, whole rescore             {s:7.2f} s "
            f"({n / s:>12,.0f} records/s), peak RSS {median(kind, 'max_rss_mb'):,.0f} MB "
            f"(job alone {median(kind, 'job_seconds'):.2f} s); {s / floor:.1f}x the floor; "
            f"{runs[kind][0]['list_entries']:,.0f} list entries"
        )
    if "duckdb" in engines:
        d = median("duckdb")
        print(
            f"  goals: duckdb within 3x of the floor: {d / floor:.1f}x; "
            f"under 60 s: {d:.1f} s; peak under 4 GB: {median('duckdb', 'max_rss_mb'):,.0f} MB"
        )
        if "spark" in engines:
            print(f"  spark / duckdb: {median('spark') / d:.1f}x (goal: within 10x)")


if __name__ == "__main__":
    main()
