"""Allocating primary keys for bulk inserts.

``INSERT ... RETURNING`` over many rows runs one statement per row on SQLite; allocating
the ids first and inserting with ``executemany`` is an order of magnitude faster on both
databases. PostgreSQL takes the ids from the column's own sequence (so concurrent writers
never collide); SQLite takes ``max(id) + 1 ...`` inside the caller's transaction, which
``BEGIN IMMEDIATE`` (see ``store/engine.py``) makes the only writer.
"""

from __future__ import annotations

from sqlalchemy import Connection, Table, func, select, text

__all__ = ["allocate_ids"]


def allocate_ids(conn: Connection, table: Table, count: int) -> list[int]:
    """``count`` fresh ids for ``table.c.id``, to be inserted in this transaction."""
    if count <= 0:
        return []
    if conn.dialect.name == "postgresql":
        rows = conn.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)"
            ),
            {"table": table.name, "n": count},
        )
        return [int(r[0]) for r in rows]
    start = conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
    return list(range(int(start) + 1, int(start) + 1 + count))
