"""Where DuckDB's SQL and Spark SQL differ, one method each (not ``if`` chains in the job).

The batch job (:mod:`trustledger.batch.job`) writes everything else in the subset the two
share: CTEs, joins, ``CASE``, ``GREATEST``/``LEAST``, window functions, integer arithmetic.
Dates travel as integers (days since 1970-01-01) so that date arithmetic is integer
arithmetic on both engines, and turn back into dates only on the way out.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["Dialect", "DuckDBDialect", "SparkDialect", "quote"]


def quote(text: str) -> str:
    """A SQL string literal (both engines double a single quote inside one; Spark also
    treats a backslash as an escape, so it is doubled too)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


class Dialect:
    name = "sql"

    def day_number(self, column: str) -> str:
        """A ``DATE`` column as days since 1970-01-01 (``NULL`` stays ``NULL``)."""
        raise NotImplementedError

    def date_of(self, day: str) -> str:
        """Days since 1970-01-01 back to a ``DATE``."""
        raise NotImplementedError

    def iso_date(self, day: str) -> str:
        """Days since 1970-01-01 as ``'YYYY-MM-DD'`` text."""
        return f"CAST({self.date_of(day)} AS STRING)"

    def ordered_list(self, value: str, order: Sequence[str]) -> str:
        """An aggregate: ``value`` of each row of the group, as a list in ``order``."""
        raise NotImplementedError

    def ordered_join(self, text: str, order: Sequence[str], separator: str) -> str:
        """An aggregate: ``text`` of each row of the group joined in ``order``."""
        raise NotImplementedError

    def string_type(self) -> str:
        return "STRING"

    def int_div(self, a: str, b: str) -> str:
        """Integer division of non-negative integers."""
        raise NotImplementedError

    def ids_or_empty(self, ids: str) -> str:
        """A list of record ids, or an empty one where it is NULL."""
        raise NotImplementedError


class DuckDBDialect(Dialect):
    name = "duckdb"

    def day_number(self, column: str) -> str:
        return f"date_diff('day', DATE '1970-01-01', {column})"

    def date_of(self, day: str) -> str:
        return f"(DATE '1970-01-01' + CAST({day} AS INTEGER))"

    def iso_date(self, day: str) -> str:
        return f"CAST({self.date_of(day)} AS VARCHAR)"

    def ordered_list(self, value: str, order: Sequence[str]) -> str:
        return f"list({value} ORDER BY {', '.join(order)})"

    def ordered_join(self, text: str, order: Sequence[str], separator: str) -> str:
        return f"string_agg({text}, {quote(separator)} ORDER BY {', '.join(order)})"

    def string_type(self) -> str:
        return "VARCHAR"

    def int_div(self, a: str, b: str) -> str:
        return f"(({a}) // ({b}))"

    def ids_or_empty(self, ids: str) -> str:
        return f"COALESCE({ids}, CAST([] AS BIGINT[]))"


class SparkDialect(Dialect):
    name = "spark"

    def day_number(self, column: str) -> str:
        return f"unix_date({column})"

    def date_of(self, day: str) -> str:
        return f"date_from_unix_date(CAST({day} AS INT))"

    def _sorted_structs(self, value: str, order: Sequence[str]) -> str:
        # collect_list has no order of its own: sort structs whose fields are the order
        # keys, then the value, and keep the value.
        fields = ", ".join(f"'k{i}', {expr}" for i, expr in enumerate(order))
        return f"array_sort(collect_list(named_struct({fields}, 'v', {value})))"

    def ordered_list(self, value: str, order: Sequence[str]) -> str:
        return f"transform({self._sorted_structs(value, order)}, x -> x.v)"

    def ordered_join(self, text: str, order: Sequence[str], separator: str) -> str:
        return f"array_join({self.ordered_list(text, order)}, {quote(separator)})"

    def int_div(self, a: str, b: str) -> str:
        return f"(({a}) DIV ({b}))"

    def ids_or_empty(self, ids: str) -> str:
        return f"COALESCE({ids}, CAST(array() AS ARRAY<BIGINT>))"
