"""The new clients to score: an application_test-shaped file, or a folder holding one."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from scoring.data import TEST_TABLE, RawTables, load_application, load_tables


def load_client_tables(path: Path) -> RawTables:
    """New clients with whatever auxiliary tables sit beside them (folder), or alone (file)."""
    if path.is_dir():
        return load_tables(path, require_train=False, require_test=True)
    return RawTables(train=None, test=load_application(path, with_target=False))


def load_clients(path: Path) -> pd.DataFrame:
    """The validated application_test table of new clients (unique SK_ID_CURR)."""
    tables = load_client_tables(path)
    assert tables.test is not None, f"{TEST_TABLE} is required"  # load_tables enforces it
    return tables.test
