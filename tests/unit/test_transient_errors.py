"""Which failures the projector retries (PostgreSQL away) and which it treats as a possible poison message."""

from __future__ import annotations

import psycopg
import psycopg.errors
import pytest
import sqlalchemy.exc

from services.core.db.errors import DATABASE_DOWN_ERRORS
from services.projector.loop import is_transient


@pytest.mark.parametrize(
    "exc",
    [
        # Raised on the driver connection by the constant-SQL hot paths (db.driver): not wrapped.
        psycopg.OperationalError("server closed the connection unexpectedly"),
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
        psycopg.InterfaceError("the connection is closed"),
        # The same through SQLAlchemy.
        sqlalchemy.exc.OperationalError("SELECT 1", {}, psycopg.OperationalError("gone")),
    ],
)
def test_database_away_is_transient_and_a_503(exc: BaseException) -> None:
    assert is_transient(exc)
    assert isinstance(exc, DATABASE_DOWN_ERRORS)


@pytest.mark.parametrize(
    "exc",
    [
        psycopg.errors.NumericValueOutOfRange("integer out of range"),
        psycopg.errors.UniqueViolation("duplicate key"),
        ValueError("bad payload"),
    ],
)
def test_data_errors_are_not_transient(exc: BaseException) -> None:
    assert not is_transient(exc)
    assert not isinstance(exc, DATABASE_DOWN_ERRORS)
