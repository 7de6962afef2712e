"""One compiled executemany stores what ``table.insert()`` stores (the drift window's vectors)."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import MetaData

from api.audit import make_engine
from api.bulkinsert import BulkInsert
from api.drift_store import drift_table
from tests.services import postgres_url


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_bulk_rows_are_those_of_table_insert(tmp_path: Path, backend: str) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}" if backend == "sqlite" else postgres_url()
    engine = make_engine(url)
    table = drift_table(f"bulk_{uuid.uuid4().hex[:10]}", MetaData())
    table.create(engine)
    try:
        vectors = [np.array([1.5, np.nan, -2.0], dtype="<f4").tobytes(), b"\x00\x01"]
        bulk = BulkInsert(table, engine, ("minute", "features", "vector"))
        params = bulk.params([m, "fp", v] for m, v in zip((7, 8), vectors, strict=True))
        with engine.begin() as conn:
            conn.exec_driver_sql(bulk.sql, params)
            conn.execute(
                table.insert(), [{"minute": 9, "features": "fp", "vector": v} for v in vectors]
            )
        with engine.connect() as conn:
            rows = [tuple(r) for r in conn.execute(table.select()).all()]
        compiled = [(m, f, bytes(v)) for m, f, v in rows if m != 9]
        core = [(f, bytes(v)) for m, f, v in rows if m == 9]
        assert compiled == [(7, "fp", vectors[0]), (8, "fp", vectors[1])]
        assert [(f, v) for _, f, v in compiled] == core
    finally:
        table.drop(engine)
        engine.dispose()


def test_a_column_order_the_dialect_does_not_keep_is_refused(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    table = drift_table("order", MetaData())
    with pytest.raises(RuntimeError, match="insert parameters"):
        BulkInsert(table, engine, ("vector", "minute"))
