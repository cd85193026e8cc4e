"""Throwaway databases on the shared embedded PostgreSQL server, migrated with the real Alembic
migrations, so tests stay independent of each other."""

from __future__ import annotations

import sqlalchemy as sa

from services.embedded.postgres import EmbeddedPostgres


def _as_admin(pg: EmbeddedPostgres, statement: str) -> None:
    admin = sa.create_engine(pg.admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(statement))
    finally:
        admin.dispose()


def create_database(pg: EmbeddedPostgres, name: str) -> str:
    """A fresh database named ``name``, migrated; returns its SQLAlchemy URL."""
    from services.core.db.migrate import upgrade

    _as_admin(pg, f'CREATE DATABASE "{name}"')
    url = pg.url.replace(f"/{pg.database}?", f"/{name}?", 1)
    upgrade(url)
    return url


def drop_database(pg: EmbeddedPostgres, name: str) -> None:
    _as_admin(pg, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
