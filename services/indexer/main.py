"""rankings-indexer process: ``python -m services.indexer.main`` (wired by ``standings up``)."""

from __future__ import annotations

import signal
import threading
from types import FrameType

from services.core.db.engine import make_engine
from services.core.db.migrate import require_migrated
from services.core.logging import configure_logging, get_logger
from services.core.search.client import make_search_client
from services.core.settings import Settings
from services.indexer.health import HealthServer
from services.indexer.loop import RankingsIndexer

log = get_logger(__name__)


def run(settings: Settings | None = None, *, stop: threading.Event | None = None) -> None:
    """Run the indexer until SIGTERM/SIGINT (or ``stop`` is set)."""
    settings = settings or Settings()
    configure_logging(settings.log_level, settings.log_json)
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():

        def _on_signal(signum: int, frame: FrameType | None) -> None:
            log.info("indexer_signal", signal=signal.Signals(signum).name)
            stop.set()

        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)

    engine = make_engine(settings.database)
    client = make_search_client(settings.search)
    health: HealthServer | None = None
    try:
        require_migrated(engine)
        indexer = RankingsIndexer(settings, engine, client)
        health = HealthServer(
            settings.indexer.http_host, settings.indexer.http_port, indexer.status, settings.search.freshness_slo_s
        ).start()
        log.info("indexer_health_listening", host=settings.indexer.http_host, port=health.port)
        indexer.run(stop)
    finally:
        if health is not None:
            health.stop()
        client.close()
        engine.dispose()


if __name__ == "__main__":
    run()
