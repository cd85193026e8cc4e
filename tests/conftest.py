"""Shared fixtures: the real embedded services, each started lazily once per test session.

A fixture starts its service only when a test asks for it, so ``tests/unit`` starts nothing.
Processes are stopped at session end. Fault tests that kill or restart a service should start
their own instance (the classes in ``services.embedded``) rather than break the shared ones.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.core.settings import (
    ConsumerSettings,
    DatabaseSettings,
    KafkaSettings,
    ProjectorSettings,
    SearchSettings,
    Settings,
)
from services.embedded.kafka_broker import MockCluster, TansuBroker
from services.embedded.postgres import EmbeddedPostgres
from services.embedded.search_engine import OsmemEngine

# tansu's first group join waits for the whole rebalance timeout when these are at their defaults
# (~23 s); at 6 s a join takes ~3 s.
TEST_CONSUMER = ConsumerSettings(max_poll_interval_ms=6000, session_timeout_ms=6000)


@pytest.fixture(scope="session")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPostgres]:
    """PostgreSQL 18 in a temporary data dir, database ``standings``."""
    server = EmbeddedPostgres.start(tmp_path_factory.mktemp("pg") / "data")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TansuBroker]:
    """A tansu broker (memory storage) on a free port."""
    broker = TansuBroker.start(log_dir=tmp_path_factory.mktemp("tansu"))
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def mock_kafka() -> Iterator[MockCluster]:
    """librdkafka's mock cluster (topics auto-created with 4 partitions; no admin create_topics)."""
    with MockCluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def search(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OsmemEngine]:
    """osmem-server (in-memory OpenSearch API) on a free port."""
    engine = OsmemEngine.start(log_dir=tmp_path_factory.mktemp("osmem"))
    yield engine
    engine.stop()


@pytest.fixture
def settings(pg: EmbeddedPostgres, kafka: TansuBroker, search: OsmemEngine) -> Settings:
    """Settings pointing at the embedded services, with consumer timeouts short enough for tansu."""
    return Settings(
        environment="test",
        log_json=False,
        database=DatabaseSettings(url=pg.url),
        kafka=KafkaSettings(bootstrap_servers=kafka.bootstrap),
        search=SearchSettings(url=search.url, plain_json_media_type=True),
        projector=ProjectorSettings(consumer=TEST_CONSUMER),
    )


@pytest.fixture(scope="session")
def migrated_pg(pg: EmbeddedPostgres) -> EmbeddedPostgres:
    """The session PostgreSQL with the real Alembic migrations applied (never ``create_all``)."""
    from services.core.db.migrate import upgrade

    upgrade(pg.url)
    return pg
