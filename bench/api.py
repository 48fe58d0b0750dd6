"""Benchmark: the HTTP service's decisions over loopback, beside its trivial endpoint.

    .venv/bin/python bench/api.py [--subjects 10000] [--workers 1] [--rounds 3]
                                  [--duration 10] [--connections 16] [--db PATH]

Builds a demo database once (``trustledger demo --no-serve``, or the same use case from
Python when this ``demo`` has no such flag) in ``var/bench/`` and keeps it for later
runs. Creates a relying-party key with a rate far above the load, starts ``trustledger
serve`` on a free loopback port, and drives it with ``wrk`` (a real HTTP load generator,
in its own process), alternating for ``--rounds`` rounds:

* raw reference: ``GET /v1/health`` of the same server (async, no key, no database);
* ``POST /v1/decisions``: a relying party asks about a random existing subject; each
  decision reads the subject's file, scores it, stores the decision and appends a signed
  audit event (Merkle leaf + Ed25519 signature), in one transaction.

Prints medians over the rounds of requests/s and of wrk's p50 and p99 latency, the ratio
decisions / trivial, the audit log's size before and after, and ``trustledger audit
verify`` on the log after the load. Goal (the HTTP service issue): decisions at least 0.5
of the trivial endpoint's throughput, with p99 under 20 ms at that load, audit log on.
Nothing here asserts a timing: the figures are for people to read.

Needs ``wrk`` (Debian/Ubuntu: ``apt-get install -y wrk``).
"""

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
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "policies" / "example-city.toml"
LUA = Path(__file__).resolve().parent / "wrk"
#: The venv's console script, beside this interpreter (run the bench with .venv/bin/python).
TRUSTLEDGER = Path(sys.executable).with_name("trustledger")
#: Far above anything one machine serves: the rate limiter must not shape the load.
KEY_RATE = 1_000_000
GOAL_RATIO = 0.5
GOAL_P99_MS = 20.0


def trustledger(db: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the ``trustledger`` command on ``db`` from the repository root."""
    return subprocess.run(
        [str(TRUSTLEDGER), "--db", str(db), *args],
        cwd=ROOT,
        check=check,
        capture_output=True,
        text=True,
    )


# -- the database --------------------------------------------------------------------------


def build(db: Path, subjects: int) -> None:
    """A fresh demo database of ``subjects`` subjects at ``db`` (and its audit key)."""
    db.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", ".audit-key.pem"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    workdir = db.parent / f"{db.stem}-providers"
    t0 = time.perf_counter()
    if "--no-serve" in trustledger(db, "demo", "--help").stdout:
        how = "trustledger demo --no-serve"
        done = trustledger(
            db,
            "demo",
            "--subjects",
            str(subjects),
            "--reset",
            "--no-serve",
            "--workdir",
            str(workdir),
            "--policy",
            str(POLICY),
            check=False,
        )
        if done.returncode != 0:
            sys.exit(f"building {db} failed:\n{done.stderr}{done.stdout}")
    else:  # a `demo` that always ends by serving: call its use case directly
        from trustledger.service.demo import run_demo
        from trustledger.store.engine import open_engine

        how = "trustledger init + service.demo.run_demo (this demo has no --no-serve)"
        trustledger(db, "init", "--policy", str(POLICY))
        engine = open_engine(f"sqlite:///{db}")
        now = datetime.now(UTC)
        run_demo(
            engine,
            policy_path=POLICY,
            workdir=workdir,
            n_subjects=subjects,
            seed=42,
            as_of=now.date(),
            now=now,
        )
        engine.dispose()
    print(f"built {db}: {subjects:,} subjects in {time.perf_counter() - t0:.1f} s ({how})")


@dataclass(frozen=True, slots=True)
class LogSize:
    events: int
    decisions: int
    audit_bytes: int | None  # pages of the audit tables and their indexes; None: no dbstat


def log_size(db: Path) -> LogSize:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        events = con.execute("SELECT coalesce(max(size), 0) FROM audit_state").fetchone()[0]
        decisions = con.execute("SELECT count(*) FROM decisions").fetchone()[0]
        try:
            audit_bytes = con.execute(
                "SELECT sum(d.pgsize) FROM dbstat d JOIN sqlite_master m ON d.name = m.name "
                "WHERE m.tbl_name IN ('audit_events', 'audit_nodes', 'audit_state')"
            ).fetchone()[0]
        except sqlite3.OperationalError:  # SQLite built without the dbstat table
            audit_bytes = None
    finally:
        con.close()
    return LogSize(int(events), int(decisions), audit_bytes)


def subject_ids(db: Path) -> tuple[int, int, int]:
    """(first id, last id, count) of the subjects."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        lo, hi, n = con.execute("SELECT min(id), max(id), count(*) FROM subjects").fetchone()
    finally:
        con.close()
    if not n:
        sys.exit(f"{db} holds no subjects: build it with --rebuild (or another --db)")
    return int(lo), int(hi), int(n)


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
def server(db: Path, *, workers: int, log: Path) -> Iterator[str]:
    """``trustledger serve`` on a free loopback port, until the block ends (even on
    Ctrl-C or SIGTERM). Yields its base URL."""
    port = free_port()
    args = [
        str(TRUSTLEDGER),
        "--db",
        str(db),
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
    with log.open("wb") as out:
        # Its own session: uvicorn's worker processes go down with it, and the terminal's
        # Ctrl-C reaches only this script, which then stops the server itself.
        proc = subprocess.Popen(
            args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
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


# -- the report ----------------------------------------------------------------------------


def median(runs: list[Run], attr: str) -> float:
    return statistics.median(float(getattr(r, attr)) for r in runs)


def mb(n: int | None) -> str:
    return "size unknown (no dbstat)" if n is None else f"{n / 1e6:,.1f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--subjects", type=int, default=10_000, help="demo subjects (default 10,000)"
    )
    parser.add_argument(
        "--db",
        type=Path,
        default=None,
        help="SQLite demo database to use (built there if missing) "
        "[default: var/bench/api-SUBJECTS.db]",
    )
    parser.add_argument("--rebuild", action="store_true", help="build the database afresh")
    parser.add_argument(
        "--workers", type=int, default=1, help="server processes (default 1; try 2)"
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
    if args.workers < 1 or args.rounds < 1 or args.duration <= 0:
        parser.error("--workers and --rounds must be at least 1, --duration positive")
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads (wrk's rule)")

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

    db = (args.db or ROOT / "var" / "bench" / f"api-{args.subjects}.db").resolve()
    if args.rebuild or not db.exists():
        build(db, args.subjects)
    first, last, n = subject_ids(db)
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
        sys.exit(f"cannot create a relying-party key on {db}:\n{made.stderr}{made.stdout}")
    token = made.stdout.strip().splitlines()[-1]
    lua_args = (str(first), str(last), token, args.measure, args.purpose)
    sample = {"subject": first, "measure": args.measure, "purpose": args.purpose}

    load_before = os.getloadavg()
    print(
        f"{n:,} subjects in {db}; server: {args.workers} worker(s); wrk: {args.threads} "
        f"threads, {args.connections} connections, {args.duration:g} s per run, "
        f"{args.rounds} rounds; {os.cpu_count()} CPUs, load average "
        f"{load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}"
    )
    health: list[Run] = []
    decisions: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="trustledger-bench-") as tmp:
        log = Path(tmp) / "server.log"
        try:
            with server(db, workers=args.workers, log=log) as base:
                check = first_error(base, token, sample)
                if not check.startswith("201 "):
                    print(f"\n!!! a decision by hand did not answer 201: {check}\n")
                before = log_size(db)
                if args.warmup > 0:
                    wrk(f"{base}/v1/health", "report.lua", args, args.warmup)
                    wrk(f"{base}/v1/decisions", "decisions.lua", args, args.warmup, *lua_args)
                sent = 0
                for i in range(args.rounds):
                    health.append(wrk(f"{base}/v1/health", "report.lua", args, args.duration))
                    decisions.append(
                        wrk(
                            f"{base}/v1/decisions",
                            "decisions.lua",
                            args,
                            args.duration,
                            *lua_args,
                        )
                    )
                    h, d = health[-1], decisions[-1]
                    sent += d.requests
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
                        f"\n!!! {failed:,} requests failed (non-2xx or socket errors); "
                        f"a decision by hand now answers: {first_error(base, token, sample)}"
                    )
        except KeyboardInterrupt:
            print("\ninterrupted: the server is stopped")
            sys.exit(130)
        after = log_size(db)
        server_log = log.read_text(errors="replace").strip()
    load_after = os.getloadavg()

    rh, rd = median(health, "rate"), median(decisions, "rate")
    p99d = median(decisions, "p99_ms")
    ratio = rd / rh
    print(f"\nmedian of {args.rounds} rounds, {args.connections} connections:")
    print(f"  {'endpoint':<20}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>9}")
    for name, runs in (("GET /v1/health", health), ("POST /v1/decisions", decisions)):
        print(
            f"  {name:<20}{median(runs, 'rate'):>10,.0f}{median(runs, 'p50_ms'):>10.2f}"
            f"{median(runs, 'p99_ms'):>10.2f}{sum(r.non2xx for r in runs):>9,}"
        )
    timeouts = sum(r.timeouts for r in decisions)
    if timeouts:
        print(
            f"  ({timeouts:,} decisions took longer than --timeout {args.timeout:g} s: "
            "wrk leaves them out of its latencies)"
        )
    print(f"  decisions / trivial endpoint: {ratio:.3f}")
    print(
        f"goal: decisions >= {GOAL_RATIO} x the trivial endpoint's throughput: "
        f"{'met' if ratio >= GOAL_RATIO else 'NOT met'} ({ratio:.3f})"
    )
    print(
        f"goal: decisions p99 < {GOAL_P99_MS:g} ms at that load ({rd:,.0f} req/s, "
        f"{args.connections} connections): "
        f"{'met' if p99d < GOAL_P99_MS and not timeouts else 'NOT met'} ({p99d:.2f} ms)"
    )

    added = after.events - before.events
    print(
        f"\naudit log: {before.events:,} events, {mb(before.audit_bytes)} before; "
        f"{after.events:,} events, {mb(after.audit_bytes)} after "
        f"(+{added:,} events; +{after.decisions - before.decisions:,} decisions stored, "
        f"{sent:,} decision answers counted by wrk in the rounds, plus the warm-up)"
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
    if server_log:
        problems = [ln for ln in server_log.splitlines() if "Serving " not in ln]
        if problems:
            print(f"\nserver log ({len(problems)} lines), last 20:")
            print("\n".join(f"  {ln}" for ln in problems[-20:]))
    print(
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} "
        f"({os.cpu_count()} CPUs; wrk and the server share them)"
    )


if __name__ == "__main__":
    main()
