"""``trustledger records`` and ``trustledger history``: a subject's file, as of any time."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from trustledger.cli.app import (
    app,
    fail,
    log_read,
    out,
    parse_day,
    parse_instant,
    print_json,
    state,
)
from trustledger.domain.record import RecordVersion
from trustledger.service.scoring import resolve_subject
from trustledger.store import records as record_store


def _as_dict(r: RecordVersion) -> dict[str, Any]:
    return {
        "record_id": r.record_id,
        "version": r.version,
        "action": r.action.value,
        "subject_id": r.subject_id,
        "record_type": r.record_type,
        "provider": r.provider,
        "reference": r.reference,
        "valid_from": r.valid_from.isoformat(),
        "valid_to": r.valid_to.isoformat() if r.valid_to else None,
        "recorded_at": r.recorded_at.isoformat(),
        "amount": str(r.amount) if r.amount is not None else None,
        "note": r.note,
    }


def _table(title: str, rows: list[RecordVersion]) -> Table:
    table = Table(title=title, show_edge=False)
    for col in (
        "record",
        "v",
        "action",
        "type",
        "provider",
        "reference",
        "valid from",
        "valid to",
        "recorded at (UTC)",
        "amount",
    ):
        table.add_column(col, overflow="fold")  # never cut an id or a date
    for r in rows:
        table.add_row(
            str(r.record_id),
            str(r.version),
            r.action.value,
            r.record_type,
            r.provider,
            r.reference or "",
            r.valid_from.isoformat(),
            r.valid_to.isoformat() if r.valid_to else "",
            f"{r.recorded_at:%Y-%m-%d %H:%M:%S}",
            f"{r.amount:,.2f}" if r.amount is not None else "",
        )
    return table


@app.command()
def records(
    subject: Annotated[str, typer.Argument(help="Subject id or identifier.")],
    valid_on: Annotated[
        str | None,
        typer.Option(
            "--valid-on", help="Only facts that held on this day (YYYY-MM-DD) [default: any day]."
        ),
    ] = None,
    known_at: Annotated[
        str | None,
        typer.Option("--known-at", help="As the registry knew them at this time [default: now]."),
    ] = None,
    retracted: Annotated[bool, typer.Option(help="Include retracted records.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A subject's records valid on a day, as known at a time (bitemporal)."""
    engine = state.engine()
    found = resolve_subject(engine, subject)
    day = parse_day(valid_on, "--valid-on") if valid_on else None
    instant = parse_instant(known_at, "--known-at")
    with engine.connect() as conn:
        rows = record_store.records_as_of(
            conn, found.id, known_at=instant, valid_on=day, include_retracted=retracted
        )
    log_read("subject.file.read", found.id)
    if as_json:
        print_json([_as_dict(r) for r in rows])
        return
    when = f"valid on {day.isoformat()}, " if day else ""
    out.print(
        _table(
            f"#{found.id} {found.name}: {len(rows)} record(s), {when}as known at "
            f"{instant:%Y-%m-%d %H:%M:%S} UTC",
            rows,
        )
    )


@app.command()
def history(
    record_id: Annotated[int, typer.Argument(help="Record id (see `trustledger records`).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every version of one record, oldest first: nothing is ever changed in place."""
    with state.engine().connect() as conn:
        rows = record_store.record_history(conn, record_id)
    if not rows:
        fail(f"no record {record_id}")
    log_read("subject.file.read", rows[-1].subject_id, record_id=record_id)
    if as_json:
        print_json([_as_dict(r) for r in rows])
        return
    out.print(_table(f"Record {record_id}: {len(rows)} version(s)", rows))
