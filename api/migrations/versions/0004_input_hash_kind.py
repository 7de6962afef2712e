"""Each row says how its input hash was computed (`input_hash_kind`: json-v1, the sorted-key JSON
of the request, or row-v1, the model-ready row, scoring/fingerprint.py); NULL in rows written
before, whose hashes are all json-v1."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = context.config.attributes["table"]
    op.add_column(table, sa.Column("input_hash_kind", sa.String(16), nullable=True))
