"""The intake's one wiring point: collaborators from Settings, then the context its routes share.

Two steps, because clients must not do network work before the app runs (STYLE 4):

- :func:`bootstrap` builds the engine, the event producer (not started) and the clock from
  ``Settings``; anything passed in is used instead and stays the caller's to close.
- :func:`running` (the app's lifespan) checks the schema, starts the producer and yields the
  :class:`~services.intake.context.IntakeContext`: authenticator, rate limiter and the service.

``main`` calls :func:`bootstrap`, waits for PostgreSQL, builds the app on the result and serves it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import anyio.to_thread
from sqlalchemy import Engine
from sqlalchemy.pool import QueuePool

from services.core import events
from services.core.db.engine import make_engine, make_session_factory
from services.core.db.migrate import require_migrated
from services.core.http.auth import TokenAuthenticator
from services.core.http.ratelimit import TokenBucketLimiter
from services.core.kafka.producer import EventProducer
from services.core.settings import Settings
from services.intake.context import IntakeContext
from services.intake.service import IntakeService

# Database concurrency when the pool does not say how many connections it has.
DEFAULT_DB_CONCURRENCY = 5


@dataclass
class IntakeDeps:
    """The intake's collaborators. ``close`` ends only those :func:`bootstrap` created."""

    settings: Settings
    engine: Engine
    producer: EventProducer
    clock: Callable[[], datetime] = events.now_utc
    owns_engine: bool = True
    owns_producer: bool = True

    def close(self) -> None:
        """Flush and close the producer (bounded by the delivery timeout), then dispose the engine."""
        if self.owns_producer:
            self.producer.close(self.settings.intake.delivery_timeout_s + 1)
        if self.owns_engine:
            self.engine.dispose()


def bootstrap(
    settings: Settings,
    *,
    engine: Engine | None = None,
    producer: EventProducer | None = None,
    clock: Callable[[], datetime] = events.now_utc,
) -> IntakeDeps:
    """Build what is not passed in. No connection opens here: the engine and producer connect on first use."""
    return IntakeDeps(
        settings=settings,
        engine=engine if engine is not None else make_engine(settings.database),
        producer=producer if producer is not None else EventProducer(settings),
        clock=clock,
        owns_engine=engine is None,
        owns_producer=producer is None,
    )


def db_concurrency(engine: Engine) -> int:
    """As many concurrent validations as the pool has connections: a burst then queues in the service
    instead of opening (and closing) overflow connections, each a PostgreSQL backend start."""
    return engine.pool.size() if isinstance(engine.pool, QueuePool) else DEFAULT_DB_CONCURRENCY


def build_context(deps: IntakeDeps) -> IntakeContext:
    """The routes' shared objects, built on ``deps`` (the producer should be started)."""
    settings = deps.settings
    # The intake only reads: autocommit spares a BEGIN and a ROLLBACK round trip per request.
    sessions = make_session_factory(deps.engine.execution_options(isolation_level="AUTOCOMMIT"))
    return IntakeContext(
        settings=settings,
        engine=deps.engine,
        producer=deps.producer,
        authenticator=TokenAuthenticator(sessions, settings.token_pepper.get_secret_value()),
        rate_limiter=TokenBucketLimiter(settings.intake.rate_limit_per_s, settings.intake.rate_limit_burst),
        service=IntakeService(sessions, deps.producer, clock=deps.clock, db_concurrency=db_concurrency(deps.engine)),
    )


@asynccontextmanager
async def running(deps: IntakeDeps) -> AsyncIterator[IntakeContext]:
    """Refuse an unmigrated database, start the producer, yield the context (the app's lifespan body)."""
    await anyio.to_thread.run_sync(require_migrated, deps.engine)
    if not deps.producer.started:
        deps.producer.start()
    yield build_context(deps)
