"""Alembic environment: runs on the connection trustledger hands it (see store/migrate.py)."""

from __future__ import annotations

from alembic import context

from trustledger.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - always called through trustledger.store.migrate
    raise RuntimeError("run migrations with `trustledger init`, not the alembic command")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
