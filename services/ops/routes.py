"""Ops endpoints: ``GET /v1/ops/consumers`` (members, lag, config drift) for the ops role.

Include ``router`` in the API app. ``lifespan(app)`` keeps the
``standings_consumer_config_drift_members`` gauge of the projector group current (every
``DRIFT_REFRESH_S``) so the drift alert does not depend on anyone calling the endpoint; it needs
``app.state.settings`` and ``app.state.engine``, which the API lifespan sets before module lifespans.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, FastAPI, Query, Request
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from services.core.auth import Principal, Role
from services.core.http.auth import require_role
from services.core.http.problem_docs import problems
from services.core.logging import get_logger
from services.core.settings import Settings
from services.ops.consumers import assess_group, default_ttl_s, group_report, kafka_watermarks
from services.ops.schemas import ConsumerGroupOut
from services.registration.model import TEXT_PATTERN

log = get_logger(__name__)

DRIFT_REFRESH_S = 10.0

router = APIRouter(prefix="/v1/ops", tags=["ops"])

OpsPrincipal = Annotated[Principal, require_role(Role.OPS)]


def _state(request: Request) -> tuple[Settings, Engine]:
    return request.app.state.settings, request.app.state.engine


@router.get(
    "/consumers",
    response_model=ConsumerGroupOut,
    summary="Consumer group members, lag per partition and config drift",
    responses=problems(401, 403, 422),
)
async def get_consumers(
    request: Request,
    _principal: OpsPrincipal,
    group: Annotated[
        str | None, Query(max_length=128, pattern=TEXT_PATTERN, description="Default: the projector group")
    ] = None,
    lag: Annotated[bool, Query(description="Read high watermarks from Kafka for the lag")] = True,
) -> dict[str, Any]:
    settings, engine = _state(request)
    name = group or settings.projector.group_id
    ttl = default_ttl_s(settings)

    def build() -> dict[str, Any]:
        with Session(engine) as session:
            if not lag:
                return group_report(session, name, settings.kafka.topic, ttl, None).to_dict()
            with kafka_watermarks(settings.kafka) as marks:
                return group_report(session, name, settings.kafka.topic, ttl, marks).to_dict()

    return await anyio.to_thread.run_sync(build)


async def _refresh_drift(settings: Settings, engine: Engine, interval_s: float) -> None:
    group, ttl = settings.projector.group_id, default_ttl_s(settings)

    def refresh() -> None:
        with Session(engine) as session:
            assess_group(session, group, ttl)

    while True:
        try:
            await anyio.to_thread.run_sync(refresh)
        except SQLAlchemyError as exc:
            log.warning("drift_refresh_failed", error=str(exc).splitlines()[0])
        await asyncio.sleep(interval_s)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Refresh the config-drift gauge in the background while the app runs."""
    task = asyncio.create_task(_refresh_drift(app.state.settings, app.state.engine, DRIFT_REFRESH_S))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
