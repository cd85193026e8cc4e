"""The soak's stack fixture; and the soak runs after everything else: it is the longest test and the one CI wants last."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from services.core.db.engine import make_engine
from services.core.db.migrate import upgrade
from services.core.kafka.admin import ensure_topics
from services.embedded.kafka_broker import TansuBroker
from services.embedded.postgres import EmbeddedPostgres
from services.embedded.search_engine import OsmemEngine
from tests.faults.soak.processes import Spawner
from tests.faults.soak.stack import Stack, soak_settings


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("soak") is not None)  # stable: keeps the rest in order


@pytest.fixture
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The soak's own PostgreSQL, tansu and osmem (it stops and restarts them)."""
    root = tmp_path_factory.mktemp("soak")
    log_dir = root / "logs"
    pg = EmbeddedPostgres.start(root / "pg" / "data")
    broker: TansuBroker | None = None
    search: OsmemEngine | None = None
    spawner = Spawner()
    engine: sa.Engine | None = None
    try:
        broker = TansuBroker.start(log_dir=log_dir)
        search = OsmemEngine.start(log_dir=log_dir)
        settings = soak_settings(pg, broker, search)
        upgrade(pg.url)
        ensure_topics(settings.kafka, timeout=30)
        engine = make_engine(settings.database, pool_size=3)
        yield Stack(pg, broker, search, settings, engine, spawner, log_dir)
    finally:
        spawner.close()
        if engine is not None:
            engine.dispose()
        for component in (search, broker, pg):
            if component is not None:
                component.stop()
