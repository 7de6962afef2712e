"""Each row records the threshold it was decided with and the reason of the decision (NULL in
rows written before)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = context.config.attributes["table"]
    op.add_column(table, sa.Column("threshold", sa.Float, nullable=True))
    op.add_column(table, sa.Column("decision_reason", sa.String(32), nullable=True))
