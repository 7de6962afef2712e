"""The shared drift window (api/drift_store.py, docs/drift.md): `<table>_drift`, one row per
application served with its model-ready feature values only, no id column of any kind."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    audit = context.config.attributes["table"]
    name = f"{audit}_drift"[:63]
    op.create_table(
        name,
        sa.Column("minute", sa.Integer, nullable=False),  # minutes since the epoch
        sa.Column("features", sa.String(16), nullable=False),  # the feature list's fingerprint
        sa.Column("vector", sa.LargeBinary, nullable=False),  # float32, little-endian
    )
    op.create_index(f"ix_{name}_minute"[:63], name, ["minute"])
