"""The projector benchmarks' shared setup on the embedded stack: a fresh database and topics of
their own, and the standard workload over them (2 tournaments x 50 round-robin divisions of 16
athletes, with revisions, voids, duplicates and conflicts mixed in)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.core.db.engine import make_engine
from services.core.db.migrate import upgrade
from services.core.kafka.admin import ensure_topics
from services.core.settings import ConsumerSettings, DatabaseSettings, KafkaSettings, ProjectorSettings, Settings
from services.embedded.stack import EmbeddedStack
from tests.projector_support import Planned, Registration, build_registration, generate_events, unique

PEPPER = "bench-pepper"
CONSUMER = {"max_poll_interval_ms": 10_000, "session_timeout_ms": 6000}


def new_database(admin_url: str, base_url: str, name: str) -> str:
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = base_url.replace("/standings?", f"/{name}?", 1)
    upgrade(url)
    return url


def settings_for(stack: EmbeddedStack, url: str, *, batch_size: int, partitions: int = 6) -> Settings:
    topic = unique("bench-events")
    return Settings(
        environment="test",
        log_level="WARNING",
        log_json=True,
        token_pepper=PEPPER,
        database=DatabaseSettings(url=url),
        kafka=KafkaSettings(
            bootstrap_servers=stack.kafka.bootstrap, topic=topic, dlq_topic=f"{topic}.dlq", partitions=partitions
        ),
        projector=ProjectorSettings(
            group_id=unique("bench-projector"),
            consumer=ConsumerSettings(batch_size=batch_size, **CONSUMER),
            http_port=0,
        ),
    )


def fresh(stack: EmbeddedStack, admin_url: str, database: str, *, batch_size: int) -> tuple[Settings, sa.Engine]:
    """A migrated database named after ``database`` and a 6-partition topic of its own."""
    url = new_database(admin_url, stack.postgres.url, unique(database))
    settings = settings_for(stack, url, batch_size=batch_size)
    ensure_topics(settings.kafka)
    return settings, make_engine(settings.database)


@dataclass
class Workload:
    settings: Settings
    engine: sa.Engine
    reg: Registration
    messages: list[Planned]


def workload(
    stack: EmbeddedStack,
    admin_url: str,
    database: str,
    prefix: str,
    n_events: int,
    *,
    batch_size: int,
    conflict_rate: float = 0.002,
) -> Workload:
    """:func:`fresh`, the standard registration (ids starting with ``prefix``) inserted, and about
    ``n_events`` events over it (not produced yet)."""
    settings, engine = fresh(stack, admin_url, database, batch_size=batch_size)
    reg = build_registration(prefix, tournaments=2, divisions=50, athletes=16)
    with Session(engine) as session, session.begin():
        reg.insert(session)
    messages = generate_events(reg, n_events, seed=42, duplicate_rate=0.05, conflict_rate=conflict_rate)
    return Workload(settings, engine, reg, messages)
