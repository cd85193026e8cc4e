"""The projector's one wiring point: engine, dead-letter publisher, batch applier, loop, health server.

:func:`bootstrap` builds them from ``Settings`` and passes them in (no connection opens: the
engine connects on first use, the DLQ producer is warmed up by the loop, the health server binds
when started). :meth:`ProjectorProcess.run` serves the probes, waits for PostgreSQL (not ready
meanwhile) and consumes until SIGTERM/SIGINT, which finish the in-flight batch, commit its
offsets and leave the consumer group.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from services.core.db.engine import make_engine, make_session_factory
from services.core.gc_pauses import freeze_startup_heap
from services.core.http.health_server import HealthServer
from services.core.kafka.dlq import DeadLetterPublisher
from services.core.lifecycle import stop_on_signals, wait_for_database
from services.core.logging import get_logger
from services.core.settings import Settings
from services.projector.health import make_health_server
from services.projector.loop import ProjectorLoop
from services.projector.service import BatchApplier

log = get_logger(__name__)

SERVICE = "projector"
# The loop's worker, the member heartbeat and a probe at most: a small pool.
POOL_SIZE = 3


@dataclass
class ProjectorProcess:
    settings: Settings
    engine: Engine
    loop: ProjectorLoop
    health: HealthServer

    def run(self) -> int:
        """Run until SIGTERM/SIGINT; returns the process exit code. Disposes the engine on the way out."""
        with stop_on_signals(SERVICE, on_stop=self.loop.stop) as stop:
            self.health.start()
            log.info("projector_health_listening", host=self.health.host, port=self.health.port)
            try:
                backoff = self.settings.projector.retry_max_backoff_s
                if wait_for_database(self.engine, stop, service=SERVICE, max_backoff_s=backoff):
                    freeze_startup_heap()
                    self.loop.run()
            finally:
                self.health.stop()
                self.engine.dispose()
        return 0


def bootstrap(settings: Settings, *, engine: Engine | None = None) -> ProjectorProcess:
    ps = settings.projector
    engine = engine if engine is not None else make_engine(settings.database, pool_size=POOL_SIZE)
    dlq = DeadLetterPublisher(settings.kafka, ps.group_id, delivery_timeout_s=ps.dlq_flush_timeout_s)
    applier = BatchApplier(make_session_factory(engine), dlq, ps.group_id, dlq_flush_timeout_s=ps.dlq_flush_timeout_s)
    loop = ProjectorLoop(settings, engine, dlq=dlq, applier=applier)
    health = make_health_server(ps.http_host, ps.http_port, loop)
    return ProjectorProcess(settings, engine, loop, health)
