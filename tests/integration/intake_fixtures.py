"""Intake test fixtures; load with ``pytest_plugins = ["tests.integration.intake_fixtures"]``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.core.kafka.admin import ensure_topics
from services.embedded.kafka_broker import TansuBroker
from services.embedded.postgres import EmbeddedPostgres
from tests.integration.intake_support import (
    Intake,
    IntakeDb,
    ServedApp,
    intake_database,
    intake_settings,
    unique,
)


@pytest.fixture(scope="module")
def intake_db(pg: EmbeddedPostgres) -> Iterator[IntakeDb]:
    with intake_database(pg, "intake") as db:
        yield db


@pytest.fixture(scope="module")
def intake(intake_db: IntakeDb, kafka: TansuBroker) -> Iterator[Intake]:
    topic = unique("match-events-intake")
    settings = intake_settings(intake_db.url, kafka.bootstrap, topic, rate_limit_per_s=0.2, rate_limit_burst=20)
    ensure_topics(settings.kafka, timeout=15)
    served = ServedApp(settings).start()
    yield Intake(served.url, settings, intake_db, kafka.bootstrap, topic)
    served.stop()
