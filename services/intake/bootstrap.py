"""The intake's one wiring point: collaborators from Settings, then the context its routes share.

Two steps, because clients must not do network work before the app runs (STYLE 4):

- :func:`bootstrap` builds the engine, the event producer (not started), the async connection
  pool of the posts' reads (not opened) and the clock from ``Settings``; anything passed in is used
  instead and stays the caller's to close.
- :func:`running` (the app's lifespan) checks the schema, starts the producer, opens the pool and
  yields the :class:`~services.intake.context.IntakeContext`: authenticator, rate limiter and the service.

``main`` calls :func:`bootstrap`, waits for PostgreSQL, builds the app on the result and serves it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

import anyio.to_thread
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import Engine
from sqlalchemy.pool import QueuePool

from services.core import events
from services.core.db.engine import make_engine, make_session_factory
from services.core.db.migrate import require_migrated
from services.core.http.auth import TokenAuthenticator
from services.core.http.ratelimit import TokenBucketLimiter
from services.core.kafka.producer import EventProducer
from services.core.settings import DatabaseSettings, Settings
from services.intake.context import IntakeContext
from services.intake.repository import PooledPostTargets
from services.intake.service import IntakeService

# Database concurrency when the pool does not say how many connections it has.
DEFAULT_DB_CONCURRENCY = 5


@dataclass
class IntakeDeps:
    """The intake's collaborators. ``close`` ends only those :func:`bootstrap` created."""

    settings: Settings
    engine: Engine
    producer: EventProducer
    pool: AsyncConnectionPool
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
        pool=post_reads_pool(settings.database),
        clock=clock,
        owns_engine=engine is None,
        owns_producer=producer is None,
    )


def post_reads_pool(settings: DatabaseSettings) -> AsyncConnectionPool:
    """The posts' reads' connections (opened by :func:`running`): as many as the engine's pool, autocommit
    (a read needs no transaction); a post waits for one at most the connect timeout, then is a 503."""
    conninfo = settings.sqlalchemy_url().replace("postgresql+psycopg://", "postgresql://", 1)
    return AsyncConnectionPool(
        conninfo,
        kwargs={"autocommit": True, **settings.connect_args()},
        min_size=settings.pool_size,
        open=False,
        timeout=settings.connect_timeout_s,
        name="intake-post-reads",
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
        service=IntakeService(
            sessions,
            deps.producer,
            PooledPostTargets(deps.pool),
            clock=deps.clock,
            db_concurrency=db_concurrency(deps.engine),
        ),
    )


@asynccontextmanager
async def running(deps: IntakeDeps) -> AsyncIterator[IntakeContext]:
    """Refuse an unmigrated database, start the producer, yield the context (the app's lifespan body)."""
    await anyio.to_thread.run_sync(require_migrated, deps.engine)
    if not deps.producer.started:
        deps.producer.start()
    await deps.pool.open(wait=False)
    try:
        yield build_context(deps)
    finally:
        await deps.pool.close()
