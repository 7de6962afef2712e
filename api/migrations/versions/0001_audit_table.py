"""The decision audit table as create_all made it before migrations (kept when it exists)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = context.config.attributes["table"]
    if sa.inspect(op.get_bind()).has_table(table):
        return  # an audit log created by create_all: revision 1 is what it already has
    op.create_table(
        table,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("key_name", sa.String(64), nullable=False),
        sa.Column("route", sa.String(128), nullable=False),
        sa.Column("client_id", sa.BigInteger, nullable=True),
        sa.Column("input_hash", sa.String(64), nullable=True),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("probability", sa.Float, nullable=False),
        sa.Column("decision", sa.String(8), nullable=False),
    )
