"""What a policy would do to a population, before anyone is scored by it.

A simulation scores a synthetic population (:mod:`trustledger.synth.columnar`) with a batch
engine and reads the result against what no policy may use, the subjects' demographic
attributes (``DIR/demographics``)::

    runs = score_runs(population, policy_a, policy_b=None, with_errors=errors_dir, ...)
    summary = analyse(runs, population=population, ...)   # plain JSON-able data

The summary holds, for the whole population and for each group (district, urban or rural,
age band, sex, income band, and kind of subject): the score and grade distributions, the
share on each list, and for each measure how many get the adverse outcome, with the
*disparate-impact ratio* of every group: its rate of the favourable outcome divided by the
rate of the most favoured group of the same attribute (the four-fifths rule flags a ratio
below 0.8). Favourable means *not* sanctioned for a sanction, and *granted* for an
incentive (:func:`trustledger.batch.measures.favourable`).

Sensitivity to wrong data: the same population with a share of misattributed and
fabricated records (the same seed, so everything else is identical) is scored too, and
whoever is listed or gets an adverse outcome only because of the errors is counted as
wrongly listed or wrongly refused.

With a second policy, the difference: who changes grade, by how much, and which rule
moved them (the rule whose lines changed their score most, from the contributions).

Every number is computed in DuckDB over Arrow tables; nothing loops over subjects in
Python. Floats are rounded before they are stored, and every list is sorted, so the same
inputs give the same summary, byte for byte once serialised; only ``timing`` differs.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from statistics import NormalDist
from typing import Any, Final

import duckdb
import pyarrow as pa

from trustledger.batch import ParquetSource, engine
from trustledger.batch.dialects import quote
from trustledger.batch.layout import parts
from trustledger.batch.measures import measure_outcomes, quote_ident
from trustledger.policy.schema import Policy
from trustledger.synth.columnar import DEMOGRAPHICS, ERRORS
from trustledger.synth.scenario import ATTRIBUTES

__all__ = [
    "DI_THRESHOLD",
    "MIN_GROUP",
    "PolicyRun",
    "Runs",
    "analyse",
    "score_policy",
]

#: The four-fifths rule: a group whose favourable rate is below this share of the most
#: favoured group's is flagged.
DI_THRESHOLD: Final = 0.8
#: Groups smaller than this are shown but neither flagged nor used as the reference: a
#: rate over a handful of people says little.
MIN_GROUP: Final = 100
#: Score histogram bins, in points (the last is open).
_BIN_POINTS: Final = 50
_EXAMPLES: Final = 20
_GROUP_ATTRIBUTES: Final = tuple(a for a in ATTRIBUTES)
#: The comparisons of disparate impact: an attribute within one kind of subject. A measure
#: may concern only organisations (a procurement ban) or only persons; comparing persons
#: with organisations, or districts that mix both in different proportions, would measure
#: the mix, not the policy. Age band, sex and income band are persons' attributes only.
COMPARISONS: Final = (
    ("district", "person"),
    ("area", "person"),
    ("age_band", "person"),
    ("sex", "person"),
    ("income_band", "person"),
    ("district", "organisation"),
    ("area", "organisation"),
)
#: A flagged difference must also be unlikely to be chance: the one-sided two-proportion
#: z test against the most favoured group, at this level for the whole report
#: (Bonferroni: divided by the number of groups tested), since a report makes hundreds of
#: comparisons and picks the best group as the reference.
ALPHA: Final = 0.05


@dataclass(frozen=True)
class PolicyRun:
    """One engine run, reduced to what the analysis needs."""

    label: str
    policy: Policy
    #: subject_id, score_cents, grade
    scores: pa.Table
    #: subject_id, list, kind, rule
    lists: pa.Table
    #: subject_id, then one boolean column per measure: triggered
    outcomes: pa.Table
    #: subject_id, rule, cents: each subject's lines summed by rule (for a diff)
    lines: pa.Table
    records: int
    seconds: float


@dataclass(frozen=True)
class Runs:
    clean: PolicyRun
    #: The same policy over the population with injected errors.
    with_errors: PolicyRun | None = None
    #: The second policy over the clean population.
    other: PolicyRun | None = None


def _record_domains(directory: Path, policy: Policy) -> pa.Table:
    types = pa.table(
        {
            "record_type": pa.array(list(policy.record_types), pa.string()),
            "domain": pa.array([t.domain for t in policy.record_types.values()], pa.string()),
        }
    )
    con = duckdb.connect()
    try:
        con.register("types", types)
        files = ", ".join(quote(str(p)) for p in parts(directory, "records"))
        return con.sql(
            f"SELECT r.record_id, t.domain FROM read_parquet([{files}]) r "
            "JOIN types t USING (record_type)"
        ).to_arrow_table()
    finally:
        con.close()


def score_policy(
    directory: Path,
    policy: Policy,
    *,
    label: str,
    as_of: date,
    engine_name: str = "duckdb",
    engine_options: Mapping[str, Any] | None = None,
) -> PolicyRun:
    """Score the population in ``directory`` with ``policy`` and reduce the result."""
    started = time.perf_counter()
    with engine(engine_name, **dict(engine_options or {})) as eng:
        result = eng.score(
            ParquetSource(directory),
            policy,
            as_of=as_of,
            policy_version=label,
            contributions=True,
        )
    needs_domains = any(m.when.lists for m in policy.measures.values())
    outcomes = measure_outcomes(
        policy,
        result,
        record_domains=_record_domains(directory, policy) if needs_domains else None,
    )
    assert result.contributions is not None
    con = duckdb.connect()
    try:
        con.register("lines", result.contributions.select(["subject_id", "rule", "cents"]))
        lines = con.sql(
            "SELECT subject_id, rule, CAST(sum(cents) AS BIGINT) AS cents FROM lines "
            "GROUP BY ALL ORDER BY subject_id, rule"
        ).to_arrow_table()
    finally:
        con.close()
    return PolicyRun(
        label=label,
        policy=policy,
        scores=result.scores,
        lists=result.lists.select(["subject_id", "list", "kind", "rule"]),
        outcomes=outcomes,
        lines=lines,
        records=result.record_count,
        seconds=time.perf_counter() - started,
    )


# --------------------------------------------------------------------------------------
# Analysis.


def _r(value: float | None, places: int = 6) -> float | None:
    return None if value is None else round(float(value), places)


def _z(f0: int, n0: int, f1: int, n1: int) -> float | None:
    """How many standard errors the reference rate ``f0/n0`` lies above ``f1/n1``
    (two-proportion z test, pooled); ``None`` when both rates are 0 or 1."""
    pooled = (f0 + f1) / (n0 + n1)
    variance = pooled * (1.0 - pooled) * (1.0 / n0 + 1.0 / n1)
    if variance <= 0.0:
        return None
    return (f0 / n0 - f1 / n1) / math.sqrt(variance)


class _Analysis:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        runs: Runs,
        population: Path,
        order: Mapping[str, Sequence[str]],
    ) -> None:
        self.con = con
        self.order = order
        self.runs = runs
        self.policy = runs.clean.policy
        files = ", ".join(quote(str(p)) for p in parts(population, DEMOGRAPHICS))
        con.execute(f"CREATE TEMP TABLE demo AS SELECT * FROM read_parquet([{files}])")
        self._register("a_scores", runs.clean.scores)
        self._register("a_lists", runs.clean.lists)
        self._register("a_out", runs.clean.outcomes)
        # One row per subject: its score, grade, lists, outcomes and attributes.
        list_flags = ", ".join(
            f"bool_or(list = {quote(name)}) AS {quote_ident('on_' + name)}"
            for name in sorted(self.policy.lists)
        )
        on_lists = (
            f"LEFT JOIN (SELECT subject_id, {list_flags} FROM a_lists GROUP BY 1) l "
            "USING (subject_id)"
            if self.policy.lists
            else ""
        )
        con.execute(
            "CREATE TEMP TABLE subj AS SELECT s.subject_id, s.score_cents, s.grade, "
            "d.kind, d.district, d.area, d.age_band, d.sex, d.income_band"
            + "".join(
                f", coalesce(l.{quote_ident('on_' + n)}, FALSE) AS {quote_ident('on_' + n)}"
                for n in sorted(self.policy.lists)
            )
            + "".join(f", o.{quote_ident(m)}" for m in self.policy.measures)
            + " FROM a_scores s JOIN demo d USING (subject_id) "
            + on_lists
            + " JOIN a_out o USING (subject_id)"
        )
        self.total = self.scalar("SELECT count(*) FROM subj")

    def _register(self, name: str, table: pa.Table) -> None:
        self.con.register(name, table)

    def scalar(self, sql: str) -> Any:
        return self.one(sql)[0]

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        return self.con.execute(sql).fetchall()

    def one(self, sql: str) -> tuple[Any, ...]:
        """The first row (the result is read to the end: DuckDB 2 refuses other work on a
        connection with an unfinished result)."""
        rows = self.rows(sql)
        assert rows, sql
        return rows[0]

    # -- groups ----------------------------------------------------------------------

    def groups(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for attribute in _GROUP_ATTRIBUTES:
            col = quote_ident(attribute)
            rows = self.rows(
                f"SELECT {col}, count(*) FROM subj WHERE {col} IS NOT NULL GROUP BY 1 ORDER BY 1"
            )
            out[attribute] = [
                {"group": g, "subjects": n} for g, n in self.in_order(attribute, rows)
            ]
        return out

    def in_order(self, attribute: str, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """``rows`` (the group first) in the attribute's natural order (income bands low to
        high, as the scenario lists them), unknown values last by name."""
        known = {v: i for i, v in enumerate(self.order.get(attribute, ()))}
        return sorted(rows, key=lambda r: (known.get(r[0], len(known)), r[0]))

    # -- scores and grades -------------------------------------------------------------

    def score_stats(self, where: str = "TRUE") -> dict[str, Any]:
        row = self.one(
            "SELECT count(*), avg(score_cents), "
            + ", ".join(
                f"quantile_disc(score_cents, {q})" for q in (0.01, 0.1, 0.25, 0.5, 0.75, 0.9)
            )
            + f", min(score_cents), max(score_cents) FROM subj WHERE {where}"
        )
        n, mean, p1, p10, p25, p50, p75, p90, low, high = row
        if not n:
            return {"subjects": 0}
        return {
            "subjects": n,
            "mean": _r(mean / 100, 2),
            "p1": p1 / 100,
            "p10": p10 / 100,
            "p25": p25 / 100,
            "median": p50 / 100,
            "p75": p75 / 100,
            "p90": p90 / 100,
            "min": low / 100,
            "max": high / 100,
        }

    def histogram(self) -> list[dict[str, Any]]:
        """Subjects per band of _BIN_POINTS points, every band from the one holding the
        1st percentile to the highest (empty ones too); the few below are counted in the
        first band, whose ``from`` is then ``None`` (open)."""
        width = _BIN_POINTS * 100
        row = self.one(
            f"SELECT CAST(floor(quantile_disc(score_cents, 0.01) / {width}) AS BIGINT), "
            f"CAST(floor(max(score_cents) / {width}) AS BIGINT), "
            f"CAST(floor(min(score_cents) / {width}) AS BIGINT) FROM subj"
        )
        if row[0] is None:
            return []
        first, last, lowest = row
        counts = dict(
            self.rows(
                f"SELECT greatest(CAST(floor(score_cents / {width}) AS BIGINT), {first}), "
                "count(*) FROM subj GROUP BY 1"
            )
        )
        return [
            {
                "from": None if b == first and lowest < first else b * _BIN_POINTS,
                "to": (b + 1) * _BIN_POINTS,
                "subjects": counts.get(b, 0),
            }
            for b in range(first, last + 1)
        ]

    def grades(self, where: str = "TRUE") -> dict[str, Any]:
        counts = dict(self.rows(f"SELECT grade, count(*) FROM subj WHERE {where} GROUP BY 1"))
        n = sum(counts.values())
        return {
            band.grade: {
                "subjects": counts.get(band.grade, 0),
                "share": _r(counts.get(band.grade, 0) / n if n else 0.0),
            }
            for band in self.policy.grades
        }

    def by_group(self, attribute: str, fn: Callable[[str], Any]) -> list[dict[str, Any]]:
        col = quote_ident(attribute)
        values = [
            v
            for (v,) in self.in_order(
                attribute,
                self.rows(f"SELECT DISTINCT {col} FROM subj WHERE {col} IS NOT NULL ORDER BY 1"),
            )
        ]
        return [{"group": v, **fn(f"{col} = {quote(v)}")} for v in values]

    # -- lists -------------------------------------------------------------------------

    def lists(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in sorted(self.policy.lists):
            flag = quote_ident("on_" + name)
            size = self.scalar(f"SELECT count(*) FROM subj WHERE {flag}")
            rules = dict(
                self.rows(
                    "SELECT rule, count(DISTINCT subject_id) FROM a_lists "
                    f"WHERE list = {quote(name)} GROUP BY 1 ORDER BY 1"
                )
            )
            out[name] = {
                "kind": self.policy.lists[name].kind,
                "subjects": size,
                "share": _r(size / self.total),
                "rules": {rule: rules.get(rule, 0) for rule in sorted(rules)},
                "by_group": {
                    a: self.by_group(a, functools.partial(self._share, flag))
                    for a in _GROUP_ATTRIBUTES
                },
            }
        return out

    def _share(self, flag: str, where: str) -> dict[str, Any]:
        n, hit = self.one(
            f"SELECT count(*), count(*) FILTER (WHERE {flag}) FROM subj WHERE {where}"
        )
        return {"subjects": n, "listed": hit, "share": _r(hit / n if n else 0.0)}

    # -- measures and disparate impact ------------------------------------------------

    def measures(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, measure in self.policy.measures.items():
            col = quote_ident(name)
            # Favourable: not triggered for a sanction, triggered for an incentive.
            fav = f"NOT {col}" if measure.kind == "sanction" else col
            triggered = self.scalar(f"SELECT count(*) FILTER (WHERE {col}) FROM subj")
            adverse = self.total - triggered if measure.kind == "incentive" else triggered
            comparisons = [
                {"attribute": attribute, "kind": kind, **self._impact(attribute, kind, fav)}
                for attribute, kind in COMPARISONS
            ]
            out[name] = {
                "kind": measure.kind,
                "effect": measure.effect,
                "title": measure.title,
                "affected_by": sorted(measure.affected_by),
                "favourable": "not triggered" if measure.kind == "sanction" else "triggered",
                "triggered": triggered,
                "adverse": adverse,
                "adverse_share": _r(adverse / self.total),
                "comparisons": comparisons,
            }
        return out

    def _impact(self, attribute: str, kind: str, fav: str) -> dict[str, Any]:
        col = quote_ident(attribute)
        rows = self.in_order(
            attribute,
            self.rows(
                f"SELECT {col}, count(*), count(*) FILTER (WHERE {fav}) FROM subj "
                f"WHERE {col} IS NOT NULL AND kind = {quote(kind)} GROUP BY 1 ORDER BY 1"
            ),
        )
        eligible = [(g, n, f) for g, n, f in rows if n >= MIN_GROUP]
        # The most favoured group (the larger one on a tie, then the first by name).
        reference = max(eligible, key=lambda r: (r[2] / r[1], r[1]), default=None)
        ref_rate = reference[2] / reference[1] if reference else None
        ref_adverse = 1.0 - ref_rate if ref_rate is not None else None
        groups = []
        for g, n, f in rows:
            rate = f / n
            ratio = rate / ref_rate if ref_rate else None
            adverse = 1.0 - rate
            z = _z(reference[2], reference[1], f, n) if reference and g != reference[0] else None
            groups.append(
                {
                    "group": g,
                    "subjects": n,
                    "favourable": f,
                    "favourable_rate": _r(rate),
                    "adverse_rate": _r(adverse),
                    "impact_ratio": _r(ratio, 4),
                    "adverse_ratio": _r(adverse / ref_adverse, 4) if ref_adverse else None,
                    "z": _r(z, 2),
                    "below_threshold": bool(
                        ratio is not None and n >= MIN_GROUP and ratio < DI_THRESHOLD
                    ),
                    # Decided in analyse(), once the number of tests is known.
                    "flagged": False,
                    "small": n < MIN_GROUP,
                }
            )
        return {"reference": reference[0] if reference else None, "groups": groups}

    # -- sensitivity to wrong data ----------------------------------------------------

    def sensitivity(self, errors: pa.Table | None, spec: Mapping[str, Any]) -> dict[str, Any]:
        run = self.runs.with_errors
        assert run is not None
        self._register("e_scores", run.scores)
        self._register("e_lists", run.lists)
        self._register("e_out", run.outcomes)
        policy = self.policy
        out: dict[str, Any] = {**spec}
        if errors is not None and errors.num_rows:
            self._register("errs", errors)
            kinds = dict(self.rows("SELECT error, count(*) FROM errs GROUP BY 1"))
            touched = self.scalar(
                "SELECT count(DISTINCT s) FROM (SELECT subject_id AS s FROM errs UNION ALL "
                "SELECT true_subject_id FROM errs WHERE true_subject_id IS NOT NULL)"
            )
        else:
            kinds, touched = {}, 0
        out["misattributed_records"] = kinds.get("misattributed", 0)
        out["fabricated_records"] = kinds.get("fabricated", 0)
        out["subjects_touched"] = touched
        lists: dict[str, Any] = {}
        for name in sorted(policy.lists):
            q = quote(name)
            wrong, missed = self.one(
                "WITH a AS (SELECT DISTINCT subject_id FROM a_lists WHERE list = " + q + "), "
                "e AS (SELECT DISTINCT subject_id FROM e_lists WHERE list = " + q + ") "
                "SELECT (SELECT count(*) FROM e ANTI JOIN a USING (subject_id)), "
                "(SELECT count(*) FROM a ANTI JOIN e USING (subject_id))"
            )
            lists[name] = {
                "kind": policy.lists[name].kind,
                "wrongly_listed": wrong,
                "wrongly_left_off": missed,
                "per_100k": _r(wrong * 100_000 / self.total, 2),
            }
        out["lists"] = lists
        out["wrongly_listed_any"] = self.scalar(
            "SELECT count(*) FROM (SELECT DISTINCT subject_id FROM e_lists) e "
            "ANTI JOIN (SELECT DISTINCT subject_id FROM a_lists) a USING (subject_id)"
        )
        measures: dict[str, Any] = {}
        for name, measure in policy.measures.items():
            col = quote_ident(name)
            adverse_a = f"a.{col}" if measure.kind == "sanction" else f"NOT a.{col}"
            adverse_e = f"e.{col}" if measure.kind == "sanction" else f"NOT e.{col}"
            refused, granted = self.one(
                f"SELECT count(*) FILTER (WHERE {adverse_e} AND NOT {adverse_a}), "
                f"count(*) FILTER (WHERE {adverse_a} AND NOT {adverse_e}) "
                "FROM a_out a JOIN e_out e USING (subject_id)"
            )
            measures[name] = {
                "kind": measure.kind,
                "wrongly_refused": refused,
                "wrongly_spared": granted,
                "per_100k": _r(refused * 100_000 / self.total, 2),
            }
        out["measures"] = measures
        out["wrongly_refused_any"] = self.scalar(
            "SELECT count(*) FROM a_out a JOIN e_out e USING (subject_id) WHERE "
            + (
                " OR ".join(
                    (
                        f"(e.{quote_ident(n)} AND NOT a.{quote_ident(n)})"
                        if m.kind == "sanction"
                        else f"(a.{quote_ident(n)} AND NOT e.{quote_ident(n)})"
                    )
                    for n, m in policy.measures.items()
                )
                or "FALSE"
            )
        )
        out["grade_changed"] = self.scalar(
            "SELECT count(*) FROM a_scores a JOIN e_scores e USING (subject_id) "
            "WHERE a.grade <> e.grade"
        )
        return out

    # -- the difference between two policies ------------------------------------------

    def diff(self) -> dict[str, Any]:
        other = self.runs.other
        assert other is not None
        a, b = self.policy, other.policy
        self._register("b_scores", other.scores)
        self._register("b_lists", other.lists)
        self._register("b_out", other.outcomes)
        self._register("a_lines", self.runs.clean.lines)
        self._register("b_lines", other.lines)
        con = self.con
        con.execute(
            "CREATE TEMP TABLE moved AS "
            "SELECT subject_id, a.score_cents AS score_a, b.score_cents AS score_b, "
            "a.grade AS grade_a, b.grade AS grade_b FROM a_scores a JOIN b_scores b "
            "USING (subject_id)"
        )
        con.execute(
            "CREATE TEMP TABLE rule_delta AS SELECT subject_id, rule, "
            "coalesce(b.cents, 0) - coalesce(a.cents, 0) AS delta "
            "FROM a_lines a FULL JOIN b_lines b USING (subject_id, rule) "
            "WHERE coalesce(b.cents, 0) <> coalesce(a.cents, 0)"
        )
        con.execute(
            "CREATE TEMP TABLE main_rule AS SELECT subject_id, rule, delta FROM ("
            "SELECT *, row_number() OVER (PARTITION BY subject_id "
            "ORDER BY abs(delta) DESC, rule) AS k FROM rule_delta) WHERE k = 1"
        )
        changed_grade = self.scalar("SELECT count(*) FROM moved WHERE grade_a <> grade_b")
        changed_score = self.scalar("SELECT count(*) FROM moved WHERE score_a <> score_b")
        grades_a = [band.grade for band in a.grades]
        grades_b = [band.grade for band in b.grades]
        matrix = {ga: dict.fromkeys(grades_b, 0) for ga in grades_a}
        for ga, gb, n in self.rows("SELECT grade_a, grade_b, count(*) FROM moved GROUP BY 1, 2"):
            matrix[ga][gb] = n
        delta_rows = self.rows(
            "SELECT CAST(floor((score_b - score_a) / 1000.0) AS BIGINT) AS b, count(*) "
            "FROM moved WHERE score_a <> score_b GROUP BY 1 ORDER BY 1"
        )
        rank_a = {g: i for i, g in enumerate(grades_a)}
        rank_b = {g: i for i, g in enumerate(grades_b)}
        same_scale = grades_a == grades_b
        up = down = 0
        if same_scale:
            for ga, row in matrix.items():
                for gb, n in row.items():
                    if rank_b[gb] < rank_a[ga]:
                        up += n
                    elif rank_b[gb] > rank_a[ga]:
                        down += n
        rules = [
            {
                "rule": rule,
                "subjects_moved": n,
                "grade_changed": g,
                "up": u,
                "down": d,
                "mean_delta": _r(mean / 100, 2),
            }
            for rule, n, g, u, d, mean in self.rows(
                "SELECT m.rule, count(*), count(*) FILTER (WHERE v.grade_a <> v.grade_b), "
                "count(*) FILTER (WHERE v.grade_a <> v.grade_b AND m.delta > 0), "
                "count(*) FILTER (WHERE v.grade_a <> v.grade_b AND m.delta < 0), avg(m.delta) "
                "FROM main_rule m JOIN moved v USING (subject_id) "
                "GROUP BY 1 ORDER BY 3 DESC, 2 DESC, 1"
            )
        ]
        examples = [
            {
                "subject_id": sid,
                "kind": kind,
                "score_a": sa / 100,
                "score_b": sb / 100,
                "grade_a": ga,
                "grade_b": gb,
                "rule": rule,
                "rule_delta": (delta or 0) / 100,
            }
            for sid, kind, sa, sb, ga, gb, rule, delta in self.rows(
                "SELECT v.subject_id, s.kind, v.score_a, v.score_b, v.grade_a, v.grade_b, "
                "m.rule, m.delta FROM moved v JOIN subj s USING (subject_id) "
                "LEFT JOIN main_rule m USING (subject_id) WHERE v.grade_a <> v.grade_b "
                f"ORDER BY abs(v.score_b - v.score_a) DESC, v.subject_id LIMIT {_EXAMPLES}"
            )
        ]
        lists: dict[str, Any] = {}
        for name in sorted(set(a.lists) | set(b.lists)):
            q = quote(name)
            joined, left = self.one(
                f"WITH x AS (SELECT DISTINCT subject_id FROM a_lists WHERE list = {q}), "
                f"y AS (SELECT DISTINCT subject_id FROM b_lists WHERE list = {q}) "
                "SELECT (SELECT count(*) FROM y ANTI JOIN x USING (subject_id)), "
                "(SELECT count(*) FROM x ANTI JOIN y USING (subject_id))"
            )
            lists[name] = {"joined": joined, "left": left}
        measures: dict[str, Any] = {}
        for name in sorted(set(a.measures) & set(b.measures)):
            col = quote_ident(name)
            on, off = self.one(
                f"SELECT count(*) FILTER (WHERE y.{col} AND NOT x.{col}), "
                f"count(*) FILTER (WHERE x.{col} AND NOT y.{col}) "
                "FROM a_out x JOIN b_out y USING (subject_id)"
            )
            measures[name] = {"kind": b.measures[name].kind, "now_triggered": on, "no_longer": off}
        return {
            "subjects_score_changed": changed_score,
            "subjects_grade_changed": changed_grade,
            "same_grade_scale": same_scale,
            "grade_up": up,
            "grade_down": down,
            "grade_matrix": matrix,
            "score_delta_histogram": [
                {"from": k * 10, "to": (k + 1) * 10, "subjects": n} for k, n in delta_rows
            ],
            "rules": rules,
            "examples": examples,
            "lists": lists,
            "measures": measures,
            "only_in_a": sorted(set(a.measures) - set(b.measures)),
            "only_in_b": sorted(set(b.measures) - set(a.measures)),
        }


def _significance(measures: dict[str, Any]) -> dict[str, Any]:
    """Flag the groups below the threshold whose difference is significant at ALPHA for
    the whole report (Bonferroni over every group tested against a reference)."""
    groups = [
        g
        for m in measures.values()
        for c in m["comparisons"]
        for g in c["groups"]
        if g["z"] is not None and not g["small"]
    ]
    tests = max(len(groups), 1)
    critical = NormalDist().inv_cdf(1.0 - ALPHA / tests)
    for g in groups:
        g["flagged"] = bool(g["below_threshold"] and g["z"] > critical)
    return {"alpha": ALPHA, "tests": len(groups), "z_critical": round(critical, 3)}


@contextmanager
def _connection() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect()
    try:
        yield con
    finally:
        con.close()


def analyse(
    runs: Runs,
    *,
    population: Path,
    errors_population: Path | None = None,
    error_spec: Mapping[str, Any] | None = None,
    order: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """The simulation's findings as plain data (see the module docstring). ``order``
    gives each attribute's groups in the order to show them (else by name)."""
    with _connection() as con:
        an = _Analysis(con, runs, population, order or {})
        policy = an.policy
        attributes: Sequence[str] = _GROUP_ATTRIBUTES
        summary: dict[str, Any] = {
            "subjects": an.total,
            "records": runs.clean.records,
            "groups": an.groups(),
            "scores": {
                "all": an.score_stats(),
                "histogram": an.histogram(),
                "by_group": {a: an.by_group(a, an.score_stats) for a in attributes},
            },
            "grades": {
                "all": an.grades(),
                "by_group": {a: an.by_group(a, an.grades) for a in attributes},
            },
            "lists": an.lists(),
            "measures": an.measures(),
        }
        summary["significance"] = _significance(summary["measures"])
        summary["disparities"] = sorted(
            (
                {
                    "measure": name,
                    "kind": m["kind"],
                    "attribute": c["attribute"],
                    "among": c["kind"],
                    "group": g["group"],
                    "reference": c["reference"],
                    "impact_ratio": g["impact_ratio"],
                    "adverse_rate": g["adverse_rate"],
                    "subjects": g["subjects"],
                }
                for name, m in summary["measures"].items()
                for c in m["comparisons"]
                for g in c["groups"]
                if g["flagged"]
            ),
            key=lambda d: (
                d["impact_ratio"],
                d["measure"],
                d["attribute"],
                d["among"],
                d["group"],
            ),
        )
        if runs.with_errors is not None:
            errors = None
            if errors_population is not None and (errors_population / ERRORS).is_dir():
                errors = con.sql(
                    "SELECT * FROM read_parquet("
                    + quote(str(errors_population / ERRORS / "*.parquet"))
                    + ")"
                ).to_arrow_table()
            summary["sensitivity"] = an.sensitivity(errors, dict(error_spec or {}))
        if runs.other is not None:
            summary["diff"] = an.diff()
        del policy
        return summary
