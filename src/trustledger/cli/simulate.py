"""``trustledger simulate`` and ``trustledger demo --out``: synthetic populations as Parquet.

numpy, DuckDB and matplotlib are imported when a command here runs, not when the command
line starts: every other command would pay for them.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from trustledger.cli.app import app, err, fail, out, parse_day, print_json, progress_bar
from trustledger.policy.load import load_policy


def demo_parquet(
    directory: Path, *, subjects: int, seed: int, as_of: str | None, policy: Path
) -> None:
    """``demo --out DIR``: write the batch engines' input layout and stop (no database)."""
    from trustledger.synth.columnar import DEFAULT_CHUNK, PolicyFacts, write_population

    if not policy.is_file():
        fail(f"{policy}: no such policy file (run from the repository root, or pass --policy)")
    loaded = load_policy(policy).policy
    day: date = parse_day(as_of, "--as-of", zone=loaded.policy.zone)
    started = time.perf_counter()
    with progress_bar("Writing Parquet", total=subjects) as bar:
        summary = write_population(
            directory,
            subjects,
            seed=seed,
            as_of=day,
            facts=PolicyFacts.of(loaded),
            chunk_subjects=DEFAULT_CHUNK,
            progress=lambda done, total: bar.update(bar.task_ids[0], completed=done, total=total),
        )
    seconds = time.perf_counter() - started
    out.print(
        f"{directory}: {summary.subjects:,} subjects and {summary.records:,} records as of "
        f"{day.isoformat()} (seed {seed}) in {summary.parts} part file(s) under subjects/, "
        f"records/ and demographics/, in {seconds:.1f} s.",
        highlight=False,
    )


@app.command()
def simulate(
    policy: Annotated[Path, typer.Argument(help="The policy file to simulate.")],
    vs: Annotated[
        Path | None,
        typer.Option("--vs", help="A second policy file: report how it differs from POLICY."),
    ] = None,
    population: Annotated[
        int, typer.Option(min=1, help="How many subjects the synthetic population has.")
    ] = 100_000,
    seed: Annotated[
        int, typer.Option(min=0, help="Random seed: the same seed gives the same report.")
    ] = 42,
    out_dir: Annotated[
        Path,
        typer.Option("--out", help="A new or empty directory for the report, summary and data."),
    ] = Path("var/simulation"),
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Score as of this day [default: today in POLICY's zone]."),
    ] = None,
    scenario: Annotated[
        Path | None,
        typer.Option(help="A scenario file: districts, and uneven enforcement or risk by group."),
    ] = None,
    errors: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="Share of records made wrong for the sensitivity check."
        ),
    ] = 0.01,
    misattributed: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Of the wrong records, the share filed under another subject; the rest "
            "are fabricated.",
        ),
    ] = 0.5,
    engine_name: Annotated[
        str, typer.Option("--engine", help="Batch engine: duckdb, python or spark.")
    ] = "duckdb",
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Simulate a policy over a synthetic population: grades, lists and measures per
    group, disparate impact, sensitivity to wrong data, and the difference to a second
    policy; writes an HTML report and a JSON summary."""
    from trustledger.batch import ENGINES
    from trustledger.service.simulate import simulate as run_simulation
    from trustledger.synth.scenario import load_scenario

    if engine_name not in ENGINES:
        fail(f"--engine: unknown batch engine {engine_name!r}; choose one of {', '.join(ENGINES)}")
    loaded = load_policy(policy)
    other = load_policy(vs) if vs is not None else None
    day = parse_day(as_of, "--as-of", zone=loaded.policy.policy.zone)
    chosen = load_scenario(scenario) if scenario is not None else None
    with err.status("Simulating") as status:
        result = run_simulation(
            out_dir,
            policy=loaded,
            other=other,
            population=population,
            seed=seed,
            as_of=day,
            scenario=chosen,
            error_share=errors,
            misattributed=misattributed,
            engine_name=engine_name,
            stage=lambda text: status.update(text),
        )
    s = result.summary
    if as_json:
        print_json(s)
        return
    out.print(
        f"Simulated {s['run']['policy']['label']} over {s['subjects']:,} subjects "
        f"({s['records']:,} records) as of {s['run']['as_of']} in {result.seconds:.1f} s.",
        highlight=False,
    )
    grades = ", ".join(f"{g} {100 * v['share']:.1f}%" for g, v in s["grades"]["all"].items())
    out.print(f"Grades: {grades}.", highlight=False)
    for name, lst in s["lists"].items():
        out.print(f"List {name}: {lst['subjects']:,} ({100 * lst['share']:.2f}%).", highlight=False)
    flags = s["disparities"]
    out.print(
        f"Groups failing the four-fifths rule: {len(flags)}"
        + "".join(
            f"\n  {d['measure']}: {d['among']}s with {d['attribute']}={d['group']}: "
            f"ratio {d['impact_ratio']:.2f}"
            for d in flags[:10]
        ),
        highlight=False,
    )
    sens = s.get("sensitivity")
    if sens:
        out.print(
            f"With {100 * sens['error_share']:g}% wrong records: {sens['wrongly_listed_any']:,} "
            f"wrongly listed, {sens['wrongly_refused_any']:,} wrongly refused a measure.",
            highlight=False,
        )
    diff = s.get("diff")
    if diff:
        out.print(
            f"Against {s['run']['other_policy']['label']}: {diff['subjects_grade_changed']:,} "
            f"change grade, {diff['subjects_score_changed']:,} change score.",
            highlight=False,
        )
    out.print(f"Report: {result.report}\nSummary: {result.summary_file}", highlight=False)
    out.print(f"Fingerprint: {result.fingerprint}", highlight=False)
