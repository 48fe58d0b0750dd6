"""``trustledger policy``: lint, load, show and list policy versions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from trustledger.cli.app import app, err, fail, now, out, print_json, state
from trustledger.policy.lint import lint_file
from trustledger.service.policies import active_policy, install_policy
from trustledger.store.policies import list_policies

policy_app = typer.Typer(
    help="Check, load and inspect policy files and their versions.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(policy_app, name="policy")


@policy_app.command("lint")
def lint(
    file: Annotated[Path, typer.Argument(help="The policy file (TOML) to check.")],
    strict: Annotated[bool, typer.Option(help="Treat warnings as errors.")] = False,
) -> None:
    """Check a policy file; every problem is printed as FILE:LINE: reason.

    Refuses a policy that scores a protected category (political opinion, speech, religion,
    ethnicity or origin, health, sexual life, union membership, family status) or lets a
    domain affect a measure with no legal basis stated. Exit code 1 when refused.
    """
    if not file.is_file():
        fail(f"{file}: no such file")
    problems = lint_file(file)
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity != "error"]
    for p in problems:
        err.print(f"{p} [{p.severity}]", highlight=False, markup=False, soft_wrap=True)
    if errors or (strict and warnings):
        fail(f"{file}: refused ({len(errors)} error(s), {len(warnings)} warning(s))")
    out.print(f"{file}: ok ({len(warnings)} warning(s))", highlight=False)


@policy_app.command("load")
def load(
    file: Annotated[Path, typer.Argument(help="The policy file (TOML) to load.")],
) -> None:
    """Lint and store a policy file as a new immutable version (same text: no new version)."""
    if not file.is_file():
        fail(f"{file}: no such file")
    stored, created = install_policy(state.engine(), file, now=now())
    if created:
        out.print(
            f"Loaded {stored.label} from {file} (sha256 {stored.sha256[:12]}).", highlight=False
        )
    else:
        out.print(f"Unchanged: {file} is already {stored.label}.", highlight=False)


@policy_app.command("show")
def show(
    version: Annotated[
        str | None, typer.Argument(help="NAME@N, NAME or #ID [default: the newest loaded].")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the parsed policy as JSON.")
    ] = False,
    source: Annotated[bool, typer.Option(help="Print the stored file text exactly.")] = False,
) -> None:
    """Show a stored policy version: a summary, its JSON form, or its exact source text."""
    with state.engine().connect() as conn:
        active = active_policy(conn, version)
    p, stored = active.policy, active.stored
    if source:
        out.print(stored.source, markup=False, highlight=False, end="")
        return
    if as_json:
        print_json(
            {
                "version": stored.label,
                "sha256": stored.sha256,
                "loaded_at": stored.loaded_at.isoformat(),
                "filename": stored.filename,
                "policy": p.model_dump(mode="json"),
            }
        )
        return
    out.print(
        f"[bold]{stored.label}[/] {p.policy.title} — loaded "
        f"{stored.loaded_at:%Y-%m-%d %H:%M} UTC from {stored.filename}",
        highlight=False,
    )
    out.print(
        f"base score {p.policy.base_score}; grades "
        + ", ".join(
            f"{b.grade} ≥ {b.min_score}" if b.min_score is not None else b.grade for b in p.grades
        ),
        highlight=False,
    )
    table = Table(title="Record types", show_edge=False)
    for col in ("record type", "domain", "points", "decay", "counts for"):
        table.add_column(col, justify="right" if col == "points" else "left")
    for name, rt in p.record_types.items():
        decay = "none" if rt.decay.kind == "none" else f"{rt.decay.kind} {rt.decay.period}"
        table.add_row(name, rt.domain, f"{rt.points:+}", decay, str(rt.counts_for))
    out.print(table)
    measures = Table(title="Measures", show_edge=False)
    for col in ("measure", "kind", "effect", "affected by"):
        measures.add_column(col)
    for name, m in p.measures.items():
        measures.add_row(name, m.kind, m.effect, ", ".join(m.affected_by))
    out.print(measures)


@policy_app.command("versions")
def versions(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List every stored policy version, oldest first."""
    with state.engine().connect() as conn:
        rows = list_policies(conn)
    if as_json:
        print_json(
            [
                {
                    "version": r.label,
                    "id": r.id,
                    "sha256": r.sha256,
                    "filename": r.filename,
                    "loaded_at": r.loaded_at.isoformat(),
                }
                for r in rows
            ]
        )
        return
    table = Table(show_edge=False)
    for col in ("version", "loaded at (UTC)", "sha256", "file"):
        table.add_column(col)
    for r in rows:
        table.add_row(r.label, f"{r.loaded_at:%Y-%m-%d %H:%M:%S}", r.sha256[:12], r.filename)
    out.print(table)
    if not rows:
        out.print("No policy loaded yet: run `trustledger policy load FILE`.")
