"""Database exceptions that mean "PostgreSQL is unreachable right now" (a 503 for a client, not a 500).

Both layers: SQLAlchemy wraps driver errors raised through the engine, while the hot paths that run
constant SQL on the driver connection (``db.driver``) see psycopg's own classes.
"""

from __future__ import annotations

import psycopg
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

DATABASE_DOWN_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    PoolTimeoutError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)
