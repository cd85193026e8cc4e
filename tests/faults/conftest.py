"""Fixtures of the fault tests: services of a test's own, which it may kill, stop and restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.embedded.postgres import EmbeddedPostgres


@pytest.fixture
def own_pg(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL of this test's own (the shared one must survive): stopped even if the test fails."""
    server = EmbeddedPostgres.start(tmp_path / "pgdata")
    try:
        yield server
    finally:
        server.stop()
