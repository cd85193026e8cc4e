"""The read API process: standings (ETag/SSE), overlay pages, admin/registration, health, metrics.

Every router is imported here by name and included in ``ROUTERS`` order; the resources a router
owns (a search client, a background refresh) are async context managers listed in
``ROUTER_LIFESPANS``, entered inside the app's lifespan once :func:`services.api.bootstrap.running`
has built and started the shared context (``app.state.ctx``, ``settings``, ``engine``), the LISTEN
listener and the lag monitor.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from sqlalchemy import Engine

from services.api import (
    admin_routes,
    bootstrap,
    bracket_routes,
    ops_routes,
    pages_routes,
    rankings_routes,
    standings_routes,
)
from services.api.context import ApiContext, CtxDep
from services.api.fastpath import StandingsFastPath
from services.api.schemas import HealthOut, problems
from services.core.db.engine import make_engine
from services.core.http.metrics_middleware import RequestMetrics
from services.core.http.problems import BodySizeLimit
from services.core.http.readiness import check_all, database_probe
from services.core.http.service_routes import Lifespan, health_router, problem_json_app
from services.core.logging import get_logger
from services.core.settings import Settings
from services.ops import routes as consumer_routes

log = get_logger(__name__)

SERVICE = "api"
READY_CHECK_TIMEOUT_S = 2.0

# In this order: the hot standings routes first (Starlette matches in order).
ROUTERS: tuple[APIRouter, ...] = (
    standings_routes.router,
    bracket_routes.router,
    admin_routes.router,
    pages_routes.router,
    rankings_routes.router,
    ops_routes.router,
    consumer_routes.router,
)
ROUTER_LIFESPANS: tuple[Lifespan, ...] = (
    rankings_routes.lifespan,
    ops_routes.lifespan,
    consumer_routes.lifespan,
)


def _listen_probe(ctx: ApiContext) -> str | None:
    if ctx.listener is not None and ctx.listener.connected:
        return None
    return "LISTEN standings_changed connection is down (reconnecting)"


async def readyz(ctx: CtxDep) -> HealthOut:
    probes = {"postgres": database_probe(ctx.engine), "listen": lambda: _listen_probe(ctx)}
    readiness = await check_all(probes, timeout_s=READY_CHECK_TIMEOUT_S, service=SERVICE)
    readiness.raise_unless_ready()
    return HealthOut(status="ready", checks=dict(readiness.checks))


def _health_router() -> APIRouter:
    return health_router(
        readyz,
        model=HealthOut,
        readyz_summary="Readiness: PostgreSQL answers and the LISTEN connection (cache invalidation) is alive",
        readyz_description="503 problem+json naming each failing check. Without LISTEN the standings cache is off "
        "and every read goes to PostgreSQL, so the instance should not take broadcast traffic.",
        readyz_responses=problems(503),
    )


def _include_routers(app: FastAPI, extra: Sequence[APIRouter]) -> None:
    for router in (*ROUTERS, *extra, _health_router()):
        app.include_router(router)
    pages_routes.mount_static(app)


@asynccontextmanager
async def _router_resources(app: FastAPI) -> AsyncIterator[None]:
    """Every router's own lifespan, entered in ROUTER_LIFESPANS order and left in reverse."""
    async with AsyncExitStack() as stack:
        for router_lifespan in ROUTER_LIFESPANS:
            await stack.enter_async_context(router_lifespan(app))
        yield


def create_app(settings: Settings, *, engine: Engine | None = None, routers: Sequence[APIRouter] = ()) -> FastAPI:
    """Build the read API. The engine is created in the lifespan unless passed in (then the caller owns it).

    Every router of ROUTERS is included; ``routers`` are extra ones (tests, embedding).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = engine or make_engine(settings.database)
        try:
            async with bootstrap.running(settings, db) as runtime:
                app.state.ctx = runtime.context
                app.state.settings = settings
                app.state.engine = db
                app.state.authenticator = runtime.authenticator
                async with _router_resources(app):
                    log.info("api_started", routers=len(ROUTERS) + len(routers))
                    # Everything allocated so far lives as long as the process: keep it out of the
                    # collector's full passes (shorter GC pauses in the request latency tail).
                    gc.collect()
                    gc.freeze()
                    yield
        finally:
            if engine is None:
                db.dispose()

    app = problem_json_app(
        title="Standings read API",
        summary="Live tournament standings for broadcast overlays and the public; registration admin",
        lifespan=lifespan,
    )
    _include_routers(app, routers)
    app.add_middleware(StandingsFastPath)  # innermost: size limit, CORS and metrics still wrap it
    app.add_middleware(BodySizeLimit, max_bytes=settings.api.max_body_bytes)
    if settings.api.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api.cors_origins,
            allow_methods=["GET", "HEAD", "OPTIONS", "POST", "PUT"],
            allow_headers=["If-None-Match", "Last-Event-ID", "Authorization", "Content-Type"],
            expose_headers=["ETag"],
            max_age=600,
        )
    app.add_middleware(RequestMetrics, service=SERVICE)
    return app
