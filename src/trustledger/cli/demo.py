"""``trustledger demo``: build a synthetic city and show what the registry does with it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from trustledger.cli.app import (
    DEFAULT_POLICY,
    app,
    err,
    fail,
    now,
    out,
    parse_day,
    print_explanation,
    print_run_summary,
    progress_bar,
    state,
)
from trustledger.service.demo import run_demo
from trustledger.service.scoring import explain_subject
from trustledger.store.engine import resolve_url, sqlite_file


@app.command()
def demo(
    subjects: Annotated[
        int, typer.Option(min=1, max=2_000_000, help="How many subjects to generate.")
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
) -> None:
    """Generate a synthetic population, ingest its providers' files, score everyone, and
    print a summary with three explained examples."""
    url = resolve_url(state.db)
    if reset:
        path = sqlite_file(url)
        if path is None:
            fail("--reset only deletes a SQLite file; empty the PostgreSQL database yourself")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    if not policy.is_file():
        fail(f"{policy}: no such policy file (run from the repository root, or pass --policy)")
    day = parse_day(as_of, "--as-of")
    engine = state.engine(check=False)
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
        )
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
