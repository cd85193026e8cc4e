"""Statements on the session's own psycopg connection, binary in and out, for the hot paths.

The projector's batch runs a fixed set of statements per batch; through SQLAlchemy each one costs
statement compilation, cache-key generation and row-by-row fetching, which measured several times
the statement's own time on small batches. These helpers run a constant SQL string with bound
parameters inside the session's transaction (call ``session.flush()`` first if ORM objects are
pending) and fetch all rows at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson
import psycopg
from psycopg.types.json import set_json_dumps
from sqlalchemy.orm import Session


def _connection(session: Session) -> psycopg.Connection[Any]:
    connection = session.connection().connection.driver_connection
    if connection is None:
        raise RuntimeError("the session's connection is closed")
    return connection


def execute(session: Session, sql: str, params: Mapping[str, Any]) -> Any:
    """Run ``sql`` on the session's connection (inside its transaction); returns the psycopg cursor."""
    cursor = _connection(session).cursor(binary=True)
    cursor.execute(sql, params)
    return cursor


def copy_rows(session: Session, sql: str, types: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """``COPY … FROM STDIN (FORMAT BINARY)`` of ``rows`` (values in ``types``' order; jsonb columns
    take Python objects, encoded with orjson), inside the session's transaction."""
    copy_into(_connection(session), sql, types, rows)


def copy_into(
    connection: psycopg.Connection[Any], sql: str, types: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """:func:`copy_rows` on a psycopg connection (the same-statements floor replays COPY with it)."""
    with connection.cursor() as cursor:
        set_json_dumps(orjson.dumps, context=cursor)
        with cursor.copy(sql) as copy:
            copy.set_types(list(types))
            for row in rows:
                copy.write_row(row)


def fetchall(session: Session, sql: str, params: Mapping[str, Any]) -> list[Any]:
    with execute(session, sql, params) as cursor:
        return list(cursor.fetchall())


def run(session: Session, sql: str, params: Mapping[str, Any]) -> None:
    execute(session, sql, params).close()
