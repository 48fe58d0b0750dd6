"""The scoring job as SQL: one policy compiled into columnar steps that DuckDB and Spark
run alike, giving exactly what :func:`trustledger.policy.evaluate.evaluate` gives subject
by subject.

How exactness is kept:

* **Decay** is the one non-integer step. The job never computes it: a lookup table of
  ``(record_type, age_days) -> cents`` is filled by the evaluator's own
  :func:`~trustledger.policy.evaluate.decayed_cents` for every age a record can have while
  it counts, and joined in.
* **Calendar months** (``counts_for``, list durations, "3 months back") are computed by
  :class:`~trustledger.domain.duration.Duration` in Python for the dates that occur, and
  joined in as tables too. Everything else is integer arithmetic on day numbers.
* **List rules that look at other dates** (how long a subject has been below a threshold,
  when it will recover, the minimum stay) probe the score at exactly the dates the
  evaluator probes, in the same order: a set of probes per step for every subject at once,
  and one bisection round per query (:meth:`Job._bisect`).

Text the evaluator composes (list reasons) is composed in SQL from the same pieces. The
driver (:meth:`Job.run`) is plain Python over an engine's four primitives
(:class:`Runner`), so a new engine only has to run SQL.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute  # noqa: F401 - pa.compute

from trustledger.batch.dialects import Dialect, quote
from trustledger.domain.duration import Duration, add_months
from trustledger.domain.record import RecordAction
from trustledger.policy.evaluate import _STRETCH_STEPS, MAX_LIST_RECORDS, decayed_cents
from trustledger.policy.schema import ListRule, Policy

__all__ = ["BatchResult", "Job", "Runner", "day_number", "from_day_number"]

EPOCH = date(1970, 1, 1)


def day_number(day: date) -> int:
    return (day - EPOCH).days


def from_day_number(n: int) -> date:
    return EPOCH + timedelta(days=n)


@dataclass(frozen=True, slots=True)
class BatchResult:
    """What a batch run gives, as Arrow tables (schemas in ``docs/scale.md``)."""

    engine: str
    as_of: date
    policy_version: str
    #: subject_id, score_cents, grade: every subject, those without records at the base.
    scores: pa.Table
    #: subject_id, list, kind, rule, since, until, public, reason, record_ids.
    lists: pa.Table
    #: subject_id, domain, cents: a subject's record lines plus cap lines, per domain.
    domain_totals: pa.Table
    #: One row per line of the evaluator's result, when asked for.
    contributions: pa.Table | None
    #: subject_id, record_id, record_type, reason: records that do not count, when asked.
    not_counted: pa.Table | None
    record_count: int
    subject_count: int
    seconds: float
    #: Where the engine wrote the tables itself (Spark on a cluster); they are then empty.
    written_to: str | None = None


class Runner(ABC):
    """What an engine gives the job: run SQL over named tables."""

    dialect: Dialect

    @abstractmethod
    def register(self, name: str, table: pa.Table) -> None:
        """Make an Arrow table queryable as ``name`` (small lookup tables)."""

    @abstractmethod
    def create(self, name: str, sql: str) -> None:
        """Materialise the result of ``sql`` as table ``name`` (replacing one)."""

    @abstractmethod
    def fetch(self, sql: str) -> pa.Table:
        """Run ``sql`` and return its rows."""

    def view(self, name: str, sql: str) -> None:
        """Name the query ``sql`` without running it (a pass over the data that the next
        step reads once)."""
        self.create(name, sql)

    def write(self, sql: str, uri: str) -> None:
        """Write the result of ``sql`` as Parquet at ``uri`` (engines whose results are
        too large to fetch write them where they run)."""
        raise NotImplementedError(f"{type(self).__name__} cannot write results itself")

    def drop(self, name: str) -> None:  # noqa: B027 - optional clean-up
        """Forget table ``name`` when the engine keeps it in memory."""


# Decay and stop lookups are built from the (record_type, valid_from) pairs that occur.
_KINDS = ("person", "organisation")


class Job:
    """One scoring run of ``policy`` as of ``as_of`` over tables ``subjects`` and
    ``records`` (the layout of :mod:`trustledger.batch.layout`) already in the runner."""

    def __init__(
        self,
        runner: Runner,
        policy: Policy,
        *,
        as_of: date,
        policy_version: str,
        contributions: bool = False,
        output: str | None = None,
    ) -> None:
        self.r = runner
        self.output = output
        self.d = runner.dialect
        self.policy = policy
        self.as_of = as_of
        self.as_of_n = day_number(as_of)
        self.policy_version = policy_version
        self.contributions = contributions
        header = policy.policy
        self.base = int(header.base_score * 100)
        self.min_score = None if header.min_score is None else int(header.min_score * 100)
        self.max_score = None if header.max_score is None else int(header.max_score * 100)
        self.caps = [
            (
                name,
                None if d.cap_negative is None else int(d.cap_negative * 100),
                None if d.cap_positive is None else int(d.cap_positive * 100),
            )
            for name, d in sorted(policy.domains.items())
            if d.cap_negative is not None or d.cap_positive is not None
        ]
        self._tables: list[str] = []
        self._calendars: dict[tuple[str, Duration], str] = {}
        self._day_range: tuple[int, int] = (self.as_of_n, self.as_of_n)

    # ----------------------------------------------------------------------------------
    # Small SQL pieces.

    def _create(self, name: str, sql: str) -> None:
        self.r.create(name, sql)
        self._tables.append(name)

    def _view(self, name: str, sql: str) -> None:
        self.r.view(name, sql)
        self._tables.append(name)

    def _register(self, name: str, table: pa.Table) -> None:
        self.r.register(name, table)
        self._tables.append(name)

    def _capped(self, domain: str, cents: str) -> str:
        """``cents`` of ``domain`` held inside the domain's caps."""
        if not self.caps:
            return cents
        whens = []
        for name, low, high in self.caps:
            inner = []
            if low is not None:
                inner.append(f"WHEN {cents} < {low} THEN {low}")
            if high is not None:
                inner.append(f"WHEN {cents} > {high} THEN {high}")
            whens.append(
                f"WHEN {domain} = {quote(name)} THEN CASE {' '.join(inner)} ELSE {cents} END"
            )
        return f"CASE {' '.join(whens)} ELSE {cents} END"

    def _bounded(self, score: str) -> str:
        inner = []
        if self.min_score is not None:
            inner.append(f"WHEN {score} < {self.min_score} THEN {self.min_score}")
        if self.max_score is not None:
            inner.append(f"WHEN {score} > {self.max_score} THEN {self.max_score}")
        return f"CASE {' '.join(inner)} ELSE {score} END" if inner else score

    def _grade(self, score: str) -> str:
        whens = []
        for band in self.policy.grades:
            cond = "TRUE" if band.min_score is None else f"{score} >= {int(band.min_score * 100)}"
            whens.append(f"WHEN {cond} THEN {quote(band.grade)}")
        return f"CASE {' '.join(whens)} ELSE {quote(self.policy.grades[-1].grade)} END"

    def _points(self, cents: str) -> str:
        """Cents as the evaluator prints points (``Decimal(cents).scaleb(-2)``)."""
        s = self.d.string_type()
        return (
            f"(CASE WHEN {cents} < 0 THEN '-' ELSE '' END"
            f" || CAST({self.d.int_div(f'abs({cents})', '100')} AS {s})"
            f" || '.' || lpad(CAST(abs({cents}) % 100 AS {s}), 2, '0'))"
        )

    @staticmethod
    def _points_const(cents: int) -> str:
        return str(Decimal(cents).scaleb(-2))

    # ----------------------------------------------------------------------------------
    # Lookup tables computed in Python.

    def _lookups(self) -> None:
        policy = self.policy
        types = policy.record_types
        self._register(
            "tl_types",
            pa.table(
                {
                    "record_type": pa.array(list(types), pa.string()),
                    "rule": pa.array([f"record_types.{n}" for n in types], pa.string()),
                    "domain": pa.array([t.domain for t in types.values()], pa.string()),
                    "full_cents": pa.array(
                        [int(t.points * 100) for t in types.values()], pa.int64()
                    ),
                    "decays": pa.array([t.decay.kind != "none" for t in types.values()]),
                    "disputed_counts": pa.array([t.disputed_counts for t in types.values()]),
                }
            ),
        )
        applies = [(n, k.value) for n, t in types.items() for k in t.applies_to]
        self._register(
            "tl_applies",
            pa.table(
                {
                    "record_type": pa.array([a[0] for a in applies], pa.string()),
                    "kind": pa.array([a[1] for a in applies], pa.string()),
                }
            ),
        )
        pairs = self.r.fetch(
            "SELECT record_type, vf, COUNT(*) AS n FROM tl_records GROUP BY record_type, vf"
        )
        self.record_count = sum(pairs.column("n").to_pylist())
        pairs = pairs.filter(pa.compute.is_in(pairs.column("record_type"), pa.array(list(types))))
        stop_rt: list[str] = []
        stop_vf: list[int] = []
        stop_at: list[int] = []
        max_age: dict[str, int] = {}
        all_vf: set[int] = set()
        vf_by_type: dict[str, set[int]] = {}
        for rt, vf in zip(
            pairs.column("record_type").to_pylist(), pairs.column("vf").to_pylist(), strict=True
        ):
            start = from_day_number(vf)
            stop = day_number(types[rt].counts_for.after(start))
            stop_rt.append(rt)
            stop_vf.append(vf)
            stop_at.append(stop)
            max_age[rt] = max(max_age.get(rt, 0), stop - vf)
            all_vf.add(vf)
            vf_by_type.setdefault(rt, set()).add(vf)
        self.vf_by_type = vf_by_type
        if all_vf:
            self._day_range = (min(min(all_vf), self.as_of_n), self.as_of_n)
        self._register(
            "tl_stops",
            pa.table(
                {
                    "record_type": pa.array(stop_rt, pa.string()),
                    "vf": pa.array(stop_vf, pa.int32()),
                    "stop": pa.array(stop_at, pa.int32()),
                }
            ),
        )
        dec_rt: list[str] = []
        dec_age: list[int] = []
        dec_cents: list[int] = []
        for rt, top in sorted(max_age.items()):
            t = types[rt]
            if t.decay.kind == "none":
                continue
            for age in range(max(top, 0) + 1):
                dec_rt.append(rt)
                dec_age.append(age)
                dec_cents.append(decayed_cents(t, age))
        self._register(
            "tl_decay",
            pa.table(
                {
                    "record_type": pa.array(dec_rt, pa.string()),
                    "age": pa.array(dec_age, pa.int32()),
                    "cents": pa.array(dec_cents, pa.int64()),
                }
            ),
        )

    def _calendar(self, kind: str, duration: Duration) -> str:
        """A table ``(day, value)`` for every day of the data's range: ``duration`` after
        the day (``kind="after"``) or before it (``"before"``, months then days)."""
        key = (kind, duration)
        name = self._calendars.get(key)
        if name is not None:
            return name
        name = f"tl_cal_{len(self._calendars)}"
        low, high = self._day_range
        days = list(range(low - 1, high + 2))
        if kind == "after":
            values = [day_number(duration.after(from_day_number(n))) for n in days]
        else:
            values = [
                day_number(
                    add_months(from_day_number(n), -duration.months) - timedelta(days=duration.days)
                )
                for n in days
            ]
        self._register(
            name,
            pa.table({"day": pa.array(days, pa.int32()), "value": pa.array(values, pa.int32())}),
        )
        self._calendars[key] = name
        return name

    # ----------------------------------------------------------------------------------
    # The score at as_of: lines, caps, bounds, grades.

    def _classify(self) -> None:
        a = self.as_of_n
        retract, expire = RecordAction.RETRACT.value, RecordAction.EXPIRE.value
        self._view(
            "tl_classified",
            f"""
            SELECT r.subject_id, r.record_id, r.version, r.record_type, r.provider, r.vf,
                   r.vt, r.rep, r.action, r.disputed, r.dispute_settled,
                   t.domain, t.rule, t.full_cents, t.decays, st.stop,
                   LEAST(st.stop, COALESCE(r.vt, st.stop), COALESCE(r.rep, st.stop)) AS fend,
                   CASE
                     WHEN r.action = {quote(retract)} THEN 'retracted'
                     WHEN r.action = {quote(expire)} THEN 'past retention'
                     WHEN t.record_type IS NULL THEN 'unknown record type'
                     WHEN ap.kind IS NULL THEN 'not applicable'
                     ELSE NULL END AS excluded,
                   (r.disputed AND NOT r.dispute_settled
                     AND (NOT t.disputed_counts OR r.review_overdue)) AS set_aside,
                   (r.review_overdue AND t.disputed_counts) AS overdue_reason
            FROM tl_records r
            JOIN tl_subjects s ON s.subject_id = r.subject_id
            LEFT JOIN tl_types t ON t.record_type = r.record_type
            LEFT JOIN tl_applies ap ON ap.record_type = r.record_type AND ap.kind = s.kind
            LEFT JOIN tl_stops st ON st.record_type = r.record_type AND st.vf = r.vf
            """,
        )
        reason = f"""
            CASE WHEN excluded IS NOT NULL THEN excluded
                 WHEN vf > {a} THEN 'not yet valid'
                 WHEN vt IS NOT NULL AND vt <= {a} THEN 'ended'
                 WHEN {a} >= stop THEN 'expired'
                 WHEN rep IS NOT NULL AND rep <= {a} THEN 'repaired'
                 WHEN set_aside THEN
                   CASE WHEN overdue_reason THEN 'review overdue' ELSE 'disputed' END
                 ELSE NULL END"""
        # Why each record does not count (read only for the not_counted table).
        self._view("tl_status", f"SELECT c.*, {reason} AS reason FROM tl_classified c")
        # The records that passed the date-independent checks and are not set aside:
        # what list rules re-evaluate at other dates. One pass over the records.
        self._create(
            "tl_facts",
            """
            SELECT subject_id, record_id, version, record_type, provider, vf, domain, rule,
                   full_cents, decays, stop, fend, disputed, dispute_settled
            FROM tl_classified WHERE excluded IS NULL AND NOT set_aside
            """,
        )
        # The lines of the score: the facts that hold on as_of. A fact counts exactly when
        # it began by then and its end (expiry, the fact's own end, a repair) is later,
        # which is the evaluator's chain of reasons with none of them applying.
        self._create(
            "tl_lines",
            f"""
            SELECT f.subject_id, f.record_id, f.version, f.record_type, f.provider, f.vf,
                   f.domain, f.rule, f.full_cents, f.stop, f.disputed, f.dispute_settled,
                   CASE WHEN f.decays THEN d.cents ELSE f.full_cents END AS cents
            FROM tl_facts f
            LEFT JOIN tl_decay d ON d.record_type = f.record_type AND d.age = {a} - f.vf
            WHERE f.vf <= {a} AND {a} < f.fend
            """,
        )

    def _score(self) -> None:
        self._create(
            "tl_domains",
            "SELECT subject_id, domain, SUM(cents) AS cents FROM tl_lines "
            "GROUP BY subject_id, domain",
        )
        capped = self._capped("domain", "cents")
        self._create(
            "tl_capped",
            f"SELECT subject_id, domain, cents, {capped} AS capped FROM tl_domains",
        )
        total = f"({self.base} + COALESCE(t.capped, 0))"
        self._create(
            "tl_scores",
            f"""
            SELECT s.subject_id, {total} AS subtotal, {self._bounded(total)} AS score
            FROM tl_subjects s
            LEFT JOIN (SELECT subject_id, SUM(capped) AS capped FROM tl_capped
                       GROUP BY subject_id) t ON t.subject_id = s.subject_id
            """,
        )

    # ----------------------------------------------------------------------------------
    # The score at other dates, for many (subject, probe) pairs at once.

    def _score_at(self, probes: str, facts: str, table: str = "tl_facts") -> str:
        """SQL giving ``subject_id, pid, day, score`` for each row of table ``probes``
        (subject_id, pid, day), from the facts of ``table`` that ``facts`` (a condition on
        ``f``) keeps; no lists, as the evaluator's ``_score_at``."""
        capped = self._capped("h.domain", "h.cents")
        total = f"({self.base} + COALESCE(t.cents, 0))"
        return f"""
            WITH h AS (
              SELECT p.subject_id, p.pid, f.domain,
                     SUM(CASE WHEN f.decays THEN d.cents ELSE f.full_cents END) AS cents
              FROM {probes} p
              JOIN {table} f ON f.subject_id = p.subject_id
                AND f.vf <= p.day AND p.day < f.fend AND {facts}
              LEFT JOIN tl_decay d ON d.record_type = f.record_type AND d.age = p.day - f.vf
              GROUP BY p.subject_id, p.pid, f.domain
            ), t AS (
              SELECT h.subject_id, h.pid, SUM({capped}) AS cents FROM h
              GROUP BY h.subject_id, h.pid
            )
            SELECT p.subject_id, p.pid, p.day, {self._bounded(total)} AS score
            FROM {probes} p LEFT JOIN t ON t.subject_id = p.subject_id AND t.pid = p.pid
            """

    def _facts_of(self, subjects: str, name: str) -> str:
        """The facts of the subjects in table ``subjects`` only: the probes of a list rule
        concern a few subjects, and every round joins their facts again."""
        out = f"{name}_facts"
        self._create(
            out,
            f"SELECT f.* FROM tl_facts f JOIN (SELECT DISTINCT subject_id FROM {subjects}) s "
            "ON s.subject_id = f.subject_id",
        )
        return out

    def _known(self) -> str:
        return f"f.vf <= {self.as_of_n}"

    def _counting(self) -> str:
        return f"f.vf <= {self.as_of_n} AND f.fend > {self.as_of_n}"

    def _clean(self, window: Duration | None, probes: str, table: str = "tl_facts") -> str:
        """SQL giving ``subject_id, pid, clean`` for each probe: no negative record that
        counts on the day began within ``window`` before it."""
        if window is None:
            return f"SELECT subject_id, pid, TRUE AS clean FROM {probes}"
        before = self._calendar("before", window)
        return f"""
            SELECT p.subject_id, p.pid, COUNT(f.record_id) = 0 AS clean
            FROM {probes} p JOIN {before} c ON c.day = p.day
            LEFT JOIN {table} f ON f.subject_id = p.subject_id AND f.full_cents < 0
              AND f.vf > c.value AND f.vf <= p.day AND p.day < f.fend
            GROUP BY p.subject_id, p.pid
            """

    def _holds_sql(self, rule: _Rule, probes: str, table: str) -> str:
        """SQL giving ``subject_id, pid, day, ok`` for each probe: whether the rule's
        condition holds on the probe's day (the predicate of ``_stretch_back``), from the
        facts of ``table``."""
        score = self._score_at(probes, self._known(), table)
        if rule.kind == "score_below":
            return f"SELECT subject_id, pid, day, score < {rule.threshold} AS ok FROM ({score}) q"
        clean = self._clean(rule.rule.no_negative_within, probes, table)
        return f"""
            SELECT q.subject_id, q.pid, q.day, (c.clean AND q.score >= {rule.threshold}) AS ok
            FROM ({score}) q JOIN ({clean}) c ON c.subject_id = q.subject_id AND c.pid = q.pid
            """

    def _bisect(self, state: str, holds: Callable[[str], str], name: str) -> str:
        """Bisect each row of ``state`` (subject_id, lo, hi): the condition is false on
        ``lo`` and true on ``hi``; halve until they are one day apart. Returns a table of
        ``subject_id, hi``: the first day the condition holds, as the evaluator finds it
        (``middle = lo + (hi - lo) // 2``)."""
        widest = self.r.fetch(f"SELECT MAX(hi - lo) AS gap FROM {state}").column("gap")[0]
        gap = widest.as_py() or 0
        rounds = 0
        while gap > 1:  # each round leaves at most ceil(gap / 2)
            gap = (gap + 1) // 2
            rounds += 1
        current = state
        for round_ in range(rounds):
            probes = f"{name}_p{round_}"
            self._create(
                probes,
                "SELECT subject_id, 0 AS pid, "
                f"CAST(lo + {self.d.int_div('hi - lo', '2')} AS INT) AS day "
                f"FROM {current} WHERE hi - lo > 1",
            )
            nxt = f"{name}_s{round_}"
            self._create(
                nxt,
                f"""
                SELECT s.subject_id,
                       CASE WHEN h.ok IS NULL OR h.ok THEN s.lo ELSE h.day END AS lo,
                       CASE WHEN h.ok THEN h.day ELSE s.hi END AS hi
                FROM {current} s LEFT JOIN ({holds(probes)}) h ON h.subject_id = s.subject_id
                """,
            )
            current = nxt
        return current

    def _steps(self, name: str, previous: list[int], days: list[int]) -> str:
        """A table of the search's steps: ``k`` (from 1), the day of the step before
        (``a_prev``) and the step's own day (``a_day``), the same for every subject."""
        steps = f"{name}_steps"
        self._register(
            steps,
            pa.table(
                {
                    "k": pa.array(range(1, len(days) + 1), pa.int32()),
                    "a_prev": pa.array(previous, pa.int32()),
                    "a_day": pa.array(days, pa.int32()),
                }
            ),
        )
        return steps

    def _stretch_back(self, rule: _Rule, cand: str, name: str, facts: str) -> str:
        """For each subject of ``cand`` (subject_id, earliest) on whose as_of the rule's
        condition holds: the first day of the unbroken stretch ending on as_of
        (``_stretch_back`` of the evaluator). Returns a table ``subject_id, since``."""
        steps_prev: list[int] = []
        steps_day: list[int] = []
        for step in range(1, _STRETCH_STEPS + 1):
            steps_prev.append(day_number(add_months(self.as_of, -3 * (step - 1))))
            steps_day.append(day_number(add_months(self.as_of, -3 * step)))
        steps = self._steps(name, steps_prev, steps_day)
        probes = f"{name}_probes"
        # Step k probes max(as_of - 3k months, earliest) while the previous step's date
        # was still after the earliest record (the evaluator stops there).
        self._create(
            probes,
            f"""
            SELECT c.subject_id, s.k AS pid, GREATEST(s.a_day, c.earliest) AS day
            FROM {cand} c JOIN {steps} s ON s.a_prev > c.earliest
            """,
        )
        checked = f"{name}_checked"
        self._create(checked, self._holds_sql(rule, probes, facts))
        first_fail = f"""
            SELECT subject_id, MIN(pid) AS k FROM {checked} WHERE NOT ok GROUP BY subject_id
        """
        # No failing step: the stretch reaches the last step's day (or as_of, when there
        # was no step at all).
        done = f"{name}_held"
        self._create(
            done,
            f"""
            SELECT c.subject_id, COALESCE(MIN(x.day), {self.as_of_n}) AS since
            FROM {cand} c
            LEFT JOIN ({first_fail}) ff ON ff.subject_id = c.subject_id
            LEFT JOIN {checked} x ON x.subject_id = c.subject_id
            WHERE ff.subject_id IS NULL
            GROUP BY c.subject_id
            """,
        )
        state = f"{name}_b"
        self._create(
            state,
            f"""
            SELECT ff.subject_id, bad.day AS lo,
                   COALESCE(good.day, {self.as_of_n}) AS hi
            FROM ({first_fail}) ff
            JOIN {checked} bad ON bad.subject_id = ff.subject_id AND bad.pid = ff.k
            LEFT JOIN {checked} good ON good.subject_id = ff.subject_id AND good.pid = ff.k - 1
            """,
        )
        final = self._bisect(state, lambda p: self._holds_sql(rule, p, facts), f"{name}_bis")
        out = f"{name}_since"
        self._create(
            out,
            f"SELECT subject_id, since FROM {done} UNION ALL "
            f"SELECT subject_id, hi AS since FROM {final}",
        )
        return out

    def _recovery(self, threshold: int, cand: str, name: str, facts: str) -> str:
        """For each subject of ``cand`` (subject_id): the first day after as_of its score
        reaches ``threshold`` with no new records (``_recovery_date``), or NULL. Returns a
        table ``subject_id, recovery``."""
        a = self.as_of_n
        horizon = f"{name}_h"
        self._create(
            horizon,
            f"""
            SELECT c.subject_id, MAX(f.fend) AS horizon
            FROM {cand} c JOIN {facts} f ON f.subject_id = c.subject_id
            WHERE f.vf <= {a} AND f.fend > {a}
            GROUP BY c.subject_id
            """,
        )
        top = self.r.fetch(f"SELECT MAX(horizon) AS m FROM {horizon}").column("m")[0].as_py()
        out = f"{name}_rec"
        if top is None:
            self._create(out, f"SELECT subject_id, CAST(NULL AS INT) AS recovery FROM {cand}")
            return out
        prev_days: list[int] = []
        days: list[int] = []
        months = 0
        while True:
            months += 1
            prev = day_number(add_months(self.as_of, months - 1))
            if prev >= top:
                break
            prev_days.append(prev)
            days.append(day_number(add_months(self.as_of, months)))
        steps = self._steps(name, prev_days, days)
        probes = f"{name}_probes"
        self._create(
            probes,
            f"""
            SELECT h.subject_id, s.k AS pid, LEAST(s.a_day, h.horizon) AS day
            FROM {horizon} h JOIN {steps} s ON s.a_prev < h.horizon
            """,
        )

        def reached(p: str) -> str:
            score = self._score_at(p, self._counting(), facts)
            return f"SELECT subject_id, pid, day, score >= {threshold} AS ok FROM ({score}) q"

        checked = f"{name}_checked"
        self._create(checked, reached(probes))
        state = f"{name}_b"
        self._create(
            state,
            f"""
            SELECT ff.subject_id, COALESCE(low.day, {a}) AS lo, high.day AS hi
            FROM (SELECT subject_id, MIN(pid) AS m FROM {checked} WHERE ok
                  GROUP BY subject_id) ff
            JOIN {checked} high ON high.subject_id = ff.subject_id AND high.pid = ff.m
            LEFT JOIN {checked} low ON low.subject_id = ff.subject_id AND low.pid = ff.m - 1
            """,
        )
        final = self._bisect(state, reached, f"{name}_bis")
        self._create(
            out,
            f"SELECT c.subject_id, b.hi AS recovery FROM {cand} c "
            f"LEFT JOIN {final} b ON b.subject_id = c.subject_id",
        )
        return out

    # ----------------------------------------------------------------------------------
    # List rules.

    def _entry_sql(self, rule: _Rule, rows: str, ids: str) -> str:
        """One list entry per row of ``rows`` (subject_id, since and until as day numbers,
        until NULL for none, reason) joined to its record ids (``ids``: subject_id,
        record_id, o1, o2, o3 - the order)."""
        d = self.d
        return f"""
            SELECT e.subject_id, {quote(rule.list_name)} AS list,
                   {quote(rule.list_kind)} AS kind, {quote(rule.rule.id)} AS rule,
                   {d.date_of("e.since")} AS since, {d.date_of("e.until")} AS until,
                   {"TRUE" if rule.public else "FALSE"} AS public, e.reason,
                   {d.ids_or_empty("i.record_ids")} AS record_ids
            FROM ({rows}) e
            LEFT JOIN (SELECT subject_id,
                              {d.ordered_list("record_id", ["o1", "o2", "o3"])} AS record_ids
                       FROM ({ids}) x GROUP BY subject_id) i
              ON i.subject_id = e.subject_id
            """

    @staticmethod
    def _first_ids(source: str, order: tuple[str, ...]) -> str:
        """``subject_id, record_id, o1, o2, o3`` of the first ``MAX_LIST_RECORDS`` rows
        of each subject in ``source`` (a FROM clause naming the records ``r``) in
        ``order`` (one to three expressions; o2 and o3 repeat the last one)."""
        o1, o2, o3 = (*order, order[-1], order[-1])[:3]
        return f"""
            SELECT subject_id, record_id, o1, o2, o3 FROM (
              SELECT r.subject_id, r.record_id, {o1} AS o1, {o2} AS o2, {o3} AS o3,
                     ROW_NUMBER() OVER (PARTITION BY r.subject_id
                                        ORDER BY {", ".join(order)}) AS rn
              FROM {source}) w
            WHERE rn <= {MAX_LIST_RECORDS}
        """

    def _record_type_rule(self, rule: _Rule, name: str) -> str:
        duration = rule.rule.duration
        assert duration is not None
        types = ", ".join(quote(t) for t in sorted(rule.record_types))
        vfs = sorted({vf for t in rule.record_types for vf in self.vf_by_type.get(t, ())})
        ends = f"{name}_ends"
        self._register(
            ends,
            pa.table(
                {
                    "vf": pa.array(vfs, pa.int32()),
                    "value": pa.array(
                        [day_number(duration.after(from_day_number(v))) for v in vfs],
                        pa.int32(),
                    ),
                }
            ),
        )
        spans = f"{name}_spans"
        self._create(
            spans,
            f"""
            SELECT f.subject_id, f.record_id, f.vf, LEAST(e.value, f.fend) AS send
            FROM tl_facts f JOIN {ends} e ON e.vf = f.vf
            WHERE f.record_type IN ({types})
            """,
        )
        hits = f"{name}_hits"
        self._create(
            hits,
            f"""
            SELECT l.subject_id, l.record_id, l.vf, l.record_type, l.provider, sp.send
            FROM tl_lines l JOIN {spans} sp ON sp.record_id = l.record_id
            WHERE l.record_type IN ({types}) AND {self.as_of_n} < sp.send
            """,
        )
        heads = f"{name}_heads"
        self._create(
            heads,
            f"SELECT subject_id, MIN(vf) AS start, MAX(send) AS until FROM {hits} "
            "GROUP BY subject_id",
        )
        # Where the unbroken stretch began: the spans of earlier records that overlap or
        # touch, chained (gaps and islands); the start of the island holding the start.
        islands = f"""
            SELECT subject_id, b, e,
                   CASE WHEN MAX(e) OVER (PARTITION BY subject_id ORDER BY b, e
                                          ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                             >= b THEN 0 ELSE 1 END AS brk
            FROM (SELECT sp.subject_id, sp.vf AS b, sp.send AS e
                  FROM {spans} sp JOIN {heads} h ON h.subject_id = sp.subject_id
                  WHERE sp.vf < h.start AND sp.send >= sp.vf
                  UNION ALL
                  SELECT subject_id, start AS b, start AS e FROM {heads}) u
        """
        since = f"{name}_since"
        self._create(
            since,
            f"SELECT subject_id, MAX(CASE WHEN brk = 1 THEN b END) AS since "
            f"FROM ({islands}) i GROUP BY subject_id",
        )
        d = self.d
        text = (
            f"h.record_type || ' of ' || {d.iso_date('h.vf')} || ' (' || h.provider || '): "
            f"on the list for {duration.describe()}'"
        )
        reasons = f"""
            SELECT h.subject_id, {d.ordered_join(text, ["h.vf", "h.record_id"], "; ")} AS reason
            FROM {hits} h GROUP BY h.subject_id
        """
        rows = f"""
            SELECT hd.subject_id, s.since, hd.until, r.reason
            FROM {heads} hd JOIN {since} s ON s.subject_id = hd.subject_id
            JOIN ({reasons}) r ON r.subject_id = hd.subject_id
        """
        ids = f"SELECT subject_id, record_id, vf AS o1, record_id AS o2, 0 AS o3 FROM {hits}"
        return self._entry_sql(rule, rows, ids)

    def _candidates(self, subjects_sql: str, name: str) -> tuple[str, str]:
        """The subjects of ``subjects_sql`` with ``earliest``, the first day of a known
        fact (or as_of), and their facts: ``(candidates, facts)`` tables. Every later
        step of a rule reads the candidates' facts only (one pass over all facts)."""
        subjects = f"{name}_who"
        self._create(subjects, subjects_sql)
        facts = self._facts_of(subjects, name)
        return self._earliest(subjects, name, facts), facts

    def _earliest(self, subjects: str, name: str, facts: str) -> str:
        """``subject_id, earliest``: the first day of a known fact, or as_of."""
        a = self.as_of_n
        out = f"{name}_cand"
        self._create(
            out,
            f"""
            SELECT c.subject_id, COALESCE(MIN(f.vf), {a}) AS earliest
            FROM {subjects} c
            LEFT JOIN {facts} f ON f.subject_id = c.subject_id AND f.vf <= {a}
            GROUP BY c.subject_id
            """,
        )
        return out

    def _score_below_rule(self, rule: _Rule, name: str) -> list[str]:
        d = self.d
        a = self.as_of_n
        th = rule.threshold
        duration = rule.rule.duration
        parts: list[str] = []
        # Below the threshold now: on the list since the stretch began, until recovery.
        cand, facts = self._candidates(f"SELECT subject_id FROM tl_scores WHERE score < {th}", name)
        since = self._stretch_back(rule, cand, f"{name}_sb", facts)
        rec = self._recovery(th, cand, f"{name}_rc", facts)
        if duration is not None:
            after = self._calendar("after", duration)
            until = "CASE WHEN r.recovery IS NULL THEN NULL ELSE GREATEST(ca.value, r.recovery) END"
            join_after = f"JOIN {after} ca ON ca.day = s.since"
        else:
            until = "r.recovery"
            join_after = ""
        th_text = self._points_const(th)
        reason = f"'score ' || {self._points('sc.score')} || ' is below {th_text}'"
        if duration is not None:
            reason += f" || '; stays on the list for at least {duration.describe()}'"
        rows = f"""
            SELECT s.subject_id, s.since, {until} AS until, {reason} AS reason
            FROM {since} s JOIN {rec} r ON r.subject_id = s.subject_id
            JOIN tl_scores sc ON sc.subject_id = s.subject_id
            {join_after}
        """
        ids = self._first_ids(
            f"tl_lines r JOIN {cand} c ON c.subject_id = r.subject_id WHERE r.full_cents < 0",
            ("r.cents", "r.full_cents", "r.record_id"),
        )
        parts.append(self._entry_sql(rule, rows, ids))
        if duration is None:
            return parts
        # At or above the threshold now, but it fell below within the minimum stay.
        after = self._calendar("after", duration)
        window = f"{name}_win"
        self._create(
            window,
            f"""
            SELECT DISTINCT f.subject_id, f.vf AS day
            FROM tl_facts f JOIN tl_scores sc ON sc.subject_id = f.subject_id
            JOIN {after} ca ON ca.day = f.vf
            WHERE sc.score >= {th} AND f.vf <= {a} AND f.full_cents < 0 AND {a} < ca.value
            """,
        )
        oldest = f"SELECT subject_id, MIN(day) AS oldest FROM {window} GROUP BY subject_id"
        caps = {name_: low for name_, low, _ in self.caps if low is not None}
        capped_neg = (
            "CASE "
            + " ".join(
                f"WHEN domain = {quote(dom)} THEN GREATEST(cents, {low})"
                for dom, low in caps.items()
            )
            + " ELSE cents END"
            if caps
            else "cents"
        )
        floor = f"({self.base} + COALESCE(SUM({capped_neg}), 0))"
        if self.min_score is not None:
            floor = f"GREATEST({floor}, {self.min_score})"
        low_floor = f"{name}_floor"
        self._create(
            low_floor,
            f"""
            SELECT o.subject_id FROM ({oldest}) o
            LEFT JOIN (SELECT f.subject_id, f.domain, SUM(f.full_cents) AS cents
                       FROM tl_facts f JOIN ({oldest}) o2 ON o2.subject_id = f.subject_id
                       WHERE f.full_cents < 0 AND f.vf <= {a} AND f.fend > o2.oldest
                       GROUP BY f.subject_id, f.domain) n ON n.subject_id = o.subject_id
            GROUP BY o.subject_id
            HAVING {floor} < {th}
            """,
        )
        probes = f"{name}_wp"
        self._create(
            probes,
            f"SELECT w.subject_id, w.day AS pid, w.day FROM {window} w "
            f"JOIN {low_floor} lf ON lf.subject_id = w.subject_id",
        )
        facts = self._facts_of(low_floor, f"{name}_w")
        fell = f"{name}_fell"
        self._create(
            fell,
            f"""
            SELECT subject_id, MAX(day) AS day
            FROM ({self._score_at(probes, self._known(), facts)}) q
            WHERE score < {th} GROUP BY subject_id
            """,
        )
        reason = (
            f"'score fell below {th_text} on ' || {d.iso_date('f.day')} || "
            f"'; stays on the list for at least {duration.describe()}'"
        )
        rows = f"""
            SELECT f.subject_id, f.day AS since, ca.value AS until, {reason} AS reason
            FROM {fell} f JOIN {after} ca ON ca.day = f.day
        """
        ids = self._first_ids(
            f"tl_facts r JOIN {fell} f ON f.subject_id = r.subject_id AND r.vf = f.day "
            "WHERE r.full_cents < 0",
            ("r.record_id",),
        )
        parts.append(self._entry_sql(rule, rows, ids))
        return parts

    def _score_at_least_rule(self, rule: _Rule, name: str) -> str:
        a = self.as_of_n
        th = rule.threshold
        window = rule.rule.no_negative_within
        now_probe = f"{name}_now"
        self._create(
            now_probe,
            f"SELECT subject_id, 0 AS pid, {a} AS day FROM tl_scores WHERE score >= {th}",
        )
        clean_now = self._clean(window, now_probe)
        cand, facts = self._candidates(
            f"SELECT subject_id FROM ({clean_now}) c WHERE c.clean", name
        )
        since = self._stretch_back(rule, cand, f"{name}_sb", facts)
        reason = (
            f"'score ' || {self._points('sc.score')} || ' is at least {self._points_const(th)}'"
        )
        if window is not None:
            reason += f" || ' with no negative record within {window.describe()}'"
        rows = f"""
            SELECT s.subject_id, s.since, CAST(NULL AS INT) AS until, {reason} AS reason
            FROM {since} s JOIN tl_scores sc ON sc.subject_id = s.subject_id
        """
        ids = self._first_ids(
            f"tl_lines r JOIN {cand} c ON c.subject_id = r.subject_id WHERE r.full_cents > 0",
            ("-r.cents", "-r.full_cents", "r.record_id"),
        )
        return self._entry_sql(rule, rows, ids)

    def _lists(self) -> str | None:
        parts: list[str] = []
        for i, rule in enumerate(_rules(self.policy)):
            name = f"tl_r{i}"
            if rule.kind == "record_types":
                parts.append(self._record_type_rule(rule, name))
            elif rule.kind == "score_below":
                parts.extend(self._score_below_rule(rule, name))
            else:
                parts.append(self._score_at_least_rule(rule, name))
        if not parts:
            return None
        return " UNION ALL ".join(f"SELECT * FROM ({p}) q{i}" for i, p in enumerate(parts))

    # ----------------------------------------------------------------------------------
    # The run.

    def _out(self, name: str, sql: str, schema: pa.Schema) -> pa.Table:
        """A result table: fetched, or with an ``output`` written by the engine itself
        under ``output/name`` (the table returned is then empty)."""
        if self.output is None:
            return _cast(self.r.fetch(sql), schema)
        self.r.write(sql, f"{self.output.rstrip('/')}/{name}")
        return schema.empty_table()

    def run(self) -> BatchResult:
        started = time.perf_counter()
        d = self.d
        self._view(
            "tl_records",
            f"""
            SELECT subject_id, record_id, version, record_type, provider,
                   {d.day_number("valid_from")} AS vf, {d.day_number("valid_to")} AS vt,
                   {d.day_number("repaired_on")} AS rep, action, disputed, review_overdue,
                   dispute_settled
            FROM records
            """,
        )
        self._create("tl_subjects", "SELECT subject_id, kind FROM subjects")
        self._lookups()
        self._classify()
        self._score()
        scores = self._out(
            "scores",
            f"SELECT subject_id, score AS score_cents, {self._grade('score')} AS grade "
            "FROM tl_scores ORDER BY subject_id",
            SCORES,
        )
        lists_sql = self._lists()
        lists = (
            self._out(
                "lists", f"SELECT * FROM ({lists_sql}) l ORDER BY subject_id, list, rule", LISTS
            )
            if lists_sql is not None
            else LISTS.empty_table()
        )
        domain_totals = self._out(
            "domain_totals",
            "SELECT subject_id, domain, CAST(capped AS BIGINT) AS cents FROM tl_capped "
            "ORDER BY subject_id, domain",
            DOMAIN_TOTALS,
        )
        contributions = not_counted = None
        if self.contributions:
            contributions = self._out("contributions", self._contributions_sql(), CONTRIBUTIONS)
            not_counted = self._out(
                "not_counted",
                "SELECT subject_id, record_id, record_type, reason FROM tl_status "
                "WHERE reason IS NOT NULL ORDER BY subject_id, record_id, reason",
                NOT_COUNTED,
            )
        subjects = (
            scores.num_rows
            if self.output is None
            else int(self.r.fetch("SELECT COUNT(*) AS n FROM tl_scores").column("n")[0].as_py())
        )
        result = BatchResult(
            engine=d.name,
            as_of=self.as_of,
            policy_version=self.policy_version,
            scores=scores,
            lists=lists,
            domain_totals=domain_totals,
            contributions=contributions,
            not_counted=not_counted,
            record_count=self.record_count,
            subject_count=subjects,
            seconds=time.perf_counter() - started,
            written_to=self.output,
        )
        for name in reversed(self._tables):
            self.r.drop(name)
        return result

    def _contributions_sql(self) -> str:
        d = self.d
        s = d.string_type()
        cap_rule = (
            "CASE WHEN c.capped > c.cents THEN 'domains.' || c.domain || '.cap_negative' "
            "ELSE 'domains.' || c.domain || '.cap_positive' END"
        )
        bound_rule = (
            "CASE WHEN s.score > s.subtotal THEN 'policy.min_score' ELSE 'policy.max_score' END"
        )
        return f"""
            SELECT subject_id, kind, rule, cents, domain, record_id, record_version,
                   record_type, provider, valid_from, full_cents, stops_counting, disputed,
                   dispute_settled
            FROM (
              SELECT subject_id, 'record' AS kind, rule, cents, domain,
                     record_id, version AS record_version, record_type, provider,
                     {d.date_of("vf")} AS valid_from, full_cents,
                     {d.date_of("stop")} AS stops_counting, disputed, dispute_settled,
                     0 AS o1, domain AS o2, vf AS o3, record_id AS o4, version AS o5
              FROM tl_lines
              UNION ALL
              SELECT c.subject_id, 'cap', {cap_rule}, c.capped - c.cents, c.domain,
                     NULL, NULL, CAST(NULL AS {s}), CAST(NULL AS {s}), CAST(NULL AS DATE), NULL,
                     CAST(NULL AS DATE), FALSE, FALSE, 1, c.domain, 0, 0, 0
              FROM tl_capped c WHERE c.capped <> c.cents
              UNION ALL
              SELECT s.subject_id, 'bound', {bound_rule}, s.score - s.subtotal,
                     CAST(NULL AS {s}), NULL, NULL, CAST(NULL AS {s}), CAST(NULL AS {s}),
                     CAST(NULL AS DATE), NULL, CAST(NULL AS DATE), FALSE, FALSE, 2, '', 0, 0, 0
              FROM tl_scores s WHERE s.score <> s.subtotal
            ) u
            ORDER BY subject_id, o1, o2, o3, o4, o5
        """


# --------------------------------------------------------------------------------------
# Rules in the evaluator's order, and the result schemas.


@dataclass(frozen=True, slots=True)
class _Rule:
    list_name: str
    list_kind: str
    public: bool
    rule: ListRule
    kind: str
    threshold: int
    record_types: frozenset[str]


def _rules(policy: Policy) -> list[_Rule]:
    out: list[_Rule] = []
    for list_name in sorted(policy.lists):
        list_def = policy.lists[list_name]
        for rule in sorted(list_def.rules, key=lambda r: r.id):
            if rule.record_types:
                kind, threshold = "record_types", 0
            elif rule.score_below is not None:
                kind, threshold = "score_below", int(rule.score_below * 100)
            else:
                assert rule.score_at_least is not None
                kind, threshold = "score_at_least", int(rule.score_at_least * 100)
            out.append(
                _Rule(
                    list_name,
                    list_def.kind,
                    list_def.public,
                    rule,
                    kind,
                    threshold,
                    frozenset(rule.record_types),
                )
            )
    return out


SCORES = pa.schema(
    [("subject_id", pa.int64()), ("score_cents", pa.int64()), ("grade", pa.string())]
)
LISTS = pa.schema(
    [
        ("subject_id", pa.int64()),
        ("list", pa.string()),
        ("kind", pa.string()),
        ("rule", pa.string()),
        ("since", pa.date32()),
        ("until", pa.date32()),
        ("public", pa.bool_()),
        ("reason", pa.string()),
        ("record_ids", pa.list_(pa.int64())),
    ]
)
DOMAIN_TOTALS = pa.schema(
    [("subject_id", pa.int64()), ("domain", pa.string()), ("cents", pa.int64())]
)
CONTRIBUTIONS = pa.schema(
    [
        ("subject_id", pa.int64()),
        ("kind", pa.string()),
        ("rule", pa.string()),
        ("cents", pa.int64()),
        ("domain", pa.string()),
        ("record_id", pa.int64()),
        ("record_version", pa.int32()),
        ("record_type", pa.string()),
        ("provider", pa.string()),
        ("valid_from", pa.date32()),
        ("full_cents", pa.int64()),
        ("stops_counting", pa.date32()),
        ("disputed", pa.bool_()),
        ("dispute_settled", pa.bool_()),
    ]
)
NOT_COUNTED = pa.schema(
    [
        ("subject_id", pa.int64()),
        ("record_id", pa.int64()),
        ("record_type", pa.string()),
        ("reason", pa.string()),
    ]
)


def _cast(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """The engine's column types (int32 sums, nullable flags) to the documented ones."""
    return table.select(schema.names).cast(schema)
