"""Database exceptions that mean "PostgreSQL is unreachable right now" (a 503 for a client, not a 500)."""

from __future__ import annotations

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

DATABASE_DOWN_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError, PoolTimeoutError)
