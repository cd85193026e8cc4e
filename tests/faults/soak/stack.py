"""The soak's own embedded stack: PostgreSQL, tansu and osmem, migrated and with its topics, the
settings every process of the run shares, and the one thread that spawns the children."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from services.core.settings import (
    ApiSettings,
    ConsumerSettings,
    DatabaseSettings,
    IndexerSettings,
    IntakeSettings,
    KafkaSettings,
    ProjectorSettings,
    SearchSettings,
    Settings,
)
from services.embedded.kafka_broker import TansuBroker
from services.embedded.postgres import EmbeddedPostgres
from services.embedded.search_engine import OsmemEngine
from tests.faults.soak.processes import Spawner


@dataclass
class Stack:
    """The soak's own servers (the chaos driver stops and restarts them) and what every process shares."""

    pg: EmbeddedPostgres
    broker: TansuBroker
    search: OsmemEngine
    settings: Settings
    engine: sa.Engine
    spawner: Spawner
    log_dir: Path


def soak_settings(pg: EmbeddedPostgres, broker: TansuBroker, search: OsmemEngine) -> Settings:
    return Settings(
        environment="test",
        log_json=True,
        log_level="INFO",
        database=DatabaseSettings(url=pg.url),
        kafka=KafkaSettings(bootstrap_servers=broker.bootstrap, partitions=6),
        search=SearchSettings(
            url=search.url,
            plain_json_media_type=True,
            breaker_failure_threshold=2,
            breaker_half_open_after_s=2.0,
            request_timeout_s=5.0,
            bulk_chunk_size=500,
            bulk_concurrency=1,
        ),
        projector=ProjectorSettings(
            consumer=ConsumerSettings(max_poll_interval_ms=6000, session_timeout_ms=6000, batch_size=1000),
            http_port=0,
            member_heartbeat_s=1.0,
            lag_interval_s=1.0,
            retry_max_backoff_s=1.0,
            shutdown_grace_s=10.0,
        ),
        indexer=IndexerSettings(poll_interval_s=0.1, http_port=0),
        intake=IntakeSettings(rate_limit_per_s=10_000, rate_limit_burst=10_000),
        api=ApiSettings(lag_poll_s=1.0),
    )
