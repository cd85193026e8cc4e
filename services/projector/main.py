"""standings-projector process: ``python -m services.projector.main`` (settings from ``STANDINGS_*``).

Wires settings, logging, the engine, the health server and the consumer loop. SIGTERM/SIGINT
finish the in-flight batch, commit its offsets and leave the consumer group.
"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType

import sqlalchemy.exc
from tenacity import Retrying, retry_if_exception_type, wait_exponential

from services.core import metrics
from services.core.db.engine import make_engine
from services.core.db.migrate import require_migrated
from services.core.gc_pauses import freeze_startup_heap
from services.core.logging import configure_logging, get_logger
from services.core.settings import APP_VERSION, Settings
from services.projector.health import HealthServer
from services.projector.loop import ProjectorLoop

log = get_logger(__name__)


def run(settings: Settings) -> int:
    """Run the projector until SIGTERM/SIGINT; returns the process exit code."""
    configure_logging(settings.log_level, settings.log_json)
    metrics.BUILD.info({"version": APP_VERSION, "service": "projector"})
    ps = settings.projector
    # The loop's worker, the member heartbeat and a probe at most: a small pool.
    engine = make_engine(settings.database, pool_size=3)
    loop = ProjectorLoop(settings, engine)
    health = HealthServer(
        ps.http_host,
        ps.http_port,
        live=lambda: (loop.live(), "polling" if loop.live() else "poll loop stalled"),
        ready=lambda: (loop.health.ready(), loop.health.reason),
    )
    health.start()
    log.info("projector_health_listening", host=ps.http_host, port=health.port)

    previous: dict[signal.Signals, object] = {}
    if threading.current_thread() is threading.main_thread():

        def on_signal(signum: int, frame: FrameType | None) -> None:
            log.info("projector_signal", signal=signal.Signals(signum).name)
            loop.stop()

        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, on_signal)
    try:
        # PostgreSQL may come up after us: wait (not ready meanwhile) instead of crash-looping.
        for attempt in Retrying(
            retry=retry_if_exception_type(sqlalchemy.exc.OperationalError),
            wait=wait_exponential(multiplier=0.2, max=ps.retry_max_backoff_s),
            stop=lambda _state: loop.stopping,
            reraise=True,
        ):
            with attempt:
                require_migrated(engine)
        if not loop.stopping:
            freeze_startup_heap()
            loop.run()
    finally:
        health.stop()
        engine.dispose()
        for signum, handler in previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
    return 0


def main() -> None:
    sys.exit(run(Settings()))


if __name__ == "__main__":
    main()
