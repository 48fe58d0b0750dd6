"""``trustledger export --parquet`` and ``trustledger score-parquet``: the store as the
batch engines' Parquet input, and a Parquet population scored into Parquet results."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trustledger.cli.app import (
    app,
    fail,
    log_read,
    now,
    out,
    parse_day,
    parse_instant,
    state,
    today,
)
from trustledger.policy.load import load_policy
from trustledger.policy.schema import Policy
from trustledger.service.policies import active_policy


@app.command()
def export(
    parquet: Annotated[
        Path,
        typer.Option(
            "--parquet",
            help="Write subjects/ and records/ as Parquet under this directory.",
        ),
    ],
    known_at: Annotated[
        str | None,
        typer.Option("--known-at", help="Records as known at this time [default: now]."),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Replace the directory when it is not empty.")
    ] = False,
) -> None:
    """Export every subject and its records (as known at a time) for the batch engines.

    The layout is the one ``score-parquet``, ``--engine spark`` and a Spark cluster read:
    DIR/subjects/*.parquet, DIR/records/*.parquet and DIR/manifest.json. Each record is
    its version current as known at --known-at, with the review cases' dispute flags.
    """
    from trustledger.service.batch import export_parquet

    instant = parse_instant(known_at, "--known-at")
    try:
        report = export_parquet(
            state.engine(), parquet, known_at=instant, now=now(), overwrite=overwrite
        )
    except FileExistsError as exc:
        fail(f"--parquet: {exc}")
    log_read(
        "records.export",
        None,
        directory=str(parquet),
        subjects=report.subjects,
        records=report.records,
        known_at=instant.isoformat(),
    )
    out.print(
        f"Exported {report.subjects:,} subjects and {report.records:,} records as known at "
        f"{instant.isoformat()} to {parquet}.",
        highlight=False,
    )


def _policy(ref: str | None) -> tuple[Policy, str]:
    """A policy file (TOML) by path, or a stored version, or the store's newest."""
    if ref is not None and Path(ref).is_file():
        loaded = load_policy(ref)
        return loaded.policy, f"{loaded.policy.policy.name} ({ref})"
    with state.engine().connect() as conn:
        active = active_policy(conn, ref)
    return active.policy, active.label


@app.command(name="score-parquet")
def score_parquet(
    source: Annotated[
        str,
        typer.Argument(
            help="A population: DIR/subjects/*.parquet and DIR/records/*.parquet "
            "(a URI such as s3a://bucket/city with --engine spark)."
        ),
    ],
    out_dir: Annotated[
        str,
        typer.Option(
            "--out",
            help="Write scores, lists and totals as Parquet here (a URI with --engine spark: "
            "the cluster writes them).",
        ),
    ],
    policy: Annotated[
        str | None,
        typer.Option(
            help="A policy file, or a stored version such as example-city@2 "
            "[default: the newest loaded]."
        ),
    ] = None,
    engine_name: Annotated[
        str, typer.Option("--engine", help="duckdb, spark or python.")
    ] = "duckdb",
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Score as of this day (YYYY-MM-DD) [default: today]."),
    ] = None,
    contributions: Annotated[
        bool,
        typer.Option(
            help="Also write every line of every score and the records that do not count."
        ),
    ] = False,
    master: Annotated[
        str | None,
        typer.Option(help="Spark master URL for --engine spark [default: local[2]]."),
    ] = None,
) -> None:
    """Score a Parquet population (an export, or `demo --out`) without touching the store.

    Writes OUT/scores.parquet, lists.parquet, domain_totals.parquet (and with
    --contributions, contributions.parquet and not_counted.parquet) and OUT/run.json.
    """
    from trustledger.batch import ENGINES
    from trustledger.service.batch import score_parquet as run
    from trustledger.service.batch import write_result

    if engine_name not in ENGINES:
        fail(f"--engine: unknown engine {engine_name!r}; choose one of {', '.join(ENGINES)}")
    if master is not None and engine_name != "spark":
        fail("--master: only for --engine spark")
    remote = "://" in out_dir
    if ("://" in source or remote) and engine_name != "spark":
        fail("object storage (a URI) is read and written by --engine spark only")
    options: dict[str, str] = {}
    if master:
        options["master"] = master
    if remote:
        options["output"] = out_dir
    pol, label = _policy(policy)
    day = parse_day(as_of, "--as-of", zone=pol.policy.zone) if as_of else today(pol.policy.zone)
    try:
        result = run(
            source if "://" in source else Path(source),
            pol,
            engine_name=engine_name,
            as_of=day,
            policy_version=label,
            contributions=contributions,
            options=options,
        )
    except (FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    if not remote:
        write_result(result, Path(out_dir))
    listed = "" if remote else f"; {result.lists.num_rows:,} list entries"
    out.print(
        f"Scored {result.subject_count:,} subjects and {result.record_count:,} records with "
        f"{engine_name} in {result.seconds:.1f} s ({label}, as of {day.isoformat()})"
        f"{listed}; results in {out_dir}.",
        highlight=False,
    )
