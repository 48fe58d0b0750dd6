"""``trustledger demo``: build a synthetic city and show what the registry does with it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from trustledger.cli.app import (
    DEFAULT_POLICY,
    app,
    audit_log,
    cli_actor,
    err,
    fail,
    log_ingest,
    log_read,
    now,
    out,
    parse_day,
    print_explanation,
    print_run_summary,
    progress_bar,
    state,
)
from trustledger.cli.ingest import log_quarantine, print_example_batches
from trustledger.cli.serve import start_server
from trustledger.cli.simulate import demo_parquet
from trustledger.policy.load import load_policy
from trustledger.service.demo import EXAMPLES, demo_case, demo_keys, run_demo
from trustledger.service.scoring import explain_subject
from trustledger.service.sessions import create_signin_code
from trustledger.store import migrate
from trustledger.store.engine import resolve_url, sqlite_file


@app.command()
def demo(
    subjects: Annotated[
        int,
        typer.Option(
            min=1,
            help="How many subjects to generate (at most 2,000,000 into a database; "
            "any number with --out).",
        ),
    ] = 10_000,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives the same city.")] = 42,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Score as of this day [default: today].")
    ] = None,
    policy: Annotated[Path, typer.Option(help="Policy file.")] = DEFAULT_POLICY,
    workdir: Annotated[Path, typer.Option(help="Where the providers' files are written.")] = Path(
        "var/demo/providers"
    ),
    reset: Annotated[bool, typer.Option(help="Delete the SQLite database file first.")] = False,
    serve: Annotated[
        bool,
        typer.Option(help="End by serving the demo over HTTP, with one API key per role."),
    ] = True,
    host: Annotated[str, typer.Option(help="Address to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to serve on.")] = 8000,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write the population as Parquet in the batch engines' input layout to "
            "this new directory, streaming, and stop (no database, no server).",
        ),
    ] = None,
) -> None:
    """Generate a synthetic population, ingest its providers' files, score everyone, print
    a summary with three explained examples, then serve it with a demo key per role."""
    if out_dir is not None:
        demo_parquet(out_dir, subjects=subjects, seed=seed, as_of=as_of, policy=policy)
        return
    if subjects > 2_000_000:
        fail("--subjects: at most 2,000,000 into a database; use --out DIR for more")
    url = resolve_url(state.db)
    if reset:
        path = sqlite_file(url)
        if path is None:
            fail("--reset only deletes a SQLite file; empty the PostgreSQL database yourself")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    if not policy.is_file():
        fail(f"{policy}: no such policy file (run from the repository root, or pass --policy)")
    # Today in the policy's time zone, as the service and `score` see it.
    day = parse_day(as_of, "--as-of", zone=load_policy(policy).policy.policy.zone)
    engine = state.engine(check=False)
    migrate.upgrade(engine)
    # The synthetic city's ingest is logged like any other write.
    log = audit_log()
    with progress_bar("Scoring") as bar:
        result = run_demo(
            engine,
            policy_path=policy,
            workdir=workdir,
            n_subjects=subjects,
            seed=seed,
            as_of=day,
            now=now(),
            stage=lambda text: err.print(f"· {text}", highlight=False),
            progress=lambda done, total: bar.update(bar.task_ids[0], completed=done, total=total),
            audit=log_ingest(log, cli_actor()),
            examples=EXAMPLES if EXAMPLES.is_dir() else None,
            on_quarantine=log_quarantine(log, cli_actor()),
        )
    log_read("scores.run", None, run=result.summary.run.id, subjects=result.subjects)
    out.rule(
        f"trustledger demo: {result.subjects:,} subjects, {result.records:,} records, "
        f"{len(result.files)} providers, policy {result.policy_label}"
    )
    providers = Table(title="Ingested", show_edge=False)
    for col in ("provider", "file", "rows", "new subjects"):
        providers.add_column(col, justify="left" if col in ("provider", "file") else "right")
    for r in result.reports:
        providers.add_row(r.provider, Path(r.file).name, f"{r.rows:,}", f"{r.new_subjects:,}")
    out.print(providers)
    print_example_batches(result.example_batches)
    print_run_summary(result.summary)
    for label, row in result.examples:
        out.rule(f"Example: {label}")
        print_explanation(
            explain_subject(engine, str(row.id), as_of=day, known_at=result.summary.run.known_at)
        )
    db = "" if state.db is None else f" --db {state.db}"
    out.rule("What to run next")
    first = result.examples[0][1].id if result.examples else 1
    steps = [
        (f"explain {first}", "why this subject has its score"),
        (f"explain {first} --json", "the same, as JSON"),
        (f"records {first}", "the subject's file (bitemporal)"),
        ("subjects --list black", "who is on the black list"),
        ("subjects --grade D", "the lowest grade"),
        ("lists", "list sizes and rules"),
        ("policy show", "the policy in force"),
        (f"policy lint {policy}", "check a policy file"),
    ]
    width = max(len(f"trustledger{db} {cmd}") for cmd, _ in steps) + 3
    lines = [f"Database: {url}"]
    lines += [f"  {f'trustledger{db} {cmd}':<{width}}{why}" for cmd, why in steps]
    lines.append("Run them with .venv/bin/trustledger, or `source .venv/bin/activate` first.")
    out.print("\n".join(lines), highlight=False, markup=False)

    keys = demo_keys(engine, result, now=now())
    keys_file = workdir.parent / "keys.txt"
    keys_file.parent.mkdir(parents=True, exist_ok=True)
    keys_file.unlink(missing_ok=True)
    keys_file.touch(mode=0o600)
    keys_file.write_text("".join(f"{k.role}\t{k.token}\t{k.scope}\n" for k in keys))
    base = f"http://{host}:{port}"
    out.rule("The HTTP service")
    table = Table(show_edge=False, title=f"Demo API keys (also in {keys_file})")
    for col in ("role", "key", "scope"):
        table.add_column(col, overflow="fold")
    for k in keys:
        table.add_row(k.role, k.token, k.scope)
    out.print(table)
    case = demo_case(engine, log, result, now=now())
    relying = next((k.token for k in keys if k.role == "relying_party"), "KEY")
    subject_key = next((k.token for k in keys if k.role == "subject"), "KEY")
    reviewer = next((k.token for k in keys if k.role == "reviewer"), "KEY")
    first_id = result.examples[0][1].id if result.examples else 1
    out.print(
        "\n".join(
            [
                f"Address: {base}   API docs: {base}/docs",
                "Try:",
                f"  curl -s -H 'Authorization: Bearer {relying}' \\",
                "       -H 'Content-Type: application/json' \\",
                f'       -d \'{{"subject": {first_id}, "measure": "restrict_air_travel", '
                f'"purpose": "ticket_sale"}}\' {base}/v1/decisions',
                f"  curl -s {base}/v1/public/lists/black",
                "The example subject's own file, with paths to repair, and who looked:",
                f"  curl -s -H 'Authorization: Bearer {subject_key}' {base}/v1/subjects/me",
                f"  curl -s -H 'Authorization: Bearer {subject_key}' "
                f"{base}/v1/subjects/me/access-log",
                *(
                    [
                        f"It objected to record {case['record_id']} (case {case['id']}); "
                        "the reviewer's queue:",
                        f"  curl -s -H 'Authorization: Bearer {reviewer}' {base}/v1/cases",
                    ]
                    if case
                    else []
                ),
                f"  curl -s {base}/v1/audit/tree-head",
                f"  trustledger{db} audit verify",
            ]
        ),
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    out.rule("The web pages")
    pages = {
        "operator": "/dashboard",
        "reviewer": "/desk",
        "subject": "/me",
        "provider": "/account",
        "relying_party": "/account",
        "public": "/",
    }
    signins = Table(
        show_edge=False,
        title="One-time sign-in links (each works once, within 24 hours; "
        "or paste the role's key at /signin)",
    )
    for col in ("role", "sign in", "then"):
        signins.add_column(col, overflow="fold")
    for k in keys:
        key_id = k.token.split("_")[1]
        code = create_signin_code(engine, key_id, now=now(), ttl=timedelta(hours=24))
        signins.add_row(k.role, f"{base}/signin?code={code}", pages.get(k.role, "/"))
    out.print(signins)
    out.print(
        f"Public register (no sign-in): {base}/register   What is scored: {base}/policy",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    if serve:
        start_server(host=host, port=port)
