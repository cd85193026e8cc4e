"""The rankings indexer's one wiring point: engine, search client, breaker, indexer and health server.

:func:`bootstrap` builds them from ``Settings`` (no connection opens: the engine and the search
client connect on first use, the health server binds when started); :meth:`IndexerProcess.run`
waits for PostgreSQL, serves the probes and indexes until SIGTERM/SIGINT or ``stop``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from elasticsearch import Elasticsearch
from sqlalchemy import Engine

from services.core.db.engine import make_engine
from services.core.gc_pauses import freeze_startup_heap
from services.core.lifecycle import stop_on_signals, wait_for_database
from services.core.logging import get_logger
from services.core.search.breaker import CircuitBreaker
from services.core.search.client import make_search_client
from services.core.settings import Settings
from services.indexer.health import HealthServer
from services.indexer.loop import RankingsIndexer

log = get_logger(__name__)

SERVICE = "indexer"


@dataclass
class IndexerProcess:
    settings: Settings
    engine: Engine
    search: Elasticsearch
    indexer: RankingsIndexer
    health: HealthServer

    def run(self, stop: threading.Event | None = None) -> None:
        """Index until SIGTERM/SIGINT (or ``stop`` is set); closes the client and the engine on the way out."""
        with stop_on_signals(SERVICE, stop) as stopping:
            try:
                if not wait_for_database(self.engine, stopping, service=SERVICE):
                    return
                # Probes only once the loop can beat: liveness would go stale during a long wait.
                self.health.start()
                log.info("indexer_health_listening", host=self.health.host, port=self.health.port)
                freeze_startup_heap()
                self.indexer.run(stopping)
            finally:
                self.health.stop()
                self.search.close()
                self.engine.dispose()


def bootstrap(
    settings: Settings, *, engine: Engine | None = None, search: Elasticsearch | None = None
) -> IndexerProcess:
    engine = engine if engine is not None else make_engine(settings.database)
    search = search if search is not None else make_search_client(settings.search)
    breaker = CircuitBreaker(settings.search.breaker_failure_threshold, settings.search.breaker_half_open_after_s)
    indexer = RankingsIndexer(settings, engine, search, breaker=breaker)
    health = HealthServer(
        settings.indexer.http_host, settings.indexer.http_port, indexer.status, settings.search.freshness_slo_s
    )
    return IndexerProcess(settings, engine, search, indexer, health)
