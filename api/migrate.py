"""Versioned schema of the decision audit log (alembic, api/migrations): upgrade a database to
the latest revision without losing a row. The API runs it at start (api/audit.py); operators can
run it ahead of a deploy:

    python -m api.migrate            # DATABASE_URL and AUDIT_TABLE from the environment
"""

from __future__ import annotations

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).parent / "migrations"
HEAD = "0004"


def upgrade(engine: Engine, table: str, target: str = "head") -> None:
    """Bring `table` (and its version table `<table>_version`, its drift window `<table>_drift`)
    to the latest revision (or to `target`)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        config.attributes["table"] = table
        command.upgrade(config, target)


def revision(engine: Engine, table: str) -> str | None:
    """The revision `table` is at (None before any migration)."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": f"{table}_version"[:63]}
        )
        return context.get_current_revision()


def main() -> int:
    from api.audit import make_engine
    from api.services import database_timeouts
    from api.settings import Settings

    settings = Settings()
    engine = make_engine(settings.database_url, database_timeouts(settings))
    upgrade(engine, settings.audit_table)
    print(f"{settings.audit_table}: revision {revision(engine, settings.audit_table)}")
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
