"""Alembic environment of the decision audit log: run on the connection and table that
api/migrate.py hands over (the table name is a setting, AUDIT_TABLE)."""

from __future__ import annotations

from alembic import context

config = context.config
connection = config.attributes["connection"]
table = config.attributes["table"]
context.configure(
    connection=connection,
    target_metadata=None,
    version_table=f"{table}_version"[:63],
    transaction_per_migration=True,
)
with context.begin_transaction():
    context.run_migrations()
