"""Security tier fixtures: both apps served for real (uvicorn) on the session's embedded services."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.embedded.kafka_broker import TansuBroker
from services.embedded.postgres import EmbeddedPostgres
from services.embedded.search_engine import OsmemEngine
from tests.security.stack import SecurityStack, running_stack, security_settings


@pytest.fixture(scope="module")
def stack(pg: EmbeddedPostgres, kafka: TansuBroker, search: OsmemEngine) -> Iterator[SecurityStack]:
    """A fresh stack per module: fuzzing writes registration data the next module must not see."""
    with running_stack(security_settings(pg, kafka.bootstrap, search.url)) as served:
        yield served
