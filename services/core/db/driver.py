"""Statements on the session's own psycopg connection, binary in and out, for the hot paths.

The projector's batch runs a fixed set of statements per batch; through SQLAlchemy each one costs
statement compilation, cache-key generation and row-by-row fetching, which measured several times
the statement's own time on small batches. These helpers run a constant SQL string with bound
parameters inside the session's transaction (call ``session.flush()`` first if ORM objects are
pending) and fetch all rows at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session


def execute(session: Session, sql: str, params: Mapping[str, Any]) -> Any:
    """Run ``sql`` on the session's connection (inside its transaction); returns the psycopg cursor."""
    connection = session.connection().connection.driver_connection
    if connection is None:
        raise RuntimeError("the session's connection is closed")
    cursor = connection.cursor(binary=True)
    cursor.execute(sql, params)
    return cursor


def fetchall(session: Session, sql: str, params: Mapping[str, Any]) -> list[Any]:
    with execute(session, sql, params) as cursor:
        return list(cursor.fetchall())


def run(session: Session, sql: str, params: Mapping[str, Any]) -> None:
    execute(session, sql, params).close()
