"""The read API's one wiring point: the engine from ``Settings``, then what the lifespan runs on it.

Two steps, as in the intake (clients do no network work before the app runs):

- :func:`bootstrap` builds the engine and the app on it; :meth:`ApiProcess.close` disposes the engine
  after the server has stopped. No connection opens here: the engine connects on first use.
- :func:`running` (the app's lifespan) checks the schema, builds the :class:`ApiRuntime` — the
  per-process context (cache, hub, freshness), the authenticator, the LISTEN listener and the lag
  monitor — starts the listener and the monitor, yields, and stops both on the way out.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
from fastapi import FastAPI
from sqlalchemy import Engine

from services.api.context import ApiContext, build_context
from services.api.freshness import LagMonitor
from services.api.notifications import NotificationListener
from services.core.db.engine import libpq_conninfo, make_engine, make_session_factory
from services.core.db.migrate import require_migrated
from services.core.http.auth import TokenAuthenticator
from services.core.logging import get_logger
from services.core.settings import Settings

log = get_logger(__name__)

LISTEN_STARTUP_WAIT_S = 5.0
LISTEN_STOP_WAIT_S = 5.0


@dataclass
class ApiProcess:
    settings: Settings
    engine: Engine
    app: FastAPI
    owns_engine: bool = True

    def close(self) -> None:
        if self.owns_engine:
            self.engine.dispose()


@dataclass(frozen=True)
class ApiRuntime:
    """What one lifespan of the app runs on its engine; ``context.listener`` is ``listener``."""

    context: ApiContext
    authenticator: TokenAuthenticator
    listener: NotificationListener
    monitor: LagMonitor


def bootstrap(settings: Settings, *, engine: Engine | None = None) -> ApiProcess:
    # Imported here: the app's lifespan runs this module's ``running``.
    from services.api.app import create_app

    db = engine if engine is not None else make_engine(settings.database)
    return ApiProcess(settings, db, create_app(settings, engine=db), owns_engine=engine is None)


def build_runtime(settings: Settings, engine: Engine) -> ApiRuntime:
    """The lifespan's collaborators on ``engine``, nothing started and no connection opened."""
    ctx = build_context(settings, engine)
    ctx.listener = NotificationListener(
        libpq_conninfo(engine.url),
        on_change=ctx.on_change,
        on_connected=ctx.on_connected,
        on_disconnected=ctx.on_disconnected,
        connect_kwargs=settings.database.connect_args(),
    )
    return ApiRuntime(
        context=ctx,
        authenticator=TokenAuthenticator(make_session_factory(engine), settings.token_pepper.get_secret_value()),
        listener=ctx.listener,
        monitor=LagMonitor(engine, settings.projector.group_id, ctx.freshness, settings.api.lag_poll_s),
    )


@asynccontextmanager
async def running(settings: Settings, engine: Engine) -> AsyncIterator[ApiRuntime]:
    """Refuse an unmigrated database, start LISTEN (waiting a moment for it) and the lag monitor, yield."""
    await anyio.to_thread.run_sync(require_migrated, engine)
    runtime = build_runtime(settings, engine)
    runtime.listener.start(asyncio.get_running_loop())
    try:
        if not await anyio.to_thread.run_sync(runtime.listener.wait_connected, LISTEN_STARTUP_WAIT_S):
            log.warning("listen_not_connected_at_startup", wait_s=LISTEN_STARTUP_WAIT_S)
        runtime.monitor.start()
        yield runtime
    finally:
        await runtime.monitor.stop()
        await anyio.to_thread.run_sync(runtime.listener.stop, LISTEN_STOP_WAIT_S)
