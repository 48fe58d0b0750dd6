"""Which measures a batch run triggers for every subject, vectorised.

:func:`trustledger.service.decide.decide` answers for one subject at a time; a simulation
needs the answer for a million at once. This module gives the same answer from a batch
result (:class:`~trustledger.batch.job.BatchResult`), in one DuckDB query:

- a measure's own score is the base plus the subject's domain totals (record lines and
  cap lines) of its ``affected_by`` domains, held inside ``min_score`` / ``max_score``
  (:func:`trustledger.policy.evaluate.measure_score`), and its grade that score's grade;
- ``record_types`` holds when a counting record line of one of those types, in an allowed
  domain, is in the result's contributions;
- ``grade_at_most`` / ``grade_at_least`` compare that grade's rank;
- ``lists`` holds when the subject is on the list by an entry resting only on records of
  allowed domains, or, for an entry that names no record (a threshold rule), when the
  measure allows every domain of the policy;
- a measure is triggered when any of its conditions holds.

A triggered sanction is *adverse* for the subject (denied, or allowed only on
conditions); an untriggered incentive is adverse too (the subject does not get it). The
*favourable* outcome is the other one: :func:`favourable` says which.

``tests/simulate/test_measures.py`` holds this to :func:`decide`'s conditions subject by
subject.
"""

from __future__ import annotations

from typing import Final

import duckdb
import pyarrow as pa

from trustledger.batch.dialects import quote
from trustledger.batch.job import BatchResult
from trustledger.policy.schema import Measure, Policy

__all__ = ["favourable", "measure_outcomes", "measure_score_sql"]

_RECORD: Final = "record"


def favourable(measure: Measure, triggered: bool) -> bool:
    """Whether the outcome is the one a subject would want: not sanctioned, or granted the
    incentive.

    >>> from trustledger.policy.schema import MeasureWhen
    >>> m = Measure(kind="sanction", title="t", legal_basis="x", affected_by={"a": "b"},
    ...             when=MeasureWhen(record_types=("r",)), effect="deny")
    >>> favourable(m, triggered=True)
    False
    """
    return not triggered if measure.kind == "sanction" else triggered


def _in(values: list[str] | tuple[str, ...]) -> str:
    return "(" + ", ".join(quote(v) for v in values) + ")" if values else "(NULL)"


def _rank_sql(policy: Policy, score: str) -> str:
    """The rank (0 best) of the grade of ``score`` cents."""
    whens = []
    for rank, band in enumerate(policy.grades):
        cond = "TRUE" if band.min_score is None else f"{score} >= {int(band.min_score * 100)}"
        whens.append(f"WHEN {cond} THEN {rank}")
    return f"CASE {' '.join(whens)} ELSE {len(policy.grades) - 1} END"


def measure_score_sql(policy: Policy, subtotal: str) -> str:
    """``subtotal`` (base plus allowed domains' totals) held inside the policy's bounds."""
    header = policy.policy
    inner = []
    if header.min_score is not None:
        low = int(header.min_score * 100)
        inner.append(f"WHEN {subtotal} < {low} THEN {low}")
    if header.max_score is not None:
        high = int(header.max_score * 100)
        inner.append(f"WHEN {subtotal} > {high} THEN {high}")
    return f"(CASE {' '.join(inner)} ELSE {subtotal} END)" if inner else f"({subtotal})"


def measure_outcomes(
    policy: Policy,
    result: BatchResult,
    *,
    record_domains: pa.Table | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> pa.Table:
    """``subject_id`` and, per measure of ``policy`` (in the policy's order), a boolean
    column named after it: triggered or not. One row per subject of ``result.scores``,
    in subject order.

    ``result`` must hold contributions when a measure has ``record_types`` conditions.
    ``record_domains`` (``record_id``, ``domain``: every record of the population, counting
    or not) is needed only for measures with ``lists`` conditions: an entry's records must
    all be of allowed domains.
    """
    measures = policy.measures
    if any(m.when.record_types for m in measures.values()) and result.contributions is None:
        raise ValueError("measures with record_types conditions need the contributions")
    if any(m.when.lists for m in measures.values()) and record_domains is None:
        raise ValueError("measures with lists conditions need record_domains")
    own = con is None
    con = con or duckdb.connect()
    try:
        return _outcomes(con, policy, result, record_domains)
    finally:
        if own:
            con.close()


def _outcomes(
    con: duckdb.DuckDBPyConnection,
    policy: Policy,
    result: BatchResult,
    record_domains: pa.Table | None,
) -> pa.Table:
    measures = list(policy.measures.items())
    base = int(policy.policy.base_score * 100)
    every = set(policy.domains)
    con.register("m_scores", result.scores.select(["subject_id"]))
    con.register("m_totals", result.domain_totals)
    registered = ["m_scores", "m_totals"]
    totals, records, lists, columns = [], [], [], []
    ranks = {band.grade: i for i, band in enumerate(policy.grades)}
    for i, (name, m) in enumerate(measures):
        allowed = sorted(m.affected_by)
        totals.append(f"sum(cents) FILTER (WHERE domain IN {_in(allowed)}) AS t{i}")
        subtotal = f"({base} + coalesce(t.t{i}, 0))"
        rank = _rank_sql(policy, measure_score_sql(policy, subtotal))
        conditions: list[str] = []
        if m.when.record_types:
            records.append(
                f"bool_or(record_type IN {_in(sorted(m.when.record_types))} "
                f"AND domain IN {_in(allowed)}) AS r{i}"
            )
            conditions.append(f"coalesce(c.r{i}, FALSE)")
        if m.when.grade_at_most is not None:
            conditions.append(f"{rank} >= {ranks[m.when.grade_at_most]}")
        if m.when.grade_at_least is not None:
            conditions.append(f"{rank} <= {ranks[m.when.grade_at_least]}")
        if m.when.lists:
            everything = "TRUE" if set(allowed) >= every else "FALSE"
            lists.append(
                f"bool_or(list IN {_in(sorted(m.when.lists))} AND ("
                f"(n_ids > 0 AND n_allowed{i} = n_ids) OR (n_ids = 0 AND {everything}))) AS l{i}"
            )
            conditions.append(f"coalesce(l.l{i}, FALSE)")
        columns.append(f"({' OR '.join(conditions)}) AS {quote_ident(name)}")

    joins = [
        f"LEFT JOIN (SELECT subject_id, {', '.join(totals)} FROM m_totals GROUP BY 1) t "
        "USING (subject_id)"
    ]
    if records:
        assert result.contributions is not None
        con.register("m_lines", result.contributions)
        registered.append("m_lines")
        joins.append(
            f"LEFT JOIN (SELECT subject_id, {', '.join(records)} FROM m_lines "
            f"WHERE kind = {quote(_RECORD)} GROUP BY 1) c USING (subject_id)"
        )
    if lists:
        assert record_domains is not None
        con.register("m_lists", result.lists)
        con.register("m_domains", record_domains)
        registered += ["m_lists", "m_domains"]
        per_measure = ", ".join(
            f"count(d.record_id) FILTER (WHERE d.domain IN {_in(sorted(m.affected_by))}) "
            f"AS n_allowed{i}"
            for i, (_, m) in enumerate(measures)
        )
        entries = (
            "SELECT e.subject_id, e.list, e.entry, max(e.n_ids) AS n_ids, "
            f"{per_measure} FROM ("
            "SELECT subject_id, list, row_number() OVER () AS entry, "
            "len(record_ids) AS n_ids, unnest(CASE WHEN len(record_ids) = 0 THEN [NULL] "
            "ELSE record_ids END) AS record_id FROM m_lists) e "
            "LEFT JOIN m_domains d ON d.record_id = e.record_id "
            "GROUP BY e.subject_id, e.list, e.entry"
        )
        joins.append(
            f"LEFT JOIN (SELECT subject_id, {', '.join(lists)} FROM ({entries}) "
            "GROUP BY 1) l USING (subject_id)"
        )
    sql = (
        f"SELECT s.subject_id, {', '.join(columns) if columns else 'NULL AS _none'} "
        f"FROM m_scores s {' '.join(joins)} ORDER BY s.subject_id"
    )
    try:
        table = con.sql(sql).to_arrow_table()
    finally:
        for name in registered:
            con.unregister(name)
    if not columns:
        table = table.drop(["_none"])
    return table


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
