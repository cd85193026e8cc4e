"""Fixtures of the integration tests on the session PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine

from services.embedded.postgres import EmbeddedPostgres


@pytest.fixture
def engine(migrated_pg: EmbeddedPostgres) -> Iterator[Engine]:
    """An engine on the migrated session database, disposed after the test."""
    eng = create_engine(migrated_pg.url)
    yield eng
    eng.dispose()
