"""Fixtures for the projector tests: a migrated database and topics of their own per test, and the
projector loop running in a thread (real tansu, real PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from confluent_kafka import Consumer, Message
from prometheus_client import REGISTRY
from sqlalchemy.orm import Session

from services.core.db.engine import make_engine
from services.core.kafka.admin import ensure_topics
from services.core.settings import DatabaseSettings, KafkaSettings, ProjectorSettings, Settings
from services.embedded.kafka_broker import TansuBroker
from services.embedded.postgres import EmbeddedPostgres
from services.projector.loop import ProjectorLoop
from tests.conftest import TEST_CONSUMER
from tests.databases import create_database, drop_database
from tests.loop_thread import LoopThread
from tests.projector_support import Registration, unique


@dataclass
class ProjectorEnv:
    settings: Settings
    engine: sa.Engine

    @property
    def group(self) -> str:
        return self.settings.projector.group_id

    @property
    def topic(self) -> str:
        return self.settings.kafka.topic

    def register(self, reg: Registration) -> None:
        with Session(self.engine) as session, session.begin():
            reg.insert(session)

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params))

    def with_group(self, group: str) -> Settings:
        return self.settings.model_copy(
            update={"projector": self.settings.projector.model_copy(update={"group_id": group})}
        )


def make_settings(url: str, bootstrap: str, partitions: int = 3, **projector: Any) -> Settings:
    topic = unique("match-events")
    kafka = KafkaSettings(bootstrap_servers=bootstrap, topic=topic, dlq_topic=f"{topic}.dlq", partitions=partitions)
    opts: dict[str, Any] = {
        "group_id": unique("projector"),
        "consumer": TEST_CONSUMER,
        "member_heartbeat_s": 0.5,
        "lag_interval_s": 0.5,
        "retry_max_backoff_s": 1.0,
        "http_port": 0,
    }
    opts.update(projector)
    return Settings(
        environment="test",
        log_json=False,
        database=DatabaseSettings(url=url),
        kafka=kafka,
        projector=ProjectorSettings(**opts),
    )


@contextmanager
def projector_environment(
    pg: EmbeddedPostgres, kafka: TansuBroker, *, prefix: str = "proj", partitions: int = 3, **projector: Any
) -> Iterator[ProjectorEnv]:
    """A migrated database and topics of their own (wrap it in a fixture of the test module);
    ``projector``: settings that differ from :func:`make_settings`' defaults."""
    name = unique(prefix)
    url = create_database(pg, name)
    settings = make_settings(url, kafka.bootstrap, partitions, **projector)
    ensure_topics(settings.kafka)
    engine = make_engine(settings.database)
    try:
        yield ProjectorEnv(settings, engine)
    finally:
        engine.dispose()
        drop_database(pg, name)


@pytest.fixture
def projector_env(pg: EmbeddedPostgres, kafka: TansuBroker) -> Iterator[ProjectorEnv]:
    """The same as a fixture (for modules that import it by name)."""
    with projector_environment(pg, kafka) as env:
        yield env


@contextmanager
def running(settings: Settings, engine: sa.Engine, **kwargs: Any) -> Iterator[ProjectorLoop]:
    """The projector loop in a thread; stopped (SIGTERM path) and joined, bounded, on exit."""
    loop = ProjectorLoop(settings, engine, **kwargs)
    runner = LoopThread(loop).start()
    try:
        yield loop
        runner.raise_error()
    finally:
        loop.stop()
        runner.thread.join(30)
        assert not runner.thread.is_alive(), "projector loop did not stop within 30 s"
    runner.raise_error()


def metric(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def read_topic(bootstrap: str, topic: str, expected: int, timeout: float = 20.0) -> list[Message]:
    """Every message of ``topic`` from the beginning until ``expected`` arrived (bounded)."""
    import time

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": unique("reader"),
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 6000,
            "max.poll.interval.ms": 6000,
            "fetch.wait.max.ms": 5,
        }
    )
    consumer.subscribe([topic])
    out: list[Message] = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(500, timeout=0.2):
                if msg.error() is None:
                    out.append(msg)
    finally:
        consumer.close()
    return out


def run_in_thread(fn: Any) -> threading.Thread:
    thread = threading.Thread(target=fn, daemon=True)
    thread.start()
    return thread
