"""Intake test fixtures; load with ``pytest_plugins = ["tests.integration.intake_fixtures"]``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.core.db.engine import make_engine, make_session_factory
from services.core.kafka.admin import ensure_topics
from services.core.settings import DatabaseSettings
from services.embedded.kafka_broker import TansuBroker
from services.embedded.postgres import EmbeddedPostgres
from tests.integration.intake_support import (
    Intake,
    IntakeDb,
    ServedApp,
    create_database,
    drop_database,
    insert_registration,
    intake_settings,
    unique,
)


@pytest.fixture(scope="module")
def intake_db(pg: EmbeddedPostgres) -> Iterator[IntakeDb]:
    name = unique("intake").replace("-", "_")
    url = create_database(pg, name)
    engine = make_engine(DatabaseSettings(url=url), pool_size=2)
    factory = make_session_factory(engine)
    with factory() as session, session.begin():
        insert_registration(session)
    yield IntakeDb(url, factory)
    engine.dispose()
    drop_database(pg, name)


@pytest.fixture(scope="module")
def intake(intake_db: IntakeDb, kafka: TansuBroker) -> Iterator[Intake]:
    topic = unique("match-events-intake")
    settings = intake_settings(intake_db.url, kafka.bootstrap, topic, rate_limit_per_s=0.2, rate_limit_burst=20)
    ensure_topics(settings.kafka, timeout=15)
    served = ServedApp(settings).start()
    yield Intake(served, intake_db, kafka.bootstrap, topic)
    served.stop()
