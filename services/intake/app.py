"""The referee result intake: authenticated HTTP posts in, match events out (202 after the delivery report)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends, FastAPI, Header, Request
from pydantic import BaseModel
from sqlalchemy import Engine
from starlette.types import Scope

from services.core.auth import Principal, Role
from services.core.http.auth import require_role, require_tournament_writer
from services.core.http.metrics_middleware import UNMATCHED_ROUTE, RequestMetrics
from services.core.http.problems import (
    BodySizeLimit,
    require_json_media_type,
)
from services.core.http.ratelimit import rate_limited_principal
from services.core.http.readiness import check_all
from services.core.http.service_routes import health_router, problem_json_app
from services.core.kafka.producer import EventProducer
from services.core.logging import get_logger
from services.core.metrics import RESULTS_REJECTED
from services.core.settings import Settings
from services.intake import bootstrap, mat_routes
from services.intake.bootstrap import IntakeDeps
from services.intake.context import CtxDep, IntakeContext
from services.intake.context import ServiceDep as Service
from services.intake.fastpath import BoutWriteFastPath, BoutWriteRoute
from services.intake.paths import BOUT_RESULTS, BOUT_VOID, BoutId, TournamentId
from services.intake.schemas import (
    RESULT_UNPROCESSABLE,
    AcceptedOut,
    FinalizeOut,
    ResultIn,
    VoidIn,
    problem_responses,
)
from services.intake.service import IntakeService

log = get_logger(__name__)

SERVICE = "intake"
READY_CHECK_TIMEOUT_S = 2.0

Traceparent = Annotated[
    str | None,
    Header(description="W3C trace context; propagated to the event headers (one is generated when absent)"),
]

_WRITE_ERRORS = problem_responses(400, 401, 403, 404, 409, 413, 415, 422, 429, 503)
_RESULT_ERRORS = {**_WRITE_ERRORS, 422: RESULT_UNPROCESSABLE}
_REJECT_REASONS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "too_large",
    415: "media_type",
    422: "validation",
    429: "rate_limited",
    503: "unavailable",
}


class StatusOut(BaseModel):
    status: str


async def require_json_body(request: Request) -> None:
    """415 unless the body is declared JSON (FastAPI would otherwise report a confusing 422)."""
    require_json_media_type(request.headers.get("content-type"))


JsonBody = Annotated[None, Depends(require_json_body)]


@dataclass(frozen=True, slots=True)
class BoutWrite:
    """A referee's write to one bout, past the rate limit, the tournament-writer and the JSON checks."""

    tournament_id: str
    bout_id: str
    service: IntakeService
    traceparent: str | None


async def bout_write(
    t: TournamentId,
    b: BoutId,
    _limited: rate_limited_principal,
    _writer: require_tournament_writer,
    _json: JsonBody,
    service: Service,
    traceparent: Traceparent = None,
) -> BoutWrite:
    """The path, the checks and the trace context every bout write (result, void) declares."""
    return BoutWrite(t, b, service, traceparent)


BoutWriteDep = Annotated[BoutWrite, Depends(bout_write)]


def count_rejection(scope: Scope, route: str, status: int) -> None:
    """``standings_intake_rejected_total{reason}`` for every refused POST to a route (RequestMetrics hook)."""
    if status >= 400 and scope.get("method") == "POST" and route != UNMATCHED_ROUTE:
        RESULTS_REJECTED.labels(_REJECT_REASONS.get(status, "other")).inc()


def _router(results: APIRouter) -> APIRouter:
    """Every route of the intake, in the order of its OpenAPI document (``results``: the bout writes)."""
    router = APIRouter()
    for part in (results, _tournaments_router(), _health_router()):
        router.include_router(part)
    return router


def _results_router() -> APIRouter:
    router = APIRouter(tags=["results"])

    @router.post(
        BOUT_RESULTS.path,
        status_code=202,
        response_model=AcceptedOut,
        summary="Post a bout result (revision 1, or a correction with the next revision)",
        description=(
            "Accepted (202) once the result event is durably on the `match-events` topic; standings update "
            "asynchronously. A retry of the same revision with the same payload is safe (same `event_id`). "
            "A different payload at a revision already applied, or a revision below the applied one, is a 409. "
            "The tournament's ruleset may constrain the score (`combat-default`: a `points` or "
            "`technical_superiority` winner leads on technical points, a `draw` is level); a new result "
            "that breaks such a rule is a 422 of type `ruleset-violation` naming the `ruleset` and `rule`. "
            "A body that cannot be parsed is a 400 (`malformed-body`), one not declared as JSON a 415, "
            "JSON that does not match the schema a 422 (`validation`)."
        ),
        responses=_RESULT_ERRORS,
    )
    async def post_result(body: ResultIn, write: BoutWriteDep) -> AcceptedOut:
        return await write.service.record_result(
            write.tournament_id, write.bout_id, body, traceparent=write.traceparent
        )

    @router.post(
        BOUT_VOID.path,
        status_code=202,
        response_model=AcceptedOut,
        summary="Void (annul) a bout at a revision",
        description="A later, higher result revision reinstates the bout. Same delivery and conflict rules as results.",
        responses=_WRITE_ERRORS,
    )
    async def post_void(body: VoidIn, write: BoutWriteDep) -> AcceptedOut:
        return await write.service.void_result(write.tournament_id, write.bout_id, body, traceparent=write.traceparent)

    return router


def _tournaments_router() -> APIRouter:
    router = APIRouter(tags=["tournaments"])

    @router.post(
        "/v1/tournaments/{t}/finalize",
        status_code=202,
        response_model=FinalizeOut,
        summary="Finalize a tournament (ops or admin): one event per division",
        description=(
            "Emits `tournament_finalized` for every division of the tournament, each on its division's partition "
            "so it is ordered after that division's results. Idempotent: a repeat emits the same event ids."
        ),
        responses=problem_responses(401, 403, 404, 409, 422, 429, 503),
    )
    async def post_finalize(
        t: TournamentId,
        _operator: Annotated[Principal, require_role(Role.OPS, Role.ADMIN)],
        _limited: rate_limited_principal,
        service: Service,
        traceparent: Traceparent = None,
    ) -> FinalizeOut:
        return await service.finalize(t, traceparent=traceparent)

    return router


async def readyz(ctx: CtxDep) -> StatusOut:
    probes = ctx.readiness_probes(broker_timeout_s=READY_CHECK_TIMEOUT_S / 2)
    readiness = await check_all(probes, timeout_s=READY_CHECK_TIMEOUT_S, service=SERVICE)
    readiness.raise_unless_ready()
    return StatusOut(status="ready")


def _health_router() -> APIRouter:
    return health_router(
        readyz,
        model=StatusOut,
        readyz_summary="Readiness: PostgreSQL answers and the broker serves the event topic",
        readyz_responses=problem_responses(503),
    )


def create_app(
    settings: Settings,
    *,
    deps: IntakeDeps | None = None,
    engine: Engine | None = None,
    producer: EventProducer | None = None,
) -> FastAPI:
    """Build the intake app on ``deps`` (see :mod:`services.intake.bootstrap`); no I/O until the lifespan.

    Without ``deps`` the lifespan bootstraps them, using ``engine``/``producer`` when passed (tests).
    Passed-in collaborators belong to the caller (a passed producer is started if needed, never closed).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = deps is None
        collaborators = deps or bootstrap.bootstrap(settings, engine=engine, producer=producer)
        try:
            async with bootstrap.running(collaborators) as ctx:
                app.state.ctx = ctx
                # The shared auth and rate-limit dependencies (services.core.http) read these two.
                app.state.authenticator = ctx.authenticator
                app.state.rate_limiter = ctx.rate_limiter
                log.info("intake_started", topic=settings.kafka.topic)
                yield
        finally:
            if owned:
                await anyio.to_thread.run_sync(collaborators.close)

    app = problem_json_app(
        title="Standings intake",
        summary="Referee result intake for the live standings pipeline",
        lifespan=lifespan,
    )
    results = _results_router()
    app.include_router(_router(results))
    mat_routes.install(app)  # the mat-table console (SPEC §8)
    app.add_middleware(BoutWriteFastPath, writes=_fast_writes(results))
    app.add_middleware(BodySizeLimit, max_bytes=settings.intake.max_body_bytes)
    # Outermost: 413s from the size limit are measured (and counted as rejections) too.
    app.add_middleware(RequestMetrics, service=SERVICE, on_response=count_rejection)
    return app


async def _record(ctx: IntakeContext, t: str, b: str, body: ResultIn, traceparent: str | None) -> AcceptedOut:
    return await ctx.service.record_result(t, b, body, traceparent=traceparent)


async def _void(ctx: IntakeContext, t: str, b: str, body: VoidIn, traceparent: str | None) -> AcceptedOut:
    return await ctx.service.void_result(t, b, body, traceparent=traceparent)


def _fast_writes(results: APIRouter) -> list[BoutWriteRoute]:
    """The bout writes the fast path serves, each with its route in ``results``."""
    return [
        BoutWriteRoute(BOUT_RESULTS, ResultIn, _record, BOUT_RESULTS.route_in(results, "POST")),
        BoutWriteRoute(BOUT_VOID, VoidIn, _void, BOUT_VOID.route_in(results, "POST")),
    ]
