"""The new clients to score, as the model sees them: one feature path for every surface.

New clients come as an application_test-shaped file, or a folder holding one and, optionally,
the auxiliary tables of the same clients (bureau, previous_application, ...). `ClientBase` keeps
their application rows and the aggregates of their auxiliary tables (computed once), and builds
features through the model's own transform: the API (score, explanation, what-if,
counterfactual), the CLI's `score` and batch scoring all call :meth:`ClientBase.features`, so a
client gets the same features, hence the same score, everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from scoring.data import TEST_TABLE, RawTables, load_application, load_tables
from scoring.features import FeatureBuilder


def load_client_tables(path: Path) -> RawTables:
    """New clients with whatever auxiliary tables sit beside them (folder), or alone (file)."""
    if path.is_dir():
        return load_tables(path, require_train=False, require_test=True, with_train=False)
    return RawTables(train=None, test=load_application(path, with_target=False))


@dataclass(frozen=True)
class ClientBase:
    """Application rows of the new clients and the aggregates of their auxiliary tables."""

    applications: pd.DataFrame  # validated application_test rows (unique SK_ID_CURR)
    aggregates: pd.DataFrame  # per-client aggregates of the auxiliary tables (index SK_ID_CURR)
    builder: FeatureBuilder
    tables: tuple[str, ...]  # auxiliary tables that were supplied

    @classmethod
    def from_tables(cls, tables: RawTables, builder: FeatureBuilder) -> ClientBase:
        # load_tables enforces it; the assert narrows the type
        assert tables.test is not None, f"{TEST_TABLE} is required"  # nosec B101
        return cls(
            applications=tables.test.reset_index(drop=True),
            aggregates=builder.aggregates(tables.aux),
            builder=builder,
            tables=tuple(sorted(tables.aux)),
        )

    @classmethod
    def load(cls, path: Path, builder: FeatureBuilder) -> ClientBase:
        return cls.from_tables(load_client_tables(path), builder)

    def __len__(self) -> int:
        return len(self.applications)

    def features(self, applications: pd.DataFrame | None = None) -> pd.DataFrame:
        """Model features (index SK_ID_CURR) of application rows of these clients, by default all
        of them; what-if rows keep their SK_ID_CURR and so keep the client's history."""
        rows = self.applications if applications is None else applications
        return self.builder.transform(rows, aggregates=self.aggregates)
