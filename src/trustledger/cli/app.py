"""The ``trustledger`` command line: thin Typer commands over ``trustledger.service``."""

from __future__ import annotations

import getpass
import json
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text
from sqlalchemy import Connection, Engine
from typer.core import TyperGroup

from trustledger import __version__
from trustledger.domain.principal import Actor, Principal, Role
from trustledger.domain.score import cents_to_points
from trustledger.errors import (
    InvalidInput,
    PolicyError,
    StoreError,
    TrustledgerError,
)
from trustledger.service import scoring
from trustledger.service.audit import AuditLog, Entry, audit_key_path, ensure_audit_key
from trustledger.service.ingest import IngestReport
from trustledger.service.policies import active_policy, install_policy, policy_of
from trustledger.service.rights import remake_decisions
from trustledger.store import migrate
from trustledger.store import scores as score_store
from trustledger.store.engine import open_engine, resolve_url, sqlite_file
from trustledger.store.policies import latest_policy


class _Group(TyperGroup):
    """Turns trustledger's own errors into a red message and exit code 1, never a traceback.

    Bad input is always one of those errors (FILE:LINE:FIELD, FILE:LINE, the field of an
    identifier); anything else is a bug and keeps its traceback.
    """

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except PolicyError as exc:
            for problem in exc.problems:
                err.print(str(problem), highlight=False, soft_wrap=True, markup=False)
            print_error("the policy was refused; nothing was stored")
            raise typer.Exit(1) from None
        except TrustledgerError as exc:
            print_error(str(exc))
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_Group,
    # Plain help text: "[default: today]" must stay visible, not be read as markup.
    rich_markup_mode=None,
    name="trustledger",
    help="An accountable registry of credit records and reputation scores: every point "
    "explained, every record disputable, every negative record expiring.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
# Piped output is not cut at 80 columns: identifiers and dates must survive `| grep`.
# No emoji codes either: "rail.csv:100:subject_id" must not print a 💯.
out = Console(width=None if sys.stdout.isatty() else 200, emoji=False)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 200, emoji=False)

DEFAULT_POLICY = Path("policies/example-city.toml")
#: A batch in the wrong format can fail on every row; the first thousand tell the story.
MAX_PROBLEMS_SHOWN = 1000


@dataclass
class State:
    db: str | None = None
    audit_key: str | None = None
    _engine: Engine | None = None

    def engine(self, *, check: bool = True) -> Engine:
        if self._engine is None:
            path = sqlite_file(self.db)
            if check and path is not None and not path.exists():
                # Do not let a typo in --db leave an empty database file behind.
                raise StoreError(f"no database at {path}: run `trustledger init` to create one")
            self._engine = open_engine(self.db)
        if check:
            migrate.check_current(self._engine)
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


state = State()


def _print_version() -> None:
    out.print(f"trustledger {__version__}", highlight=False)
    raise typer.Exit()


@app.callback()
def _main(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            is_eager=True,
            callback=lambda value: _print_version() if value else None,
        ),
    ] = False,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            envvar="TRUSTLEDGER_DB",
            show_default=False,
            help="Database URL or SQLite file [default: var/trustledger.db]. "
            "PostgreSQL: postgresql://USER@HOST:PORT/DB.",
        ),
    ] = None,
    audit_key: Annotated[
        str | None,
        typer.Option(
            "--audit-key",
            envvar="TRUSTLEDGER_AUDIT_KEY",
            show_default=False,
            help="The audit log's signing key file [default: beside a SQLite database, "
            "DB.audit-key.pem; required for PostgreSQL].",
        ),
    ] = None,
) -> None:
    state.db = db
    state.audit_key = audit_key
    state._engine = None
    ctx.call_on_close(state.close)


# --- helpers shared by the command modules --------------------------------------------------


def now() -> datetime:
    """The one place the CLI reads the clock; the core is always handed the time."""
    return datetime.now(UTC)


def today(zone: ZoneInfo | None = None) -> date:
    """Today where the registry is: in ``zone``, else in the time zone of the policy in
    force (as the service decides), else in UTC when no policy is loaded yet."""
    if zone is None:
        with state.engine().connect() as conn:
            found = latest_policy(conn)
        zone = policy_of(found).policy.zone if found is not None else ZoneInfo("UTC")
    return now().astimezone(zone).date()


def parse_day(value: str | None, option: str, *, zone: ZoneInfo | None = None) -> date:
    """``value`` as a day; none means today in the registry's time zone (see :func:`today`)."""
    if value is None:
        return today(zone)
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option}: {value!r} is not a date; write YYYY-MM-DD")


def parse_instant(value: str | None, option: str) -> datetime:
    if value is None:
        return now()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        fail(
            f"{option}: {value!r} is not a date or time; write YYYY-MM-DD or "
            "YYYY-MM-DDTHH:MM[:SS][+HH:MM]"
        )
    if parsed.tzinfo is None:
        # A bare date means "as known at the end of that day", in UTC.
        if len(value) == 10:
            parsed = parsed.replace(hour=23, minute=59, second=59)
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def cli_actor() -> Actor:
    """The operator at this terminal, as the audit log records them."""
    return Actor(
        Principal(key_id=None, role=Role.OPERATOR, label="command line"),
        request_id=f"cli-{uuid.uuid4().hex[:16]}",
        purpose="registry_administration",
    )


def audit_log() -> AuditLog:
    """The audit log, for commands that read or write subject data: every such command is
    logged like a request to the service (role operator, purpose registry_administration,
    request id ``cli-...``, the OS user in the event's detail)."""
    key, _ = ensure_audit_key(state.engine(), audit_key_path(state.db, state.audit_key), now=now())
    return AuditLog(key)


def terminal_user() -> dict[str, str]:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        user = str(os.getuid())
    return {"via": "cli", "user": user}


def log_read(action: str, subject_id: int | None, **detail: Any) -> None:
    """Log a read of subject data by this command, in a transaction of its own."""
    log = audit_log()
    with state.engine().begin() as conn:
        log.append(
            conn, cli_actor(), [Entry(action, subject_id, {**terminal_user(), **detail})], now=now()
        )


def log_ingest(log: AuditLog, actor: Actor) -> Callable[[Connection, IngestReport], None]:
    """An ``audit`` callback for ingest: one ``records.write`` per subject touched."""

    def append(conn: Connection, report: IngestReport) -> None:
        detail = {**terminal_user(), "batch": report.batch, "provider": report.provider}
        entries = [Entry("records.write", sid, detail) for sid in report.subject_ids]
        if report.changed_records:
            # Whoever received a decision resting on a corrected or retracted record gets
            # it made again, in the batch's transaction.
            _, remade = remake_decisions(
                conn,
                active_policy(conn),
                actor,
                report.changed_records,
                now=now(),
                cause={"batch": report.batch, "provider": report.provider},
            )
            entries.extend(remade)
        log.append(conn, actor, entries, now=now())

    return append


def fail(message: str, code: int = 1) -> NoReturn:
    print_error(message)
    raise typer.Exit(code)


def print_error(message: str) -> None:
    err.print(Text.assemble(("error: ", "bold red"), message), highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def points(cents: int) -> str:
    return f"{cents_to_points(cents):.2f}"


@contextmanager
def progress_bar(
    description: str, *, total: int | None = None, enabled: bool = True
) -> Iterator[Progress]:
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not enabled,
    )
    with progress:
        progress.add_task(description, total=total)
        yield progress


# --- commands -----------------------------------------------------------------------------


@app.command()
def init(
    policy: Annotated[
        Path | None,
        typer.Option(
            help="Policy file to load [default: policies/example-city.toml when "
            "no policy is loaded yet]."
        ),
    ] = None,
) -> None:
    """Create or upgrade the database schema, make the audit log's signing key, and load
    a policy."""
    engine = state.engine(check=False)
    revision = migrate.upgrade(engine)
    out.print(f"Database {resolve_url(state.db)} is at schema revision {revision}.")
    try:
        key_path = audit_key_path(state.db, state.audit_key)
    except InvalidInput as exc:
        err.print(f"warning: no audit key made: {exc}", highlight=False, markup=False)
    else:
        key, created = ensure_audit_key(engine, key_path, now=now())
        out.print(
            f"{'Created' if created else 'Using'} the audit log's signing key {key_path} "
            f"(fingerprint {key.fingerprint()[:16]}); keep it outside the database's backups.",
            highlight=False,
        )
    if policy is None:
        with engine.connect() as conn:
            loaded = latest_policy(conn)
        if loaded is not None:
            out.print(f"Policy in force: {loaded.label}.")
            return
        if not DEFAULT_POLICY.is_file():
            out.print("No policy loaded yet: run `trustledger policy load FILE`.")
            return
        policy = DEFAULT_POLICY
    stored, created = install_policy(engine, policy, now=now())
    verb = "Loaded" if created else "Already loaded:"
    out.print(f"{verb} policy {stored.label} from {policy}.")


@app.command()
def score(
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Score as of this day (YYYY-MM-DD) [default: today]."),
    ] = None,
    known_at: Annotated[
        str | None,
        typer.Option("--known-at", help="Use records as known at this time [default: now]."),
    ] = None,
    policy: Annotated[
        str | None,
        typer.Option(help="Policy version, e.g. example-city@2 [default: the newest loaded]."),
    ] = None,
    engine_name: Annotated[
        str,
        typer.Option(
            "--engine",
            help="python (subject by subject, streaming), duckdb (columnar, embedded) or "
            "spark (columnar, local or a cluster); all give the same results.",
        ),
    ] = "python",
    master: Annotated[
        str | None,
        typer.Option(help="Spark master URL for --engine spark [default: local[2]]."),
    ] = None,
) -> None:
    """Score every subject and store the run (grades, list entries) in one transaction."""
    from trustledger.batch import ENGINES

    if engine_name not in ENGINES:
        fail(f"--engine: unknown engine {engine_name!r}; choose one of {', '.join(ENGINES)}")
    if master is not None and engine_name != "spark":
        fail("--master: only for --engine spark")
    engine = state.engine()
    day, instant = parse_day(as_of, "--as-of"), parse_instant(known_at, "--known-at")
    with progress_bar(f"Scoring subjects ({engine_name})") as bar:
        summary = scoring.score_all(
            engine,
            as_of=day,
            known_at=instant,
            now=now(),
            policy_ref=policy,
            # Today's view under the policy in force is what the public register shows.
            current=as_of is None and known_at is None and policy is None,
            progress=lambda done, total: bar.update(bar.task_ids[0], completed=done, total=total),
            engine_name=engine_name,
            engine_options={"master": master} if master else None,
        )
    log_read(
        "scores.run", None, run=summary.run.id, subjects=summary.run.subjects, engine=engine_name
    )
    print_run_summary(summary)


def print_run_summary(summary: scoring.RunSummary) -> None:
    run = summary.run
    out.print(
        f"Run {run.id}: {run.subjects:,} subjects, {run.records:,} records, policy "
        f"{run.policy_label}, as of {run.as_of.isoformat()}.",
        highlight=False,
    )
    table = Table(title="Grades", show_edge=False)
    table.add_column("grade")
    table.add_column("subjects", justify="right")
    table.add_column("share", justify="right")
    for grade, n in summary.grades.items():
        table.add_row(grade, f"{n:,}", f"{100 * n / max(run.subjects, 1):.1f}%")
    out.print(table)
    if summary.lists:
        lists = Table(title="Lists", show_edge=False)
        lists.add_column("list")
        lists.add_column("subjects", justify="right")
        for name, n in sorted(summary.lists.items()):
            lists.add_row(name, f"{n:,}")
        out.print(lists)


@app.command()
def explain(
    subject: Annotated[
        str, typer.Argument(help="Subject id or identifier (USCC, resident identity number).")
    ],
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Explain the score as of this day [default: today]."),
    ] = None,
    known_at: Annotated[
        str | None,
        typer.Option("--known-at", help="Use records as known at this time [default: now]."),
    ] = None,
    policy: Annotated[str | None, typer.Option(help="Policy version [default: newest].")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Explain a subject's score line by line: every point, its record and its rule."""
    engine = state.engine()
    explanation = scoring.explain_subject(
        engine,
        subject,
        as_of=parse_day(as_of, "--as-of"),
        known_at=parse_instant(known_at, "--known-at"),
        policy_ref=policy,
    )
    log_read("subject.explanation.read", explanation.subject.id)
    if as_json:
        print_json(explanation.as_json())
        return
    print_explanation(explanation)


def print_explanation(explanation: scoring.Explanation) -> None:
    s, r = explanation.subject, explanation.result
    idents = ", ".join(f"{i.kind} {i.value}" for i in s.identifiers)
    out.print(Text.assemble((f"#{s.id} {s.name}", "bold"), f" ({s.kind.value}; {idents})"))
    out.print(
        f"  as of {r.as_of.isoformat()}, records as known at "
        f"{explanation.known_at:%Y-%m-%d %H:%M:%S} UTC, policy {r.policy_version}",
        highlight=False,
        markup=False,
    )
    for line in explanation.text():
        out.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)


@app.command()
def subjects(
    grade: Annotated[str | None, typer.Option(help="Only subjects with this grade.")] = None,
    list_name: Annotated[
        str | None, typer.Option("--list", help="Only subjects on this list.")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List scored subjects from the latest score run, lowest score first."""
    engine = state.engine()
    with engine.connect() as conn:
        run = score_store.latest_run(conn)
        if run is None:
            fail("no score run yet: run `trustledger score` first")
        policy = active_policy(conn, f"#{run.policy_version_id}").policy
        grades = [b.grade for b in policy.grades]
        if grade is not None and grade not in grades:
            fail(f"--grade: unknown grade {grade!r}; the policy's grades: {', '.join(grades)}")
        if list_name is not None and list_name not in policy.lists:
            fail(
                f"--list: unknown list {list_name!r}; the policy's lists: "
                f"{', '.join(policy.lists) or '(none)'}"
            )
        rows = score_store.query_subjects(
            conn,
            run.id,
            grade=grade,
            list_name=list_name,
            limit=None if limit is None else limit + 1,
        )
    more = limit is not None and len(rows) > limit
    rows = rows[:limit]
    log_read("subjects.query", None, run=run.id, grade=grade, list=list_name, shown=len(rows))
    if more:
        err.print(
            f"Showing the first {limit:,} subjects; use --limit to see more.", highlight=False
        )
    if as_json:
        print_json(
            [
                {
                    "id": r.id,
                    "kind": r.kind,
                    "name": r.name,
                    "identifier": r.identifier,
                    "score": float(cents_to_points(r.score_cents)),
                    "grade": r.grade,
                    "lists": list(r.lists),
                    "run": run.id,
                    "as_of": run.as_of.isoformat(),
                    "policy_version": run.policy_label,
                }
                for r in rows
            ]
        )
        return
    table = Table(
        title=f"Run {run.id} ({run.policy_label}, as of {run.as_of.isoformat()})", show_edge=False
    )
    for col, justify in (
        ("id", "right"),
        ("kind", "left"),
        ("name", "left"),
        ("identifier", "left"),
        ("score", "right"),
        ("grade", "left"),
        ("lists", "left"),
    ):
        table.add_column(col, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for r in rows:
        table.add_row(
            str(r.id),
            r.kind,
            r.name,
            r.identifier or "",
            points(r.score_cents),
            r.grade,
            ", ".join(r.lists),
        )
    out.print(table)
    if not rows:
        out.print("No subjects match.")


@app.command(name="lists")
def lists_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the policy's red and black lists and how many subjects are on each."""
    engine = state.engine()
    with engine.connect() as conn:
        run = score_store.latest_run(conn)
        sizes = score_store.list_sizes(conn, run.id) if run is not None else {}
        active = active_policy(conn)
    data = [
        {
            "list": name,
            "kind": ldef.kind,
            "title": ldef.title,
            "public": ldef.public,
            "legal_basis": ldef.legal_basis,
            "subjects": sizes.get(name, 0),
            "rules": [r.id for r in ldef.rules],
        }
        for name, ldef in active.policy.lists.items()
    ]
    if as_json:
        print_json({"run": run.id if run else None, "policy_version": active.label, "lists": data})
        return
    table = Table(
        title=f"Lists of {active.label}"
        + (f", run {run.id} as of {run.as_of.isoformat()}" if run else ", not scored yet"),
        show_edge=False,
    )
    for col in ("list", "kind", "title", "public", "subjects", "rules"):
        table.add_column(col, justify="right" if col == "subjects" else "left")
    for name, ldef in active.policy.lists.items():
        table.add_row(
            name,
            ldef.kind,
            ldef.title,
            "yes" if ldef.public else "no",
            f"{sizes.get(name, 0):,}",
            ", ".join(r.id for r in ldef.rules),
        )
    out.print(table)


def main() -> None:
    """Entry point of the ``trustledger`` script."""
    app()


# The command groups register themselves on `app` when imported.
import trustledger.cli.audit  # noqa: E402,F401
import trustledger.cli.batch  # noqa: E402,F401
import trustledger.cli.demo  # noqa: E402,F401
import trustledger.cli.identity  # noqa: E402,F401
import trustledger.cli.ingest  # noqa: E402,F401
import trustledger.cli.keys  # noqa: E402,F401
import trustledger.cli.policy  # noqa: E402,F401
import trustledger.cli.records  # noqa: E402,F401
import trustledger.cli.rights  # noqa: E402,F401
import trustledger.cli.serve  # noqa: E402,F401
import trustledger.cli.simulate  # noqa: E402,F401
