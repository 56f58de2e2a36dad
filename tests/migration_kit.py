"""Moving a test store to one Alembic revision, for tests that cross a migration with rows in place.

Pass these to ``connection.run_sync`` on a connection outside a transaction (``engine.connect()``,
then ``commit()``): on SQLite, ``migrations/env.py`` turns foreign keys off, which only works there.
"""

from __future__ import annotations

from alembic import command
from sqlalchemy.engine import Connection

from storage.migrate import alembic_config


def upgrade_to(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def downgrade_to(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, revision)
