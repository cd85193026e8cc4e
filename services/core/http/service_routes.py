"""What every FastAPI process is and serves besides its own routes: an app whose errors are
problem+json (and whose OpenAPI document says so), ``/livez``, ``/readyz`` (its own probes) and
``/metrics``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from starlette.responses import Response

from services.core import tracing
from services.core.http.problems import install_problem_handlers, problem_only_openapi
from services.core.settings import APP_VERSION

PROBLEM_REF = "#/components/schemas/Problem"
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def problem_json_app(*, title: str, summary: str, lifespan: Lifespan) -> FastAPI:
    """An app of this product: its version, problem+json for every error, and an OpenAPI document saying so."""
    app = FastAPI(title=title, version=APP_VERSION, summary=summary, lifespan=lifespan)
    _serve_problem_only_openapi(app)
    install_problem_handlers(app)
    if tracing.enabled():  # a server span per request (none at all, no cost, while tracing is off)
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(
            app, tracer_provider=tracing.installed(), excluded_urls="livez,readyz,metrics"
        )
    return app


def health_router(
    readyz: Callable[..., Awaitable[BaseModel]],
    *,
    model: type[BaseModel],
    readyz_summary: str,
    readyz_responses: dict[int | str, dict[str, Any]],
    readyz_description: str | None = None,
) -> APIRouter:
    """``/livez``, the process's ``readyz`` endpoint (its dependencies name its probes) and ``/metrics``.

    ``model`` is the health body (a ``status`` member): ``ok`` for liveness, whatever ``readyz`` returns.
    """
    router = APIRouter(tags=["health"])

    @router.get("/livez", response_model=model, summary="Liveness: the process serves HTTP")
    async def livez() -> BaseModel:
        return model(status="ok")

    router.add_api_route(
        "/readyz",
        readyz,
        methods=["GET"],
        response_model=model,
        summary=readyz_summary,
        description=readyz_description,
        responses=readyz_responses,
    )

    @router.get(
        "/metrics",
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"}},
    )
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def _serve_problem_only_openapi(app: FastAPI) -> None:
    """``app.openapi()``: FastAPI's document with every error response as problem+json (built once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                routes=app.routes,
                description=app.description,
            )
            app.openapi_schema = problem_only_openapi(schema, PROBLEM_REF)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
