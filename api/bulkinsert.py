"""Many rows into one table with one executemany, compiled once (the audit rows, the drift
window's vectors)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

from sqlalchemy import Engine, Table


class BulkInsert:
    """A table's INSERT compiled once for the engine's dialect, and rows as the driver takes them:
    one executemany without SQLAlchemy's per-row parameter processing (3x less CPU for a
    batch's 1,000 rows). Values still go through the column types' own bind processors (SQLite's
    DateTime stores text, its Float has one too), so the rows are the ones ``table.insert()``
    wrote, and a refused row raises the same driver errors, wrapped alike by SQLAlchemy."""

    def __init__(self, table: Table, engine: Engine, columns: Sequence[str]) -> None:
        dialect = engine.dialect
        self.columns = tuple(columns)
        compiled = table.insert().compile(
            dialect=dialect, column_keys=list(self.columns), for_executemany=True
        )
        self.sql = str(compiled)
        self.positional = bool(compiled.positional)
        if self.positional and tuple(compiled.positiontup or ()) != self.columns:
            raise RuntimeError(f"unexpected {table.name} insert parameters: {compiled.positiontup}")
        self.processors = {
            name: proc
            for name in self.columns
            if (proc := table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
        }

    def params(self, rows: Iterable[list[Any]], skip: Collection[str] = ()) -> list[Any]:
        """The executemany parameters of ``rows`` (values in ``columns`` order, each list
        processed in place), the columns in ``skip`` left as they are (already processed)."""
        processors = [
            (self.columns.index(name), proc)
            for name, proc in self.processors.items()
            if name not in skip
        ]
        out: list[Any] = []
        for row in rows:
            for i, proc in processors:
                row[i] = proc(row[i])
            out.append(tuple(row) if self.positional else dict(zip(self.columns, row, strict=True)))
        return out
