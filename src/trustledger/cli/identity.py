"""Identity resolution at the terminal: the review queue of proposed links, accepting and
rejecting them, merging and splitting subjects, a subject's identity history, and the
matching model (train one, load it).

Each command runs the same use case as the HTTP service, as the operator at the
terminal, and is written to the audit log. See docs/identity.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from trustledger.cli.app import app, audit_log, cli_actor, fail, now, out, print_json, state
from trustledger.cli.rights import _TerminalLog
from trustledger.service.identity import Identity
from trustledger.service.registry import Registry

identity_app = typer.Typer(
    help="Identity resolution: the review queue, merges and splits, the matching model.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(identity_app, name="identity")

Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Reason = Annotated[str, typer.Option(help="Why, for whoever reads the history.")]


def _identity() -> Identity:
    return Identity(Registry(state.engine(), _TerminalLog(audit_log().key), now))


def _weight(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _show(d: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(d)
        return
    status = "live" if d["live"] else f"ended by {d['ended_by']}"
    line = f"Identity decision {d['id']}: {d['kind']}"
    if d["outcome"]:
        line += f" ({d['outcome']})"
    out.print(f"{line}, {status}", highlight=False, markup=False)
    out.print(
        f"  subject {d['subject']}"
        + (f", other subject {d['other_subject']}" if d["other_subject"] else "")
        + (f", record {d['record_id']}" if d["record_id"] else ""),
        highlight=False,
        markup=False,
    )
    out.print(
        f"  decided {d['decided_at'][:19]} by {d['decided_by']} ({d['role']})",
        highlight=False,
        markup=False,
    )
    if d["match_weight"] is not None:
        out.print(
            f"  match weight {d['match_weight']:.2f} (probability {d['match_probability']:.4f})",
            highlight=False,
            markup=False,
        )
    explanation = d.get("explanation") or {}
    if "prior_weight" in explanation and explanation.get("fields"):
        out.print(f"    prior {explanation['prior_weight']:+.2f}", highlight=False, markup=False)
    for f in explanation.get("fields", []):
        out.print(
            f"    {f['field']:<11} {f['weight']:+7.2f}  {f['level']}", highlight=False, markup=False
        )
    reason = (d.get("evidence") or {}).get("reason")
    if reason:
        out.print(f"  reason: {reason}", highlight=False, markup=False)
    moved = (d.get("evidence") or {}).get("records")
    if moved:
        out.print(f"  records moved: {', '.join(map(str, moved))}", highlight=False, markup=False)
    for s in d.get("subjects", []):
        if s is None:
            continue
        head = f"  subject {s['id']}: " + (
            f"{s['name']} ({s['kind']}"
            + (f", born {s['birth_date']}" if s.get("birth_date") else "")
            + "".join(f", {i['kind']} {i['value']}" for i in s.get("identifiers", []))
            + ")"
            if s.get("found")
            else "merged away or erased"
        )
        out.print(head, highlight=False, markup=False)
        for p in d.get("profiles", {}).get(str(s["id"]), []):
            bits = [p["name"], p["birth_date"], p["address"], p["phone"]]
            out.print(
                f"    {p['source']:<16} " + " | ".join(b or "-" for b in bits),
                highlight=False,
                markup=False,
            )
    for sid, r in (d.get("rescored") or {}).items():
        out.print(
            f"  rescored subject {sid}: {r['score']:.2f} {r['grade']}"
            + (f", lists: {', '.join(r['lists'])}" if r["lists"] else ""),
            highlight=False,
            markup=False,
        )


@identity_app.command("queue")
def queue(
    limit: Annotated[int, typer.Option(min=1, max=100, help="At most this many.")] = 50,
    as_json: Json = False,
) -> None:
    """Records waiting for a reviewer to accept or reject a proposed link, oldest first."""
    body = _identity().queue(cli_actor(), per_page=limit)
    if as_json:
        print_json(body)
        return
    table = Table(title=f"{body['total']:,} link(s) to review", show_edge=False)
    for col in ("decision", "record", "proposed subject", "candidate", "weight", "since"):
        table.add_column(col, overflow="fold")
    for d in body["decisions"]:
        table.add_row(
            str(d["id"]),
            str(d["record_id"]),
            str(d["subject"]),
            str(d["other_subject"]),
            _weight(d["match_weight"]),
            d["decided_at"][:10],
        )
    out.print(table)


@identity_app.command("show")
def show(
    decision: Annotated[int, typer.Argument(help="The identity decision's id.")],
    as_json: Json = False,
) -> None:
    """One identity decision: what was compared, each field's weight, both subjects."""
    _show(_identity().show(cli_actor(), decision), as_json)


@identity_app.command("accept")
def accept(
    decision: Annotated[int, typer.Argument(help="The review's decision id (from the queue).")],
    reason: Reason,
    as_json: Json = False,
) -> None:
    """Accept a proposed link: the record's subject is merged into the candidate."""
    _show(_identity().accept(cli_actor(), decision, reason), as_json)


@identity_app.command("reject")
def reject(
    decision: Annotated[int, typer.Argument(help="The review's decision id (from the queue).")],
    reason: Reason,
    as_json: Json = False,
) -> None:
    """Reject a proposed link: the record stays with a subject of its own."""
    _show(_identity().reject(cli_actor(), decision, reason), as_json)


@identity_app.command("merge")
def merge(
    survivor: Annotated[str, typer.Argument(help="The subject that stays (id or identifier).")],
    absorbed: Annotated[str, typer.Argument(help="The subject merged into it.")],
    reason: Reason,
    as_json: Json = False,
) -> None:
    """Merge two registrations of one subject: records move, both are rescored."""
    _show(_identity().merge(cli_actor(), survivor, absorbed, reason), as_json)


@identity_app.command("split")
def split(
    subject: Annotated[str, typer.Argument(help="The subject to split (id or identifier).")],
    reason: Reason,
    record: Annotated[
        list[int] | None,
        typer.Option("--record", help="A record to split off; repeat for more."),
    ] = None,
    to: Annotated[
        str | None, typer.Option(help="Move the records to this subject, not a new one.")
    ] = None,
    undo: Annotated[
        int | None, typer.Option(help="Undo this merge or accepted link (its decision id).")
    ] = None,
    as_json: Json = False,
) -> None:
    """Split records off a subject (to a new subject or --to another), or --undo a merge."""
    _show(
        _identity().split(cli_actor(), subject, reason, records=record or [], undo=undo, to=to),
        as_json,
    )


@identity_app.command("history")
def history(
    subject: Annotated[str, typer.Argument(help="The subject's id or identifier.")],
    limit: Annotated[int, typer.Option(min=1, max=100, help="At most this many.")] = 50,
    as_json: Json = False,
) -> None:
    """Every identity decision naming the subject, newest first."""
    body = _identity().history(cli_actor(), subject, per_page=limit)
    if as_json:
        print_json(body)
        return
    table = Table(title=f"{body['total']:,} identity decision(s)", show_edge=False)
    for col in ("decision", "kind", "subject", "other", "record", "weight", "by", "at", "live"):
        table.add_column(col, overflow="fold")
    for d in body["decisions"]:
        table.add_row(
            str(d["id"]),
            d["kind"] + (f" ({d['outcome']})" if d["outcome"] else ""),
            str(d["subject"]),
            str(d["other_subject"] or "-"),
            str(d["record_id"] or "-"),
            _weight(d["match_weight"]),
            d["decided_by"],
            d["decided_at"][:16],
            "yes" if d["live"] else f"ended by {d['ended_by']}",
        )
    out.print(table)


@identity_app.command("train")
def train(
    out_file: Annotated[Path, typer.Option("--out", help="Where to write the model file.")],
    synthetic: Annotated[
        int | None,
        typer.Option(
            help="Train on this many synthetic records (trustledger.synth.linkage) instead "
            "of the registry's own subjects and resolved records."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed: sampling, and synthetic data.")] = 1,
    u_pairs: Annotated[
        float, typer.Option(help="Random pairs sampled to estimate u probabilities.")
    ] = 1e7,
    force: Annotated[bool, typer.Option(help="Overwrite --out if it exists.")] = False,
) -> None:
    """Train a matching model (Splink, unsupervised) and write it as a file to load."""
    from trustledger.resolve.model import MatchModel, as_table, train_model

    if out_file.exists() and not force:
        fail(f"{out_file} exists: choose another --out, or --force to overwrite it")
    started = datetime.now(UTC)
    if synthetic is not None:
        from trustledger.synth.linkage import generate_linkage, match_inputs

        known, incoming = match_inputs(generate_linkage(synthetic, seed=seed))
        rows = [m.row() for m in known + incoming]
        source: dict[str, Any] = {"source": "synthetic", "generator_seed": seed}
    else:
        rows = _registry_rows()
        source = {"source": "registry"}
    body = train_model(as_table(rows), now=started, seed=seed, u_pairs=u_pairs, trained_on=source)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(body, encoding="utf-8")
    model = MatchModel(body, filename=str(out_file))
    seconds = (datetime.now(UTC) - started).total_seconds()
    out.print(
        f"Trained on {len(rows):,} records in {seconds:.0f} s;"
        f" wrote {out_file} (sha256 {model.sha256[:16]}...). Load it with "
        f"`trustledger identity model load {out_file}`.",
        highlight=False,
        markup=False,
    )


def _registry_rows() -> list[dict[str, Any]]:
    """The registry's profiles as training rows (indexing new subjects first); the read
    is logged."""
    from trustledger.resolve.match import match_input
    from trustledger.resolve.resolver import index_subjects
    from trustledger.service.audit import Entry
    from trustledger.store import identity as identity_store

    engine = state.engine()
    log = audit_log()
    with engine.begin() as conn:
        index_subjects(conn, now=now())
    rows = []
    with engine.connect() as conn:
        for n, p in enumerate(identity_store.iter_profiles(conn)):
            rows.append(
                match_input(f"p{n}", p.kind, p.name, p.birth_date, p.address, p.phone).row()
            )
    with engine.begin() as conn:
        log.append(
            conn,
            cli_actor(),
            [Entry("identity.profiles.read", None, {"profiles": len(rows), "for": "training"})],
            now=now(),
        )
    return rows


model_app = typer.Typer(
    help="The matching models loaded into the registry.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
identity_app.add_typer(model_app, name="model")


@model_app.command("load")
def model_load(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="A model file.")],
) -> None:
    """Load a trained model file; the newest loaded is used unless the policy pins one."""
    body = _identity().load_model(cli_actor(), file.read_text(encoding="utf-8"), str(file))
    verb = "Loaded" if body["new"] else "Already loaded"
    out.print(
        f"{verb} {file}: sha256 {body['sha256']} (trained {body['trained_at'][:10]} on "
        f"{body['trained_on'].get('records', '?'):,} records)",
        highlight=False,
        markup=False,
    )


@model_app.command("list")
def model_list(as_json: Json = False) -> None:
    """The loaded models, newest (the one in force unless the policy pins one) first."""
    from trustledger.store import identity as identity_store

    with state.engine().connect() as conn:
        rows = identity_store.list_models(conn)
    items = [
        {
            "sha256": r.sha256,
            "filename": r.filename,
            "loaded_at": r.loaded_at.isoformat(),
            "loaded_by": r.loaded_by,
        }
        for r in rows
    ]
    if as_json:
        print_json(items)
        return
    if not items:
        out.print("No model loaded: the model shipped with trustledger is used.", highlight=False)
        return
    table = Table(show_edge=False)
    for col in ("sha256", "file", "loaded"):
        table.add_column(col, overflow="fold")
    for m in items:
        table.add_row(m["sha256"][:16], m["filename"], m["loaded_at"][:16])
    out.print(table)
