"""The demo: a synthetic city, its providers' files, ingested and scored like real data."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from trustledger.domain.principal import Actor, Principal, Role
from trustledger.errors import Conflict, InvalidInput
from trustledger.policy.load import load_policy
from trustledger.service.audit import AuditLog
from trustledger.service.ingest import BatchQuarantined, IngestReport, ingest_file
from trustledger.service.keys import create_key
from trustledger.service.policies import active_policy, install_policy
from trustledger.service.registry import Registry
from trustledger.service.rights import Upload
from trustledger.service.scoring import RunSummary, score_all, score_subject
from trustledger.store import migrate
from trustledger.store import scores as score_store
from trustledger.store import subjects as subject_store
from trustledger.store.scores import SubjectSummary
from trustledger.synth.population import generate, write_provider_files

__all__ = [
    "EXAMPLES",
    "DemoKey",
    "DemoResult",
    "ExampleBatch",
    "demo_case",
    "demo_keys",
    "ingest_examples",
    "pick_examples",
    "run_demo",
]

#: The example providers' files (examples/providers/manifest.toml): four agencies' own
#: layouts, ingested after the synthetic city.
EXAMPLES = Path("examples/providers")


@dataclass(frozen=True, slots=True)
class ExampleBatch:
    """One example provider's batch and what became of it (``quarantined``: refused and
    kept, its report says why)."""

    provider: str
    file: Path
    report: IngestReport
    quarantined: bool


@dataclass(frozen=True, slots=True)
class DemoResult:
    policy_label: str
    subjects: int
    records: int
    files: dict[str, Path]
    reports: list[IngestReport]
    summary: RunSummary
    examples: list[tuple[str, SubjectSummary]]
    #: The example providers' batches, in the manifest's order.
    example_batches: tuple[ExampleBatch, ...] = ()


def ingest_examples(
    engine: Engine,
    directory: Path,
    *,
    now: datetime,
    audit: Callable[[Connection, IngestReport], None] | None = None,
    on_quarantine: Callable[[Connection, IngestReport], None] | None = None,
) -> list[ExampleBatch]:
    """Ingest the batches ``directory/manifest.toml`` lists, each with its provider's
    mapping, as ``trustledger ingest`` would: accepted ones land, a refused one is kept in
    quarantine (the example rail file is, on purpose)."""
    manifest = tomllib.loads((directory / "manifest.toml").read_text(encoding="utf-8"))
    done: list[ExampleBatch] = []
    for entry in manifest.get("batch", []):
        path = directory / entry["file"]
        try:
            report = ingest_file(
                engine,
                path,
                provider=entry["provider"],
                now=now,
                mapping=directory / entry["mapping"],
                received_by="demo",
                audit=audit,
                on_quarantine=on_quarantine,
            )
        except BatchQuarantined as refused:
            done.append(ExampleBatch(entry["provider"], path, refused.report, True))
        else:
            done.append(ExampleBatch(entry["provider"], path, report, False))
    return done


def run_demo(
    engine: Engine,
    *,
    policy_path: Path,
    workdir: Path,
    n_subjects: int,
    seed: int,
    as_of: date,
    now: datetime,
    stage: Callable[[str], None] = lambda _: None,
    progress: Callable[[int, int], None] | None = None,
    audit: Callable[[Connection, IngestReport], None] | None = None,
    examples: Path | None = None,
    on_quarantine: Callable[[Connection, IngestReport], None] | None = None,
) -> DemoResult:
    """Initialise an empty database, generate and ingest the providers' files, then the
    example providers' files in ``examples`` (when given), and score."""
    # "Today" is the jurisdiction's, as for providers' batches.
    if as_of > now.astimezone(load_policy(policy_path).policy.policy.zone).date():
        raise InvalidInput(
            f"--as-of {as_of.isoformat()} is in the future; records cannot be "
            "reported before they happen"
        )
    migrate.upgrade(engine)
    with engine.connect() as conn:
        if subject_store.count_subjects(conn):
            raise Conflict(
                f"{engine.url.render_as_string(hide_password=True)} already holds "
                "subjects: the demo needs an empty database (use --reset for the "
                "SQLite demo file, or another --db)"
            )
    stored, _ = install_policy(engine, policy_path, now=now)
    stage(f"Generating {n_subjects:,} subjects (seed {seed})")
    population = generate(n_subjects, seed=seed, as_of=as_of)
    stage(f"Writing {len(population.records):,} records as provider files in {workdir}")
    files = write_provider_files(population, workdir)
    reports = []
    for provider, path in sorted(files.items()):
        stage(f"Ingesting {path.name} from {provider}")
        reports.append(ingest_file(engine, path, provider=provider, now=now, audit=audit))
    example_batches: list[ExampleBatch] = []
    if examples is not None:
        stage(f"Ingesting the example providers' own files from {examples}")
        example_batches = ingest_examples(
            engine, examples, now=now, audit=audit, on_quarantine=on_quarantine
        )
    stage("Scoring everyone")
    # The demo's day is its today: its run is what the demo's public register shows.
    summary = score_all(engine, as_of=as_of, known_at=now, now=now, progress=progress, current=True)
    with engine.connect() as conn:
        picked = pick_examples(conn, summary)
    return DemoResult(
        stored.label,
        len(population.subjects),
        len(population.records),
        files,
        reports,
        summary,
        picked,
        tuple(example_batches),
    )


def pick_examples(conn: Connection, summary: RunSummary) -> list[tuple[str, SubjectSummary]]:
    """Three subjects worth reading: a black-listed one, a middling one, a model one."""
    run = summary.run.id
    picks: list[tuple[str, SubjectSummary]] = []

    def first(label: str, rows: list[SubjectSummary]) -> None:
        for row in rows:
            if all(row.id != p.id for _, p in picks):
                picks.append((label, row))
                return

    # The middle of each group, not its extreme: a typical file explains the policy best.
    black = score_store.query_subjects(conn, run, list_name="black", limit=None)
    first("on the black list", black[len(black) // 2 :])
    middling = score_store.query_subjects(conn, run, grade="B", limit=None)
    first("a middling file", middling[len(middling) // 2 :])
    red = score_store.query_subjects(conn, run, list_name="red", limit=None)
    first("on the red list", red[len(red) // 2 :])
    if len(picks) < 3:
        first("another file", score_store.query_subjects(conn, run, limit=3))
    return picks


@dataclass(frozen=True, slots=True)
class DemoKey:
    role: str
    token: str
    scope: str


def demo_keys(engine: Engine, result: DemoResult, *, now: datetime) -> list[DemoKey]:
    """One API key per role, to try the service with: the policy's first provider, a
    relying party for every measure, the first example subject."""
    with engine.connect() as conn:
        policy = active_policy(conn).policy
    keys: list[DemoKey] = []

    def make(role: Role, scope: str, **kwargs: Any) -> None:
        made = create_key(engine, role=role, now=now, label=f"demo {role.value}", **kwargs)
        keys.append(DemoKey(role.value, made.token, scope))

    make(Role.OPERATOR, "")
    if policy.providers:
        provider = next(iter(policy.providers))
        make(Role.PROVIDER, provider, provider=provider)
    make(Role.RELYING_PARTY, "every measure", measures=tuple(policy.measures))
    make(Role.REVIEWER, "")
    if result.examples:
        label, subject = result.examples[0]
        make(Role.SUBJECT, f"subject {subject.id}, {label}", subject=str(subject.id))
    make(Role.PUBLIC, "")
    return keys


def demo_case(
    engine: Engine, audit: AuditLog, result: DemoResult, *, now: datetime
) -> dict[str, Any] | None:
    """The first example subject objects to its smallest negative record, with a note as
    evidence, so that the reviewer's queue has a case to work. Returns the case (None
    without one)."""
    if not result.examples:
        return None
    _, row = result.examples[0]
    registry = Registry(engine, audit, lambda: now)
    with engine.connect() as conn:
        subject = subject_store.get_subject(conn, row.id)
        active = active_policy(conn)
        if subject is None:
            return None
        scored, _ = score_subject(conn, active, subject, known_at=now)
    # The smallest negative record: disputing it leaves the example's list entries as they
    # are, so the other examples the demo prints stay true.
    negative = sorted(
        (ln for ln in scored.lines if ln.record_id is not None and ln.cents < 0),
        key=lambda ln: -ln.cents,
    )
    if not negative:
        return None
    worst = negative[0]
    actor = Actor(
        Principal(key_id=None, role=Role.SUBJECT, label="demo subject", subject_id=subject.id),
        request_id="demo-objection",
    )
    note = (
        "I settled this in full. My bank's confirmation is attached; please ask the "
        "provider to confirm and remove the record."
    )
    return registry.rights.open_objection(
        actor,
        str(subject.id),
        worst.record_id or 0,
        "The obligation was settled; this record should not count.",
        [Upload("statement.txt", "text/plain", note.encode())],
    )
