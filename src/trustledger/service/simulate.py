"""The ``simulate`` use case: population, scoring, findings, report.

::

    result = simulate(Path("var/sim"), policy=load_policy(a), other=load_policy(b),
                      population=100_000, seed=42, as_of=date(2026, 6, 30))
    result.report        # var/sim/report.html: one self-contained file, charts inline
    result.summary_file  # var/sim/summary.json: every number of the report
    result.fingerprint   # the same for the same inputs, whatever the machine's speed

``DIR`` gets ``population/`` (the synthetic population in the batch engines' layout, with
``demographics/``), ``population-with-errors/`` (the same population with the injected
errors, and ``errors/`` saying which records are wrong), ``summary.json`` and
``report.html``. Nothing here touches a registry database: no subject's data is read,
so nothing is audited.

The same inputs give the same bytes, and the report still says how long it took: the
run's durations are the one thing that differs between two runs, and they are kept apart.
In ``summary.json`` they are the top-level ``timing`` object; in ``report.html`` they sit
between the comments ``<!-- timing -->`` and ``<!-- /timing -->``. Everything else is
byte-identical, and ``fingerprint`` (also in ``summary.json``) is the SHA-256 of both files
with those parts taken out: two runs agree when their fingerprints do.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any, Final

import jinja2

from trustledger import __version__
from trustledger.batch.simulate import DI_THRESHOLD, MIN_GROUP, Runs, analyse, score_policy
from trustledger.errors import InvalidInput
from trustledger.policy.load import LoadedPolicy
from trustledger.synth.columnar import ErrorSpec, PolicyFacts, write_population
from trustledger.synth.scenario import AGE_BANDS, AREAS, KINDS, SEXES, Scenario
from trustledger.web import charts

__all__ = ["SimulationResult", "fingerprint", "simulate", "without_timing"]

POPULATION: Final = "population"
WITH_ERRORS: Final = "population-with-errors"
SUMMARY: Final = "summary.json"
REPORT: Final = "report.html"
_TIMING = re.compile(r"<!-- timing -->.*?<!-- /timing -->", re.DOTALL)
_TEMPLATES: Final = Path(__file__).resolve().parent.parent / "batch" / "templates"


@dataclass(frozen=True)
class SimulationResult:
    directory: Path
    summary: dict[str, Any]
    report: Path
    summary_file: Path
    fingerprint: str
    seconds: float


def without_timing(summary_text: str, report_text: str) -> tuple[str, str]:
    """The two files with the run's durations taken out: what must match byte for byte."""
    data = json.loads(summary_text)
    data.pop("timing", None)
    data.pop("fingerprint", None)
    return _dump(data), _TIMING.sub("<!-- timing --><!-- /timing -->", report_text)


def fingerprint(summary_text: str, report_text: str) -> str:
    """SHA-256 of the summary and the report without their timing."""
    summary, report = without_timing(summary_text, report_text)
    digest = hashlib.sha256()
    for part in (summary, report):
        digest.update(part.encode("utf-8"))
        digest.update(b"\0")
    return digest.hexdigest()


def _dump(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _describe(loaded: LoadedPolicy, other: LoadedPolicy | None = None) -> dict[str, Any]:
    """A policy as the report names it; two versions of one policy usually share a title,
    so then the file tells them apart (``"Example City pilot (stricter.toml)"``)."""
    p = loaded.policy.policy
    shown = p.title
    if other is not None and other.policy.policy.title == shown:
        shown = f"{shown} ({Path(loaded.filename).name})"
    return {
        "name": p.name,
        "title": p.title,
        "shown": shown,
        "file": Path(loaded.filename).name,
        "sha256": loaded.sha256,
        "label": f"{p.name}@{loaded.sha256[:12]}",
    }


def simulate(
    directory: Path,
    *,
    policy: LoadedPolicy,
    other: LoadedPolicy | None = None,
    population: int,
    seed: int,
    as_of: date,
    scenario: Scenario | None = None,
    error_share: float = 0.01,
    misattributed: float = 0.5,
    engine_name: str = "duckdb",
    stage: Callable[[str], None] | None = None,
) -> SimulationResult:
    """Run a whole simulation into ``directory`` (new, or empty).

    Everything is written into a hidden directory inside it and moved into place at the
    end: a simulation that fails leaves ``directory`` as it found it.
    """
    if directory.exists() and any(directory.iterdir()):
        raise InvalidInput(
            f"{directory}: not empty; a simulation writes into a new or empty directory "
            "(nothing was changed)"
        )
    created = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".simulation-", dir=directory))
    try:
        result = _simulate(
            staging,
            policy=policy,
            other=other,
            population=population,
            seed=seed,
            as_of=as_of,
            scenario=scenario,
            error_share=error_share,
            misattributed=misattributed,
            engine_name=engine_name,
            say=stage or (lambda _text: None),
        )
        for item in sorted(staging.iterdir()):
            item.replace(directory / item.name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if created:
            shutil.rmtree(directory, ignore_errors=True)
        raise
    staging.rmdir()
    return replace(
        result,
        directory=directory,
        report=directory / REPORT,
        summary_file=directory / SUMMARY,
    )


def _simulate(
    directory: Path,
    *,
    policy: LoadedPolicy,
    other: LoadedPolicy | None,
    population: int,
    seed: int,
    as_of: date,
    scenario: Scenario | None,
    error_share: float,
    misattributed: float,
    engine_name: str,
    say: Callable[[str], None],
) -> SimulationResult:
    scenario = scenario or Scenario()
    spec = ErrorSpec(share=error_share, misattributed=misattributed)
    timing: dict[str, float] = {}
    started = time.perf_counter()

    def timed(name: str, text: str) -> Callable[[], None]:
        say(text)
        t0 = time.perf_counter()

        def done() -> None:
            timing[name] = round(time.perf_counter() - t0, 2)

        return done

    facts = PolicyFacts.of(policy.policy)
    clean_dir, errors_dir = directory / POPULATION, directory / WITH_ERRORS
    done = timed("generate", f"Generating {population:,} subjects")
    written = write_population(
        clean_dir, population, seed=seed, as_of=as_of, scenario=scenario, facts=facts
    )
    write_population(
        errors_dir, population, seed=seed, as_of=as_of, scenario=scenario, facts=facts, errors=spec
    )
    done()
    label_a = _describe(policy)["label"]
    done = timed("score", f"Scoring with {label_a} ({engine_name})")
    clean = score_policy(
        clean_dir, policy.policy, label=label_a, as_of=as_of, engine_name=engine_name
    )
    done()
    done = timed("score_with_errors", "Scoring the population with injected errors")
    wrong = score_policy(
        errors_dir, policy.policy, label=label_a, as_of=as_of, engine_name=engine_name
    )
    done()
    other_run = None
    if other is not None:
        label_b = _describe(other)["label"]
        done = timed("score_other", f"Scoring with {label_b}")
        other_run = score_policy(
            clean_dir, other.policy, label=label_b, as_of=as_of, engine_name=engine_name
        )
        done()
    done = timed("analyse", "Comparing groups")
    findings = analyse(
        Runs(clean=clean, with_errors=wrong, other=other_run),
        population=clean_dir,
        errors_population=errors_dir,
        error_spec={"error_share": error_share, "misattributed_share": misattributed},
        order={
            "kind": KINDS,
            "area": AREAS,
            "age_band": [band[0] for band in AGE_BANDS],
            "sex": SEXES,
            "income_band": list(scenario.income_bands),
        },
    )
    done()
    summary: dict[str, Any] = {
        "trustledger": __version__,
        "run": {
            "policy": _describe(policy, other),
            "other_policy": _describe(other, policy) if other is not None else None,
            "population": written.subjects,
            "records": written.records,
            "seed": seed,
            "as_of": as_of.isoformat(),
            "scenario": scenario.model_dump(mode="json"),
            "engine": engine_name,
            "error_share": error_share,
            "misattributed_share": misattributed,
            "di_threshold": DI_THRESHOLD,
            "min_group": MIN_GROUP,
        },
        **findings,
    }
    done = timed("report", "Drawing the report")
    drawn = _charts(summary)
    done()
    timing["total"] = round(time.perf_counter() - started, 2)
    summary["timing"] = timing
    report_text = render_report(summary, timing=timing, drawn=drawn)
    summary["fingerprint"] = fingerprint(_dump(summary), report_text)
    # The fingerprint is shown in the report's timing section, which it does not cover.
    report_text = render_report(
        summary, timing=timing, drawn=drawn, fingerprint=summary["fingerprint"]
    )
    summary_text = _dump(summary)
    summary_file, report = directory / SUMMARY, directory / REPORT
    summary_file.write_text(summary_text, encoding="utf-8")
    report.write_text(report_text, encoding="utf-8")
    return SimulationResult(
        directory=directory,
        summary=summary,
        report=report,
        summary_file=summary_file,
        fingerprint=summary["fingerprint"],
        seconds=timing["total"],
    )


# --------------------------------------------------------------------------------------
# The report.

_ATTRIBUTE_TITLES: Final = {
    "kind": "Kind of subject",
    "district": "District",
    "area": "Urban or rural",
    "age_band": "Age band (persons)",
    "sex": "Sex (persons)",
    "income_band": "Income band (persons)",
}
_STAGE_TITLES: Final = {
    "generate": "Generating both populations",
    "score": "Scoring with the policy",
    "score_with_errors": "Scoring the population with errors",
    "score_other": "Scoring with the second policy",
    "analyse": "Comparing groups",
    "report": "Drawing the report",
    "total": "Total",
}


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["pct"] = _pct
    env.filters["num"] = lambda v: f"{v:,}"
    env.filters["ratio"] = lambda v: "–" if v is None else f"{v:.2f}"
    env.filters["pts"] = lambda v: f"{v:.2f}"
    return env


def _pct(value: float | None, places: int = 1) -> str:
    if value is None:
        return "–"
    return f"{100 * value:.{places}f}%"


def _percentages(counts: list[int]) -> list[float]:
    """Counts as percentages with one decimal that add up to exactly 100 (largest
    remainder), so that a stacked bar of shares reads 100.

    >>> _percentages([1, 1, 1])
    [33.4, 33.3, 33.3]
    """
    total = sum(counts)
    if total == 0:
        return [0.0 for _ in counts]
    exact = [1000 * c / total for c in counts]
    tenths = [int(e) for e in exact]
    order = sorted(range(len(counts)), key=lambda i: (-(exact[i] - tenths[i]), i))
    for i in order[: 1000 - sum(tenths)]:
        tenths[i] += 1
    return [t / 10 for t in tenths]


def _charts(summary: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    hist = summary["scores"]["histogram"]
    out["scores"] = charts.bars(
        [(f"<{b['to']:g}" if b["from"] is None else f"{b['from']:g}", b["subjects"]) for b in hist],
        chart_id="scores",
        title="Scores",
        summary="How many subjects have a score in each band of 50 points, labelled by "
        "its lowest score; the first band holds every lower score too.",
    )
    grades = list(summary["grades"]["all"])
    for attribute, groups in summary["grades"]["by_group"].items():
        if not groups:
            continue
        shares = [_percentages([g[grade]["subjects"] for grade in grades]) for g in groups]
        out[f"grades-{attribute}"] = charts.stacked_by_period(
            [g["group"] for g in groups],
            [(grade, [row[i] for row in shares]) for i, grade in enumerate(grades)],
            chart_id=f"grades-{attribute.replace('_', '-')}",
            title=f"Grades by {_ATTRIBUTE_TITLES[attribute].lower()}",
            summary="The share of each grade, in percent, in each group.",
        )
    lowest = []
    for name, m in summary["measures"].items():
        ratios = [
            g["impact_ratio"]
            for c in m["comparisons"]
            for g in c["groups"]
            if g["impact_ratio"] is not None and not g["small"]
        ]
        lowest.append((name, min(ratios) if ratios else 1.0))
    if lowest:
        out["impact"] = charts.bars(
            lowest,
            chart_id="impact",
            title="Lowest disparate-impact ratio of each measure",
            summary=f"The lowest ratio over all groups; below {DI_THRESHOLD} fails the "
            "four-fifths rule.",
            horizontal=True,
            value_format="{:.2f}",
        )
    sens = summary.get("sensitivity")
    if sens and sens["measures"]:
        out["wrongly-refused"] = charts.bars(
            [(name, m["wrongly_refused"]) for name, m in sens["measures"].items()],
            chart_id="wrongly-refused",
            title="Wrongly refused, per measure",
            summary="Subjects who get the adverse outcome only because of the injected errors.",
            horizontal=True,
        )
    diff = summary.get("diff")
    if diff and diff["score_delta_histogram"]:
        out["delta"] = charts.bars(
            [(f"{b['from']:+g}", b["subjects"]) for b in diff["score_delta_histogram"]],
            chart_id="delta",
            title="Change of score",
            summary="How many subjects' scores change by how many points (10-point bands).",
        )
    return out


def render_report(
    summary: dict[str, Any],
    *,
    timing: dict[str, float],
    drawn: dict[str, str] | None = None,
    fingerprint: str | None = None,
) -> str:
    """The report as one self-contained HTML page (``drawn``: the charts, if already
    drawn by :func:`_charts`)."""
    template = _environment().get_template("report.html.j2")
    return template.render(
        s=summary,
        charts=_charts(summary) if drawn is None else drawn,
        attributes=_ATTRIBUTE_TITLES,
        timing=[(_STAGE_TITLES.get(k, k), v) for k, v in timing.items()],
        fingerprint=fingerprint,
        threshold=DI_THRESHOLD,
        min_group=MIN_GROUP,
    )
