"""Subject rights at the terminal: the review queue and its cases, objections and repair
requests filed on a subject's behalf (a letter, a counter), who looked at a file, provider
quality, erasure, and ``maintain`` (expiry, overdue reviews, the day's rescore, webhooks).

Each command runs the same use case as the HTTP service, as the operator at the terminal,
and is written to the audit log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from sqlalchemy import Connection

from trustledger.cli.app import (
    app,
    audit_log,
    cli_actor,
    fail,
    now,
    out,
    print_json,
    state,
    terminal_user,
)
from trustledger.domain.principal import Actor
from trustledger.service.audit import AuditLog, Entry
from trustledger.service.maintain import maintain as run_maintenance
from trustledger.service.registry import Registry
from trustledger.service.rights import MAX_EVIDENCE_BYTES, Rights, Upload

cases_app = typer.Typer(
    help="The review queue: objections and repair requests, their evidence and decisions.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(cases_app, name="cases")

Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Evidence = Annotated[
    list[Path] | None,
    typer.Option(
        "--evidence",
        exists=True,
        dir_okay=False,
        help="An evidence file (PDF, PNG, JPEG, WebP or UTF-8 text); repeat for more.",
    ),
]


class _TerminalLog(AuditLog):
    """The audit log with the terminal's OS user in every event's detail, as the other
    commands log it (``{"via": "cli", "user": ...}``)."""

    def append(
        self, conn: Connection, actor: Actor, entries: Sequence[Entry], *, now: datetime
    ) -> list[int]:
        who = terminal_user()
        return super().append(
            conn, actor, [replace(e, detail={**who, **e.detail}) for e in entries], now=now
        )


def _rights() -> Rights:
    return Registry(state.engine(), _TerminalLog(audit_log().key), now).rights


def _uploads(paths: list[Path] | None) -> list[Upload]:
    uploads = []
    for p in paths or []:
        with p.open("rb") as f:
            data = f.read(MAX_EVIDENCE_BYTES + 1)
        # No declared type: the registry recognises the content (a .md or .csv file is text).
        uploads.append(Upload(p.name, "", data))
    return uploads


def _show(case: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(case)
        return
    out.print(
        f"Case {case['id']} ({case['kind']}): {case['status']}"
        + (f", {case['outcome']}" if case["outcome"] else ""),
        highlight=False,
        markup=False,
    )
    out.print(
        f"  record {case['record_id']} ({case['record_title']}, {case['provider']}) of subject "
        f"{case['subject']}",
        highlight=False,
        markup=False,
    )
    out.print(
        f"  opened {case['opened_at'][:16]}, deadline {case['deadline'][:16]}"
        + (" (overdue)" if case["overdue"] else "")
        + (f", assigned to {case['assigned_to']}" if case["assigned_to"] else ""),
        highlight=False,
        markup=False,
    )
    out.print(f"  reason: {case['reason']}", highlight=False, markup=False)
    if case.get("fulfilled_on"):
        out.print(f"  fulfilled on: {case['fulfilled_on']}", highlight=False, markup=False)
    if case.get("decision_reason"):
        out.print(f"  decision: {case['decision_reason']}", highlight=False, markup=False)
    for f in case.get("evidence", []):
        out.print(
            f"  evidence {f['id']}: {f['filename']} ({f['content_type']}, {f['size']:,} bytes, "
            f"from the {f['role']})",
            highlight=False,
            markup=False,
        )
    for e in case.get("history", []):
        out.print(f"  {e['at'][:19]}  {e['role']:<13} {e['action']}", highlight=False, markup=False)


@cases_app.command("list")
def list_cases(
    all_cases: Annotated[
        bool, typer.Option("--all", help="Decided cases too, not only the open ones.")
    ] = False,
    kind: Annotated[str | None, typer.Option(help="objection or repair.")] = None,
    subject: Annotated[str | None, typer.Option(help="Only this subject's cases.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=100, help="At most this many.")] = 50,
    as_json: Json = False,
) -> None:
    """The queue: open cases, nearest deadline first."""
    body = _rights().cases(
        cli_actor(), subject_ref=subject, open_only=not all_cases, kind=kind, per_page=limit
    )
    if as_json:
        print_json(body)
        return
    table = Table(title=f"{body['total']:,} case(s)", show_edge=False)
    for col in ("case", "kind", "status", "subject", "record", "provider", "deadline"):
        table.add_column(col, overflow="fold")
    for c in body["cases"]:
        table.add_row(
            c["id"],
            c["kind"],
            c["status"] + (" (overdue)" if c["overdue"] else ""),
            str(c["subject"]),
            f"{c['record_id']} {c['record_type']}",
            c["provider"],
            c["deadline"][:10],
        )
    out.print(table)


@cases_app.command("show")
def show(
    case_id: Annotated[str, typer.Argument(help="The case id.")], as_json: Json = False
) -> None:
    """One case with its record, evidence and history."""
    _show(_rights().case(cli_actor(), case_id), as_json)


@cases_app.command("object")
def object_(
    subject: Annotated[str, typer.Argument(help="The subject's id or identifier.")],
    record_id: Annotated[int, typer.Argument(help="The record objected to.")],
    reason: Annotated[str, typer.Option(help="The subject's reason, in its words.")],
    evidence: Evidence = None,
    as_json: Json = False,
) -> None:
    """File an objection on a subject's behalf: the record is disputed at once."""
    _show(
        _rights().open_objection(cli_actor(), subject, record_id, reason, _uploads(evidence)),
        as_json,
    )


@cases_app.command("repair")
def repair(
    subject: Annotated[str, typer.Argument(help="The subject's id or identifier.")],
    record_id: Annotated[int, typer.Argument(help="The negative record to repair.")],
    fulfilled_on: Annotated[
        datetime, typer.Option(formats=["%Y-%m-%d"], help="When the obligation was fulfilled.")
    ],
    reason: Annotated[str, typer.Option(help="What was done, in the subject's words.")],
    evidence: Evidence = None,
    as_json: Json = False,
) -> None:
    """Ask for credit repair on a subject's behalf, with proof."""
    day: date = fulfilled_on.date()
    _show(
        _rights().request_repair(cli_actor(), subject, record_id, day, reason, _uploads(evidence)),
        as_json,
    )


@cases_app.command("assign")
def assign(
    case_id: Annotated[str, typer.Argument(help="The case id.")],
    to: Annotated[str, typer.Option(help="The reviewer's key id.")],
    as_json: Json = False,
) -> None:
    """Give a case to a reviewer."""
    _show(_rights().assign(cli_actor(), case_id, to), as_json)


@cases_app.command("ask-provider")
def ask_provider(
    case_id: Annotated[str, typer.Argument(help="The case id.")],
    message: Annotated[str, typer.Option(help="What the provider should send.")],
    as_json: Json = False,
) -> None:
    """Ask the record's provider for evidence (each of its keys is notified)."""
    _show(_rights().request_evidence(cli_actor(), case_id, message), as_json)


@cases_app.command("add-evidence")
def add_evidence(
    case_id: Annotated[str, typer.Argument(help="The case id.")],
    files: Annotated[
        list[Path], typer.Argument(exists=True, dir_okay=False, help="Evidence files.")
    ],
    note: Annotated[str, typer.Option(help="What the files show.")] = "",
    as_json: Json = False,
) -> None:
    """Add evidence to an open case (a letter received, a provider's file)."""
    _show(_rights().add_evidence(cli_actor(), case_id, _uploads(files), note), as_json)


@cases_app.command("decide")
def decide(
    case_id: Annotated[str, typer.Argument(help="The case id.")],
    outcome: Annotated[
        str,
        typer.Option(
            help="upheld, corrected or retracted (objections); approved or refused (repairs)."
        ),
    ],
    reason: Annotated[str, typer.Option(help="Why, in words the subject reads.")],
    valid_from: Annotated[str | None, typer.Option(help="Corrected: the new date.")] = None,
    valid_to: Annotated[str | None, typer.Option(help="Corrected: the new end date.")] = None,
    amount: Annotated[str | None, typer.Option(help="Corrected: the new amount.")] = None,
    note: Annotated[str | None, typer.Option(help="Corrected: the new note.")] = None,
    as_json: Json = False,
) -> None:
    """Decide a case. A correction, retraction or approved repair is a new version of the
    record; the subject is rescored and relying parties get their decisions made again."""
    given = {"valid_from": valid_from, "valid_to": valid_to, "amount": amount, "note": note}
    correction = {k: v for k, v in given.items() if v is not None} or None
    _show(_rights().decide(cli_actor(), case_id, outcome, reason, correction), as_json)


@app.command("access-log")
def access_log(
    subject: Annotated[str, typer.Argument(help="The subject's id or identifier.")],
    limit: Annotated[int, typer.Option(min=1, max=100, help="At most this many.")] = 50,
    as_json: Json = False,
) -> None:
    """Who looked at a subject's file or changed it, when, and why (newest first)."""
    body = _rights().access_log(cli_actor(), subject, page=1, per_page=limit)
    if as_json:
        print_json(body)
        return
    table = Table(title=f"{body['total']:,} event(s) about subject {body['subject']}")
    for col in ("event", "at", "action", "who", "purpose"):
        table.add_column(col, overflow="fold")
    for e in body["events"]:
        table.add_row(str(e["event"]), e["at"][:19], e["action"], e["who"], e["purpose"] or "")
    out.print(table)


@app.command("quality")
def quality(as_json: Json = False) -> None:
    """Objections per provider: received, open, upheld, corrected, retracted, median review."""
    body = _rights().provider_quality(cli_actor())
    if as_json:
        print_json(body)
        return
    table = Table(title="Objections by provider", show_edge=False)
    for col in ("provider", "received", "open", "upheld", "corrected", "retracted", "median"):
        table.add_column(col, justify="left" if col == "provider" else "right")
    for q in body["providers"]:
        hours = q["median_review_hours"]
        table.add_row(
            q["title"],
            *(str(q[k]) for k in ("received", "open", "upheld", "corrected", "retracted")),
            "" if hours is None else (f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} d"),
        )
    out.print(table)
    if not body["providers"]:
        out.print("No objections yet.")


@app.command("erase")
def erase(
    subject: Annotated[str, typer.Argument(help="The subject's id or identifier.")],
    legal_basis: Annotated[str, typer.Option(help="The law that requires the erasure.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    as_json: Json = False,
) -> None:
    """Erase a subject's personal data where the law requires it. The audit log keeps its
    (pseudonymous) events and still verifies. This cannot be undone."""
    if not yes and not typer.confirm(
        f"Erase every record, case and decision of subject {subject}? This cannot be undone",
        err=True,
    ):
        fail("nothing erased")
    body = _rights().erase(cli_actor(), subject, legal_basis)
    if as_json:
        print_json(body)
        return
    removed = ", ".join(f"{n:,} {k.replace('_', ' ')}" for k, n in body["removed"].items())
    out.print(f"Subject {body['subject']} erased: {removed}.", highlight=False)


@app.command("maintain")
def maintain(
    deliver: Annotated[
        bool, typer.Option("--deliver/--no-deliver", help="Send due webhook notifications.")
    ] = True,
    full: Annotated[
        bool | None,
        typer.Option(
            "--full/--no-full",
            help="Rescore everyone now / never [default: once a day, when the current "
            "scores are older than today].",
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Expire records at the end of their retention, flag reviews past their deadline,
    rescore, and deliver notifications. `serve` runs this on a schedule."""
    report = run_maintenance(
        state.engine(), audit_log(), cli_actor(), now=now(), deliver=deliver, full=full
    )
    body = {
        "today": report.today.isoformat(),
        "expired": report.expired,
        "overdue": report.overdue,
        "rescored": report.rescored,
        "score_run": report.score_run,
        "delivered": report.delivered,
        "retrying": report.retrying,
        "failed": report.failed,
        "sessions_purged": report.sessions_purged,
        "skipped": report.skipped,
    }
    if as_json:
        print_json(body)
        return
    if report.skipped:
        out.print(
            "Another process is maintaining this database (serve's schedule, or another "
            "`trustledger maintain`): nothing done.",
            highlight=False,
        )
        return
    out.print(
        f"Maintenance as of {body['today']}: {report.expired:,} record(s) expired, "
        f"{len(report.overdue):,} review(s) overdue, {report.rescored:,} subject(s) rescored"
        + (f" (score run {report.score_run})" if report.score_run else "")
        + f"; notifications: {report.delivered:,} delivered, {report.retrying:,} to retry, "
        f"{report.failed:,} failed.",
        highlight=False,
    )
