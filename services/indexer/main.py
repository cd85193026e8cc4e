"""rankings-indexer process: ``python -m services.indexer.main`` (wired by ``standings up``)."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import sqlalchemy.exc
from tenacity import Retrying, retry_if_exception_type, wait_exponential

from services.core.db.engine import make_engine
from services.core.db.migrate import require_migrated
from services.core.gc_pauses import freeze_startup_heap
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

    def _pause(seconds: float) -> None:
        stop.wait(seconds)  # a SIGTERM ends the wait at once

    try:
        # PostgreSQL may be down or restarting when we start: wait for it (as the projector does)
        # instead of exiting into a crash loop.
        for attempt in Retrying(
            retry=retry_if_exception_type(sqlalchemy.exc.OperationalError),
            wait=wait_exponential(multiplier=0.2, max=5.0),
            stop=lambda _state: stop.is_set(),
            sleep=_pause,
            before_sleep=lambda state: log.warning("indexer_waiting_for_database", attempt=state.attempt_number),
            reraise=True,
        ):
            with attempt:
                require_migrated(engine)
        if stop.is_set():
            return
        indexer = RankingsIndexer(settings, engine, client)
        health = HealthServer(
            settings.indexer.http_host, settings.indexer.http_port, indexer.status, settings.search.freshness_slo_s
        ).start()
        log.info("indexer_health_listening", host=settings.indexer.http_host, port=health.port)
        freeze_startup_heap()
        indexer.run(stop)
    finally:
        if health is not None:
            health.stop()
        client.close()
        engine.dispose()


if __name__ == "__main__":
    run()
