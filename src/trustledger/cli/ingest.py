"""``trustledger ingest`` and ``trustledger quarantine``: providers' files, whole or not at
all, and the batches refused and kept for a retry."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import Connection

from trustledger.cli.app import (
    MAX_PROBLEMS_SHOWN,
    app,
    audit_log,
    cli_actor,
    err,
    fail,
    log_ingest,
    log_read,
    now,
    out,
    print_json,
    state,
    terminal_user,
)
from trustledger.domain.principal import Actor
from trustledger.errors import RowProblem
from trustledger.service.audit import AuditLog, Entry
from trustledger.service.demo import ExampleBatch
from trustledger.service.ingest import (
    BatchQuarantined,
    IngestReport,
    batch_json,
    ingest_file,
    quarantine_list,
    quarantine_show,
    retry_quarantined,
)

quarantine_app = typer.Typer(
    help="Batches refused whole and kept with their report and file: list them, show every "
    "bad row, and run one again once its file, mapping or exceptions list is fixed.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(quarantine_app, name="quarantine")

FORMATS = "csv, jsonl or parquet"


def received_by() -> str:
    return f"cli:{terminal_user()['user']}"[:64]


def log_quarantine(log: AuditLog, actor: Actor) -> Callable[[Connection, IngestReport], None]:
    """An ``on_quarantine`` callback: one ``batch.quarantined`` event (about no subject: a
    refused batch stores no record) in the transaction that keeps the batch."""

    def append(conn: Connection, report: IngestReport) -> None:
        detail = {
            **terminal_user(),
            "batch_id": report.batch_id,
            "batch": report.batch,
            "provider": report.provider,
            "rows": report.rows,
            "problems": report.problem_count,
        }
        log.append(conn, actor, [Entry("batch.quarantined", None, detail)], now=now())

    return append


def print_problems(problems: list[RowProblem], total: int) -> None:
    for problem in problems[:MAX_PROBLEMS_SHOWN]:
        err.print(str(problem), highlight=False, soft_wrap=True, markup=False)
    if total > MAX_PROBLEMS_SHOWN:
        err.print(f"... and {total - MAX_PROBLEMS_SHOWN:,} more problems", highlight=False)


def print_notices(notices: list[RowProblem]) -> None:
    for notice in notices[:MAX_PROBLEMS_SHOWN]:
        err.print(f"notice: {notice}", highlight=False, soft_wrap=True, markup=False)


def summary(report: IngestReport) -> str:
    parts = [
        f"{report.created:,} new",
        f"{report.corrected:,} corrected",
        f"{report.retracted:,} retracted",
        f"{report.unchanged:,} already stored",
    ]
    if report.linked:
        parts.append(f"{report.linked:,} linked to a fact another provider reported")
    if report.duplicates:
        parts.append(f"{report.duplicates:,} duplicate rows stored once")
    if report.skipped:
        parts.append(f"{report.skipped:,} skipped as not records")
    text = (
        f"{report.file}: {report.rows:,} rows from {report.provider} "
        f"({report.policy_version}): {', '.join(parts)}; {report.new_subjects:,} new subjects"
    )
    if report.resolved:
        text += (
            f"; {report.resolved:,} rows without a usable identifier resolved "
            f"({report.review:,} waiting in the identity review queue)"
        )
    return text + "."


def report_json(report: IngestReport) -> dict[str, Any]:
    return {
        "status": report.status,
        "batch_id": report.batch_id,
        "batch": report.batch,
        "provider": report.provider,
        "file": report.file,
        "format": report.format,
        "encoding": report.encoding,
        "delimiter": report.delimiter,
        "mapping": report.mapping,
        "policy_version": report.policy_version,
        **report.counts(),
        "problem_count": report.problem_count,
        "problems": [str(p) for p in report.problems],
        "notices": [str(p) for p in report.notices],
    }


def _refused(exc: BatchQuarantined, *, dry_run: bool, as_json: bool) -> None:
    report = exc.report
    if as_json:
        print_json(report_json(report))
    else:
        print_problems(report.problems, report.problem_count)
    head = f"batch rejected: {report.problem_count:,} problem(s) in {report.rows:,} rows"
    if dry_run:
        fail(f"{head}; dry run: nothing was stored")
    if exc.kept:
        where = (
            f"kept in quarantine as batch {exc.batch_id} "
            f"(trustledger quarantine show {exc.batch_id})"
        )
    else:
        where = f"the same batch already waits in quarantine as batch {exc.batch_id}"
    fail(f"{head}; nothing was stored; {where}")


def _accepted(report: IngestReport, *, as_json: bool) -> None:
    if as_json:
        print_json(report_json(report))
        return
    print_notices(report.notices)
    if report.status == "already":
        out.print(
            f"{report.file}: this batch was ingested already (batch {report.batch_id}); "
            f"nothing new was stored ({report.rows:,} rows).",
            highlight=False,
        )
        return
    text = summary(report)
    if report.status == "dry-run":
        text = f"dry run, nothing was stored: {text}"
    elif report.batch_id is not None:
        text += f" Batch {report.batch_id}."
    out.print(text, highlight=False)


@app.command()
def ingest(
    file: Annotated[Path, typer.Argument(help="A CSV, JSON Lines or Parquet file of records.")],
    provider: Annotated[
        str, typer.Option(help="The provider submitting the file, as the policy names it.")
    ],
    mapping: Annotated[
        Path | None,
        typer.Option(
            help="The provider's mapping file (TOML) [default: the one the policy registers "
            "for the provider, else trustledger's own format]."
        ),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help=f"{FORMATS} [default: the mapping's, else from the file's extension].",
        ),
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(
            help="CSV and JSON Lines: utf-8, utf-8-sig, gb18030 or auto [default: the "
            "mapping's, else detected]."
        ),
    ] = None,
    delimiter: Annotated[
        str | None,
        typer.Option(help="CSV: one character, or auto [default: the mapping's, else detected]."),
    ] = None,
    batch_id: Annotated[
        str | None,
        typer.Option(
            "--batch-id",
            help="The provider's own id for this batch: the same id again stores nothing "
            "new; with another file it is refused.",
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Check everything and print the report; store nothing."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Store a provider's batch of records, whole or not at all.

    Every bad row is reported as FILE:LINE:FIELD: reason, nothing is stored, and the batch
    is kept in quarantine (see `trustledger quarantine`).
    """
    engine = state.engine()
    log = audit_log()
    actor = cli_actor()
    if delimiter == "\\t":
        delimiter = "\t"
    try:
        with err.status(f"Reading {file.name}") as status:
            report = ingest_file(
                engine,
                file,
                provider=provider,
                now=now(),
                fmt=fmt,
                mapping=mapping,
                encoding=encoding,
                delimiter=delimiter,
                batch_id=batch_id,
                dry_run=dry_run,
                received_by=received_by(),
                on_stage=lambda stage: status.update(f"{stage.capitalize()}: {file.name}"),
                audit=log_ingest(log, actor),
                on_quarantine=log_quarantine(log, actor),
            )
    except BatchQuarantined as exc:
        _refused(exc, dry_run=dry_run, as_json=as_json)
    _accepted(report, as_json=as_json)


@quarantine_app.command("list")
def list_command(
    provider: Annotated[str | None, typer.Option(help="Only this provider's batches.")] = None,
    show_all: Annotated[
        bool,
        typer.Option("--all", help="Also the batches a retry has run again since."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the batches waiting in quarantine, newest first."""
    engine = state.engine()
    batches = quarantine_list(engine, provider=provider, include_done=show_all)
    if as_json:
        print_json(
            [
                {
                    k: v
                    for k, v in batch_json(b, problems=0).items()
                    if k not in ("problems", "notices")
                }
                for b in batches
            ]
        )
        return
    if not batches:
        out.print("No batch waits in quarantine.")
        return
    table = Table(title="Quarantined batches", show_edge=False)
    for col in ("id", "received", "provider", "file", "rows", "problems", "status"):
        table.add_column(col, justify="right" if col in ("id", "rows", "problems") else "left")
    for b in batches:
        table.add_row(
            str(b.id),
            f"{b.received_at:%Y-%m-%d %H:%M}",
            b.provider,
            b.source,
            f"{b.rows:,}",
            f"{b.problems:,}",
            b.status,
        )
    out.print(table)
    out.print("Show one with `trustledger quarantine show ID`.", highlight=False)


@quarantine_app.command("show")
def show(
    batch: Annotated[int, typer.Argument(help="The batch's id (from `quarantine list`).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show a batch's report: its counts and every bad row as FILE:LINE:FIELD: reason."""
    engine = state.engine()
    found = quarantine_show(engine, batch)
    # The report quotes the provider's rows (names, identifiers): a read of subject data.
    log_read("quarantine.read", None, batch_id=found.id, provider=found.provider)
    data = batch_json(found)
    if as_json:
        print_json(data)
        return
    lines = [
        f"Batch {found.id} ({found.batch}): {found.status}",
        f"  provider   {found.provider}",
        f"  file       {found.source} ({found.format}"
        + (f", {found.encoding}" if found.encoding else "")
        + (f", delimiter {found.delimiter!r}" if found.delimiter else "")
        + f", {found.size:,} bytes, sha256 {found.file_sha256[:16]}...)",
        f"  mapping    {found.mapping_source or '(trustledger format)'}",
        f"  received   {found.received_at:%Y-%m-%d %H:%M:%S} UTC by {found.received_by}",
        f"  rows       {found.rows:,}; problems {found.problems:,}",
    ]
    if found.retry_of is not None:
        lines.append(f"  retry of   batch {found.retry_of}")
    out.print("\n".join(lines), highlight=False, markup=False)
    problems = data["problems"]
    for p in problems:
        out.print(p["text"], highlight=False, soft_wrap=True, markup=False)
    if found.problems > len(problems):
        out.print(
            f"... and {found.problems - len(problems):,} more problems (not kept)",
            highlight=False,
        )
    for n in data["notices"]:
        out.print(
            f"notice: {n['file']}:{n['line']}:{n['field']}: {n['reason']}",
            highlight=False,
            soft_wrap=True,
            markup=False,
        )
    if found.status == "quarantined":
        out.print(f"Run it again with `trustledger quarantine retry {found.id}`.", highlight=False)


@quarantine_app.command("retry")
def retry(
    batch: Annotated[int, typer.Argument(help="The quarantined batch's id.")],
    file: Annotated[
        Path | None,
        typer.Option(help="A corrected file to ingest instead of the kept one."),
    ] = None,
    mapping: Annotated[
        Path | None,
        typer.Option(help="Another mapping file [default: the batch's, as it reads now]."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check it again and print the report; store nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Run a quarantined batch again (its kept file, or --file) under the policy in force.

    Accepted, its records land and the batch leaves the quarantine; refused again, the new
    attempt takes its place there with the new report.
    """
    engine = state.engine()
    log = audit_log()
    actor = cli_actor()
    try:
        report = retry_quarantined(
            engine,
            batch,
            now=now(),
            file=file,
            mapping=mapping,
            dry_run=dry_run,
            received_by=received_by(),
            audit=log_ingest(log, actor),
            on_quarantine=log_quarantine(log, actor),
        )
    except BatchQuarantined as exc:
        _refused(exc, dry_run=dry_run, as_json=as_json)
    _accepted(report, as_json=as_json)


def print_example_batches(batches: Sequence[ExampleBatch]) -> None:
    """The demo's example providers' batches: what landed, and what waits in quarantine."""
    if not batches:
        return
    table = Table(title="The example providers' own files", show_edge=False)
    for col in (
        "provider",
        "file",
        "outcome",
        "rows",
        "new",
        "linked",
        "duplicates",
        "resolved",
        "problems",
    ):
        table.add_column(col, justify="left" if col in ("provider", "file", "outcome") else "right")
    for b in batches:
        r = b.report
        outcome = f"quarantined (batch {r.batch_id})" if b.quarantined else "accepted"
        table.add_row(
            b.provider,
            b.file.name,
            outcome,
            f"{r.rows:,}",
            f"{r.created:,}",
            f"{r.linked:,}",
            f"{r.duplicates:,}",
            f"{r.resolved:,}",
            f"{r.problem_count:,}",
        )
    out.print(table)
    for b in batches:
        if not b.quarantined:
            continue
        hint = f"{b.file.name} is in quarantine: `trustledger quarantine show {b.report.batch_id}`"
        hint += " lists its bad rows"
        corrected = b.file.with_name(f"{b.file.stem}.corrected{b.file.suffix}")
        if corrected.is_file():
            hint += (
                f"; `trustledger quarantine retry {b.report.batch_id} --file {corrected}` sends "
                "the provider's corrected export"
            )
        out.print(hint + ".", highlight=False, markup=False, soft_wrap=True)
