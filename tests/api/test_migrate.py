"""Versioned audit schema: an audit table created before migrations (with rows) is upgraded in
place, no row lost, and new rows carry the threshold and the decision reason; one at revision
0002 gains the drift window's table (0003) and the kind of the input hash (0004), no row lost."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Column, DateTime, Engine, Float, Integer, MetaData, String, Table, inspect

from api.audit import AuditEntry, AuditLog, audit_table, drop_tables, make_engine
from api.drift_store import drift_table_name
from api.migrate import HEAD, revision, upgrade
from tests.services import postgres_url


def old_table(engine: Engine, name: str, rows: int) -> None:
    """The audit table as create_all made it before revision 0002, with `rows` rows."""
    metadata = MetaData()
    table = Table(
        name,
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("at", DateTime(timezone=True), nullable=False),
        Column("request_id", String(64), nullable=False),
        Column("key_name", String(64), nullable=False),
        Column("route", String(128), nullable=False),
        Column("client_id", Integer, nullable=True),
        Column("input_hash", String(64), nullable=True),
        Column("model_version", String(64), nullable=False),
        Column("probability", Float, nullable=False),
        Column("decision", String(8), nullable=False),
    )
    metadata.create_all(engine)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            table.insert(),
            [
                {"at": now, "request_id": f"old-{i}", "key_name": "k", "route": "/v1/predict",
                 "model_version": "m1", "probability": i / rows, "decision": "grant"}
                for i in range(rows)
            ],
        )  # fmt: skip


def upgrade_keeps_rows(url: str, table: str) -> None:
    engine = make_engine(url)
    try:
        old_table(engine, table, 250)
        assert revision(engine, table) is None
        log = AuditLog(url, table)
        log.start()
        try:
            assert revision(log.engine, table) == HEAD
            log.record_sync(
                AuditEntry("new-1", "k", "/v1/predict", "m2", 0.7, "refuse", None, None, 0.42,
                           "at_or_above_threshold")
            )  # fmt: skip
            rows = log.rows()
        finally:
            log.stop()
        assert len(rows) == 251
        assert [row["request_id"] for row in rows[:250]] == [f"old-{i}" for i in range(250)]
        assert all(row["threshold"] is None for row in rows[:250])
        assert rows[-1]["threshold"] == pytest.approx(0.42)
        assert rows[-1]["decision_reason"] == "at_or_above_threshold"
        # Running it again (the next start) changes nothing.
        again = AuditLog(url, table)
        again.start()
        assert again.count() == 251
        again.stop()
    finally:
        drop_tables(engine, table)
        engine.dispose()


def test_sqlite_audit_log_is_upgraded_without_loss(tmp_path: Path) -> None:
    upgrade_keeps_rows(f"sqlite:///{tmp_path / 'audit.db'}", "decision_audit")


@pytest.mark.postgres
def test_populated_postgres_audit_log_is_upgraded_without_loss() -> None:
    upgrade_keeps_rows(postgres_url(), f"audit_mig_{uuid.uuid4().hex[:10]}")


def test_a_fresh_database_starts_at_the_latest_revision(tmp_path: Path) -> None:
    log = AuditLog(f"sqlite:///{tmp_path / 'fresh.db'}")
    log.start()
    try:
        assert revision(log.engine, "decision_audit") == HEAD
        columns = {c["name"] for c in inspect(log.engine).get_columns("decision_audit")}
        assert {"threshold", "decision_reason", "input_hash_kind"} <= columns
    finally:
        log.stop()


def from_revision_2_keeps_rows(url: str, table: str) -> None:
    """A database at revision 0002 with audit rows gains the drift window (0003) and the input
    hash's kind (0004, NULL in the old rows: their hashes are all json-v1), rows kept."""
    engine = make_engine(url)
    try:
        upgrade(engine, table, "0002")
        assert revision(engine, table) == "0002"
        assert not inspect(engine).has_table(drift_table_name(table))
        now = datetime.now(UTC)
        with engine.begin() as conn:
            conn.execute(
                audit_table(table, MetaData()).insert(),
                [
                    {"at": now, "request_id": f"r2-{i}", "key_name": "k", "route": "/v1/predict",
                     "model_version": "m1", "probability": 0.5, "decision": "refer",
                     "threshold": 0.4, "decision_reason": "at_or_above_threshold"}
                    for i in range(120)
                ],
            )  # fmt: skip
        log = AuditLog(url, table)
        log.start()
        try:
            assert revision(log.engine, table) == HEAD == "0004"
            rows = log.rows()
            columns = {c["name"] for c in inspect(log.engine).get_columns(drift_table_name(table))}
        finally:
            log.stop()
        assert [row["request_id"] for row in rows] == [f"r2-{i}" for i in range(120)]
        assert all(row["threshold"] == pytest.approx(0.4) for row in rows)
        assert all(row["input_hash_kind"] is None for row in rows)
        assert columns == {"minute", "features", "vector"}
    finally:
        drop_tables(engine, table)
        engine.dispose()


def test_sqlite_at_revision_2_is_upgraded_without_loss(tmp_path: Path) -> None:
    from_revision_2_keeps_rows(f"sqlite:///{tmp_path / 'audit.db'}", "decision_audit")


@pytest.mark.postgres
def test_postgres_at_revision_2_is_upgraded_without_loss() -> None:
    from_revision_2_keeps_rows(postgres_url(), f"audit_r2_{uuid.uuid4().hex[:10]}")
