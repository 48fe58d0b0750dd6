"""Benchmark: the HTTP service's decisions over loopback, beside its trivial endpoint.

    .venv/bin/python bench/api.py [--subjects 10000] [--workers 1[,2...]] [--rounds 3]
                                  [--duration 10] [--connections 16]
                                  [--db PATH | --pg URL [--audit-key PATH]]

SQLite (the default): builds a demo database once (``trustledger demo --no-serve``) at
``var/bench/api-SUBJECTS.db`` (or ``--db PATH``) and keeps it for later runs.

PostgreSQL: ``--pg URL`` (``postgresql+psycopg://USER@HOST:PORT/DB``) uses that database,
building the demo in it when it holds no subjects. The audit log's signing key is
``--audit-key`` (default ``var/bench/pg-audit-key.pem``, created with the database): the
database pins its public key, so keep the file as long as the database. On a throwaway
PostgreSQL 15 server (``scripts/with-postgres`` starts it, runs the command, deletes it):

    scripts/with-postgres sh -c '.venv/bin/python bench/api.py --pg "$TRUSTLEDGER_TEST_PG" --workers 2'

Then it creates a relying-party key with a rate far above the load and, for each
``--workers`` count (``--workers 1,2`` measures both on the same database), starts
``trustledger serve`` on a free loopback port and drives it with ``wrk`` (a real HTTP load
generator, in its own process), alternating for ``--rounds`` rounds:

* raw reference: ``GET /v1/health`` of the same server (async, no key, no database);
* ``POST /v1/decisions``: a relying party asks about a random existing subject; each
  decision reads the subject's file, scores it, stores the decision and appends a signed
  audit event (Merkle leaf + Ed25519 signature), in one transaction.

Prints medians over the rounds of requests/s and of wrk's p50 and p99 latency, the ratio
decisions / trivial, the audit log's size before and after, and ``trustledger audit
verify`` on the log after the load. The server's log is kept in ``var/bench/`` (its last
warnings and errors are printed). Goal (the HTTP service issue): decisions at least 0.5
of the trivial endpoint's throughput, with p99 under 20 ms at that load, audit log on.
Nothing here asserts a timing: the figures are for people to read.

Needs ``wrk`` (Debian/Ubuntu: ``apt-get install -y wrk``).
"""  # noqa: E501 (the one-liner above)

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, ClassVar

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from trustledger.service.audit import KEY_ENV
from trustledger.store.engine import open_engine, resolve_url

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "policies" / "example-city.toml"
LUA = Path(__file__).resolve().parent / "wrk"
VAR = ROOT / "var" / "bench"
#: The venv's console script, beside this interpreter (run the bench with .venv/bin/python).
TRUSTLEDGER = Path(sys.executable).with_name("trustledger")
#: Far above anything one machine serves: the rate limiter must not shape the load.
KEY_RATE = 1_000_000
GOAL_RATIO = 0.5
GOAL_P99_MS = 20.0


# -- the database --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogSize:
    events: int
    decisions: int
    audit_bytes: int | None  # the audit tables and their indexes; None: no dbstat


class Database:
    """The database under load: how ``trustledger`` reaches it, where the bench keeps its
    files, and the SQL the report reads from it."""

    #: (audit events, decisions stored)
    counts_sql: ClassVar[str]
    #: bytes of the audit log's tables and indexes
    audit_bytes_sql: ClassVar[str]
    #: extra arguments of ``trustledger demo``
    demo_args: ClassVar[tuple[str, ...]] = ()

    def __init__(self, url: str, label: str, name: str, workdir: Path) -> None:
        self.url = url  # what ``trustledger --db`` gets
        self.label = label  # for people: which database
        self.name = name  # prefix of the server logs in var/bench/
        self.workdir = workdir  # the demo's provider files
        #: Environment of every trustledger command and of the server; None: this one's.
        self.env: dict[str, str] | None = None

    def row(self, sql: str) -> tuple[Any, ...]:
        raise NotImplementedError

    def must_build(self, rebuild: bool) -> bool:
        raise NotImplementedError

    def clear(self) -> None:
        """Make room for a fresh demo."""

    def audit_bytes(self) -> int | None:
        size = self.row(self.audit_bytes_sql)[0]
        return None if size is None else int(size)

    def log_size(self) -> LogSize:
        events, decisions = self.row(self.counts_sql)
        return LogSize(int(events), int(decisions), self.audit_bytes())

    def subject_ids(self) -> tuple[int, int, int]:
        """(first id, last id, count) of the subjects; (0, 0, 0) when there are none."""
        lo, hi, n = self.row("SELECT min(id), max(id), count(*) FROM subjects")
        return (int(lo), int(hi), int(n)) if n else (0, 0, 0)


class Sqlite(Database):
    counts_sql = (
        "SELECT (SELECT coalesce(max(size), 0) FROM audit_state), (SELECT count(*) FROM decisions)"
    )
    audit_bytes_sql = (
        "SELECT sum(d.pgsize) FROM dbstat d JOIN sqlite_master m ON d.name = m.name "
        "WHERE m.tbl_name IN ('audit_events', 'audit_nodes', 'audit_state')"
    )
    demo_args = ("--reset",)

    def __init__(self, path: Path) -> None:
        super().__init__(
            str(path), f"SQLite {path}", path.stem, path.parent / f"{path.stem}-providers"
        )
        self.path = path

    def row(self, sql: str) -> tuple[Any, ...]:
        con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        try:
            return tuple(con.execute(sql).fetchone())
        finally:
            con.close()

    def audit_bytes(self) -> int | None:
        try:
            return super().audit_bytes()
        except sqlite3.OperationalError:  # SQLite built without the dbstat table
            return None

    def must_build(self, rebuild: bool) -> bool:
        return rebuild or not self.path.exists()

    def clear(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm", ".audit-key.pem"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)


class Postgres(Database):
    counts_sql = "SELECT (SELECT count(*) FROM audit_events), (SELECT count(*) FROM decisions)"
    audit_bytes_sql = (
        "SELECT pg_total_relation_size('audit_events') + pg_total_relation_size('audit_nodes')"
    )

    def __init__(self, url: str, key: Path) -> None:
        shown = make_url(url).render_as_string(hide_password=True)
        super().__init__(url, f"PostgreSQL {shown}", "pg", VAR / "pg-providers")
        try:
            version = str(self.row("SHOW server_version")[0]).split()[0]  # 15.8 (Debian ...)
        except SQLAlchemyError as exc:
            sys.exit(f"cannot reach {shown}: {exc}")
        self.label = f"PostgreSQL {version} {shown}"
        self.key = key
        self.env = {**os.environ, KEY_ENV: str(key)}

    def row(self, sql: str) -> tuple[Any, ...]:
        engine = open_engine(self.url)
        try:
            with engine.connect() as conn:
                return tuple(conn.execute(text(sql)).one())
        finally:
            engine.dispose()

    def must_build(self, rebuild: bool) -> bool:
        # `trustledger demo` refuses a database that holds subjects: build in an empty one.
        if self.row("SELECT to_regclass('subjects') IS NULL")[0] or not self.subject_ids()[2]:
            return True
        if not self.key.exists():
            print(
                f"{self.label} already holds subjects, but its audit key {self.key} is "
                "missing (the database pinned the key its log is signed with): pass "
                "--audit-key with that key's file, or use an empty database",
                file=sys.stderr,
            )
            sys.exit(2)
        return False


def trustledger(db: Database, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the ``trustledger`` command on ``db`` from the repository root."""
    return subprocess.run(
        [str(TRUSTLEDGER), "--db", db.url, *args],
        cwd=ROOT,
        env=db.env,
        check=check,
        capture_output=True,
        text=True,
    )


def build(db: Database, subjects: int) -> None:
    """A fresh demo of ``subjects`` subjects in ``db`` (and its audit key, when missing)."""
    db.clear()
    t0 = time.perf_counter()
    done = trustledger(
        db,
        "demo",
        "--subjects",
        str(subjects),
        *db.demo_args,
        "--no-serve",
        "--workdir",
        str(db.workdir),
        "--policy",
        str(POLICY),
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"building {db.label} failed:\n{done.stderr}{done.stdout}")
    print(
        f"built {db.label}: {subjects:,} subjects in {time.perf_counter() - t0:.1f} s "
        "(trustledger demo --no-serve)"
    )


# -- the server ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@contextmanager
def server(db: Database, *, workers: int, log: Path) -> Iterator[str]:
    """``trustledger serve`` on a free loopback port, until the block ends (even on
    Ctrl-C or SIGTERM). Yields its base URL."""
    port = free_port()
    args = [
        str(TRUSTLEDGER),
        "--db",
        db.url,
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--rate-limit",
        str(KEY_RATE),
    ]
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        # Its own session: uvicorn's worker processes go down with it, and the terminal's
        # Ctrl-C reaches only this script, which then stops the server itself.
        proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env=db.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def on_term(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                sys.exit(f"the server exited with {proc.returncode}:\n{log.read_text()}")
            try:
                if get(f"{base}/v1/health", timeout=1)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                sys.exit(f"the server did not answer /v1/health in 60 s:\n{log.read_text()}")
            time.sleep(0.1)
        yield base
    finally:
        stop(proc)
        signal.signal(signal.SIGTERM, previous)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGINT, 15), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


# -- the load ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Run:
    """One wrk run, from the line bench/wrk/report.lua prints."""

    requests: int
    seconds: float
    non2xx: int
    socket_errors: int
    timeouts: int
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @classmethod
    def parse(cls, stdout: str) -> Run:
        for line in stdout.splitlines():
            if line.startswith("WRK_RESULT "):
                d: dict[str, Any] = json.loads(line.removeprefix("WRK_RESULT "))
                return cls(
                    requests=d["requests"],
                    seconds=d["duration_us"] / 1e6,
                    non2xx=d["non2xx"],
                    socket_errors=d["connect_errors"] + d["read_errors"] + d["write_errors"],
                    timeouts=d["timeouts"],
                    p50_ms=d["p50_us"] / 1000,
                    p99_ms=d["p99_us"] / 1000,
                )
        raise RuntimeError(f"no WRK_RESULT line in wrk's output:\n{stdout}")


def wrk(url: str, script: str, args: argparse.Namespace, seconds: float, *extra: str) -> Run:
    cmd = [
        "wrk",
        f"--threads={args.threads}",
        f"--connections={args.connections}",
        f"--duration={seconds:g}s",
        f"--timeout={args.timeout:g}s",
        f"--script={LUA / script}",
        url,
    ]
    if extra:
        cmd += ["--", *extra]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return Run.parse(done.stdout)


def first_error(base: str, token: str, body: dict[str, Any]) -> str:
    """One decision request by hand: its status and body, to show what went wrong."""
    req = urllib.request.Request(
        f"{base}/v1/decisions",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return f"{r.status} {r.read().decode(errors='replace')[:500]}"
    except urllib.error.HTTPError as exc:
        return f"{exc.code} {exc.read().decode(errors='replace')[:500]}"
    except OSError as exc:
        return f"no answer: {exc}"


@dataclass(frozen=True, slots=True)
class Target:
    """What every decision request needs: the relying party's key and the subjects."""

    token: str
    first: int
    last: int
    measure: str
    purpose: str

    def lua_args(self) -> tuple[str, ...]:
        return (str(self.first), str(self.last), self.token, self.measure, self.purpose)

    def sample(self) -> dict[str, Any]:
        return {"subject": self.first, "measure": self.measure, "purpose": self.purpose}


@dataclass(frozen=True, slots=True)
class Load:
    """The rounds against one server, and the audit log around them."""

    workers: int
    health: list[Run]
    decisions: list[Run]
    before: LogSize
    after: LogSize
    log: Path

    def median(self, runs: list[Run], attr: str) -> float:
        return statistics.median(float(getattr(r, attr)) for r in runs)

    @property
    def ratio(self) -> float:
        return self.median(self.decisions, "rate") / self.median(self.health, "rate")


def drive(db: Database, target: Target, args: argparse.Namespace, workers: int) -> Load:
    """Start a server of ``workers`` processes and alternate wrk on both endpoints."""
    health: list[Run] = []
    decisions: list[Run] = []
    log = VAR / f"{db.name}-server-w{workers}.log"
    lua_args = target.lua_args()
    try:
        with server(db, workers=workers, log=log) as base:
            check = first_error(base, target.token, target.sample())
            if not check.startswith("201 "):
                print(f"\n!!! a decision by hand did not answer 201: {check}\n")
            before = db.log_size()
            if args.warmup > 0:
                wrk(f"{base}/v1/health", "report.lua", args, args.warmup)
                wrk(f"{base}/v1/decisions", "decisions.lua", args, args.warmup, *lua_args)
            for i in range(args.rounds):
                health.append(wrk(f"{base}/v1/health", "report.lua", args, args.duration))
                decisions.append(
                    wrk(f"{base}/v1/decisions", "decisions.lua", args, args.duration, *lua_args)
                )
                h, d = health[-1], decisions[-1]
                print(
                    f"  round {i + 1}: health {h.rate:8,.0f} req/s, p50 {h.p50_ms:6.2f} ms, "
                    f"p99 {h.p99_ms:7.2f} ms | decisions {d.rate:7,.0f} req/s, "
                    f"p50 {d.p50_ms:7.2f} ms, p99 {d.p99_ms:8.2f} ms"
                    + (f", {d.non2xx:,} non-2xx" if d.non2xx else "")
                    + (f", {d.timeouts:,} timeouts" if d.timeouts else "")
                )
            failed = sum(r.non2xx + r.socket_errors for r in health + decisions)
            if failed:
                print(
                    f"\n!!! {failed:,} requests failed (non-2xx or socket errors); a decision "
                    f"by hand now answers: {first_error(base, target.token, target.sample())}"
                )
    except KeyboardInterrupt:
        print("\ninterrupted: the server is stopped")
        sys.exit(130)
    return Load(workers, health, decisions, before, db.log_size(), log)


# -- the report ----------------------------------------------------------------------------


def mb(n: int | None) -> str:
    return "size unknown (no dbstat)" if n is None else f"{n / 1e6:,.1f} MB"


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def report(db: Database, load: Load, args: argparse.Namespace) -> None:
    health, decisions = load.health, load.decisions
    rd, p99d = load.median(decisions, "rate"), load.median(decisions, "p99_ms")
    print(f"\nmedian of {args.rounds} rounds, {args.connections} connections:")
    print(f"  {'endpoint':<20}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>9}")
    for name, runs in (("GET /v1/health", health), ("POST /v1/decisions", decisions)):
        print(
            f"  {name:<20}{load.median(runs, 'rate'):>10,.0f}"
            f"{load.median(runs, 'p50_ms'):>10.2f}{load.median(runs, 'p99_ms'):>10.2f}"
            f"{sum(r.non2xx for r in runs):>9,}"
        )
    timeouts = sum(r.timeouts for r in decisions)
    if timeouts:
        print(
            f"  ({timeouts:,} decisions took longer than --timeout {args.timeout:g} s: "
            "wrk leaves them out of its latencies)"
        )
    print(f"  decisions / trivial endpoint: {load.ratio:.3f}")
    print(
        f"goal: decisions >= {GOAL_RATIO} x the trivial endpoint's throughput: "
        f"{'met' if load.ratio >= GOAL_RATIO else 'NOT met'} ({load.ratio:.3f})"
    )
    print(
        f"goal: decisions p99 < {GOAL_P99_MS:g} ms at that load ({rd:,.0f} req/s, "
        f"{args.connections} connections): "
        f"{'met' if p99d < GOAL_P99_MS and not timeouts else 'NOT met'} ({p99d:.2f} ms)"
    )

    before, after = load.before, load.after
    added = after.events - before.events
    print(
        f"\naudit log: {before.events:,} events, {mb(before.audit_bytes)} before; "
        f"{after.events:,} events, {mb(after.audit_bytes)} after "
        f"(+{added:,} events; +{after.decisions - before.decisions:,} decisions stored, "
        f"{sum(d.requests for d in decisions):,} decision answers counted by wrk in the "
        "rounds, plus the warm-up)"
    )
    if before.audit_bytes is not None and after.audit_bytes is not None and added:
        print(f"  {(after.audit_bytes - before.audit_bytes) / added:,.0f} bytes per event")
    t0 = time.perf_counter()
    verified = trustledger(db, "audit", "verify", check=False)
    took = time.perf_counter() - t0
    lines = (verified.stdout.strip() or verified.stderr.strip() or "(no output)").splitlines()
    print(
        f"audit verify ({took:.1f} s): {lines[0]}"
        if verified.returncode == 0
        else f"\n!!! audit verify FAILED (exit {verified.returncode}): {lines[0]}"
    )
    server_log = load.log.read_text(errors="replace").strip().splitlines()
    problems = [ln for ln in server_log if "Serving " not in ln]
    if problems:
        print(f"\nserver log {load.log} ({len(problems)} lines), last 20:")
        print("\n".join(f"  {ln}" for ln in problems[-20:]))
    print(f"load average {load_average()} ({os.cpu_count()} CPUs; wrk and the server share them)")


def compare(loads: list[Load]) -> None:
    """One line per worker count, when there are several."""
    print("\nmedians by server processes:")
    print(
        f"  {'workers':>7}{'health req/s':>14}{'decisions req/s':>17}{'p50 ms':>9}"
        f"{'p99 ms':>9}{'ratio':>8}{'non-2xx':>9}"
    )
    for load in loads:
        d = load.decisions
        print(
            f"  {load.workers:>7}{load.median(load.health, 'rate'):>14,.0f}"
            f"{load.median(d, 'rate'):>17,.0f}{load.median(d, 'p50_ms'):>9.2f}"
            f"{load.median(d, 'p99_ms'):>9.2f}{load.ratio:>8.3f}"
            f"{sum(r.non2xx for r in load.health + d):>9,}"
        )


# -- the command ---------------------------------------------------------------------------


def worker_counts(value: str) -> list[int]:
    try:
        counts = [int(v) for v in value.split(",")]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: write a count, or counts like 1,2")
    return counts


def parse_args() -> tuple[argparse.Namespace, Database]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--subjects", type=int, default=10_000, help="demo subjects (default 10,000)"
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--db",
        type=Path,
        default=None,
        help="SQLite demo database to use (built there if missing) "
        "[default: var/bench/api-SUBJECTS.db]",
    )
    where.add_argument(
        "--pg",
        metavar="URL",
        default=None,
        help="PostgreSQL database to use instead, e.g. $TRUSTLEDGER_TEST_PG of "
        "scripts/with-postgres (the demo is built in it if it holds no subjects)",
    )
    parser.add_argument(
        "--audit-key",
        type=Path,
        metavar="PATH",
        default=None,
        help="with --pg: the audit log's signing key, created with the database and "
        "needed as long as it lives [default: var/bench/pg-audit-key.pem]",
    )
    parser.add_argument("--rebuild", action="store_true", help="build the SQLite database afresh")
    parser.add_argument(
        "--workers",
        type=worker_counts,
        metavar="N[,N...]",
        default=[1],
        help="server processes (default 1; try 2), or several counts to measure one "
        "after the other on the same database: 1,2",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating rounds of both endpoints (default 3)"
    )
    parser.add_argument(
        "--duration", type=float, default=10, help="seconds per wrk run (default 10)"
    )
    parser.add_argument(
        "--warmup", type=float, default=2, help="seconds of each endpoint first, not counted"
    )
    parser.add_argument(
        "--connections", type=int, default=16, help="wrk's open connections (default 16)"
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk's threads (default 2)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=10,
        help="wrk's request timeout in seconds; slower answers count as timeouts and are "
        "left out of its latencies (default 10)",
    )
    parser.add_argument("--measure", default="loan_rate_review", help="measure to ask about")
    parser.add_argument("--purpose", default="credit_assessment", help="purpose to state")
    args = parser.parse_args()
    if args.rounds < 1 or args.duration <= 0:
        parser.error("--rounds must be at least 1, --duration positive")
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads (wrk's rule)")
    if args.pg is None:
        if args.audit_key is not None:
            parser.error("--audit-key goes with --pg (a SQLite database keeps its key beside it)")
        return args, Sqlite((args.db or VAR / f"api-{args.subjects}.db").resolve())
    if args.rebuild:
        parser.error("--rebuild only rebuilds SQLite; give --pg an empty database instead")
    url = resolve_url(args.pg)
    if make_url(url).get_backend_name() != "postgresql":
        parser.error(f"--pg {args.pg}: not a PostgreSQL URL (postgresql+psycopg://...)")
    return args, Postgres(url, (args.audit_key or VAR / "pg-audit-key.pem").resolve())


def main() -> None:
    args, db = parse_args()
    if not TRUSTLEDGER.exists():
        sys.exit(f"no {TRUSTLEDGER}: run this with the project's .venv/bin/python")
    if shutil.which("wrk") is None:
        print(
            "bench/api.py needs wrk, an HTTP load generator. Install it with\n"
            "    sudo apt-get install -y wrk        (Debian, Ubuntu)\n"
            "    brew install wrk                   (macOS)\n"
            "or build it from https://github.com/wg/wrk and put it on PATH.",
            file=sys.stderr,
        )
        sys.exit(2)

    if db.must_build(args.rebuild):
        build(db, args.subjects)
    first, last, n = db.subject_ids()
    if not n:
        sys.exit(f"{db.label} holds no subjects: build it with --rebuild (or another --db)")
    if last - first + 1 != n:
        print(f"warning: subject ids {first}..{last} have gaps; some requests will be 404")
    made = trustledger(
        db,
        "keys",
        "create",
        "--role",
        "relying_party",
        "--measures",
        args.measure,
        "--rate",
        str(KEY_RATE),
        "--label",
        "bench/api.py",
        check=False,
    )
    if made.returncode != 0 or not made.stdout.strip():
        sys.exit(f"cannot create a relying-party key on {db.label}:\n{made.stderr}{made.stdout}")
    target = Target(made.stdout.strip().splitlines()[-1], first, last, args.measure, args.purpose)

    loads: list[Load] = []
    for workers in args.workers:
        if loads:
            print()
        print(
            f"{n:,} subjects in {db.label}; server: {workers} worker(s); wrk: "
            f"{args.threads} threads, {args.connections} connections, "
            f"{args.duration:g} s per run, {args.rounds} rounds; {os.cpu_count()} CPUs, "
            f"load average {load_average()}"
        )
        loads.append(drive(db, target, args, workers))
        report(db, loads[-1], args)
    if len(loads) > 1:
        compare(loads)


if __name__ == "__main__":
    main()
