"""RFC 9457 problem+json rendering for every error a FastAPI app can return."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import fastapi.routing
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.core.db.errors import DATABASE_DOWN_ERRORS
from services.core.errors import AppError, PayloadTooLarge
from services.core.logging import get_logger

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://standings.example/problems/"
log = get_logger(__name__)


def problem_response(
    status: int,
    title: str,
    detail: str,
    *,
    type_slug: str,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {"type": TYPE_BASE + type_slug, "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    body.update(extra)
    return Response(orjson.dumps(body), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        out.append(
            {
                "loc": [str(p) for p in err.get("loc", ())],
                "msg": str(err.get("msg", "")),
                "type": err.get("type"),
            }
        )
    return out


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> Response:
        return problem_response(
            exc.status,
            exc.title,
            exc.detail,
            type_slug=exc.type_slug,
            instance=request.url.path,
            headers=exc.headers,
            **exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        return problem_response(
            422,
            "Unprocessable content",
            "the request does not match the schema",
            type_slug="validation",
            instance=request.url.path,
            errors=_validation_errors(exc),
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        headers = dict(exc.headers) if exc.headers else None
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": allowed_methods(request)}
        return problem_response(
            exc.status_code,
            _TITLES.get(exc.status_code, "Error"),
            str(exc.detail),
            type_slug=_SLUGS.get(exc.status_code, f"http-{exc.status_code}"),
            instance=request.url.path,
            headers=headers,
        )

    async def _database_down(request: Request, exc: Exception) -> Response:
        # PostgreSQL unreachable (e.g. a read API cache miss while it restarts): 503 + Retry-After, not a 500.
        log.warning("database_unavailable", path=request.url.path, error=type(exc).__name__)
        return problem_response(
            503,
            "Service unavailable",
            "the database is unavailable; retry shortly",
            type_slug="unavailable",
            instance=request.url.path,
            headers={"Retry-After": "2"},
        )

    for database_down in DATABASE_DOWN_ERRORS:
        app.add_exception_handler(database_down, _database_down)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled_error", path=request.url.path)
        return problem_response(500, "Internal error", "unexpected server error", type_slug="internal")


def problem_only_openapi(schema: dict[str, Any], problem_ref: str) -> dict[str, Any]:
    """Document every 4xx/5xx response as what is sent: ``application/problem+json`` with ``problem_ref``.

    FastAPI lists error models under ``application/json`` (and the route's own media type, e.g.
    text/html) and adds a default 422 (its ``HTTPValidationError``) to every operation with
    parameters; the handlers above render all of them as problem details instead. Edits ``schema``
    in place and returns it.
    """
    fastapi_default = "#/components/schemas/HTTPValidationError"
    for methods in schema.get("paths", {}).values():
        for operation in methods.values():
            if not isinstance(operation, dict):
                continue
            for status, response in operation.get("responses", {}).items():
                if not status.startswith(("4", "5")):
                    continue
                content = response.get("content", {})
                plain = content.get("application/json", {})
                problem = content.get(PROBLEM_MEDIA_TYPE, {})
                if plain.get("schema") and "schema" not in problem:
                    problem["schema"] = plain["schema"]
                if problem.get("schema", {}).get("$ref") in (None, fastapi_default):
                    problem["schema"] = {"$ref": problem_ref}
                # Only problem+json: not the route's own media type (an HTML page's 404 is not HTML).
                response["content"] = {PROBLEM_MEDIA_TYPE: problem}
    return schema


def allowed_methods(request: Request) -> str:
    """Every method of every route serving the request's path, for a 405's ``Allow`` (RFC 9110).

    Starlette names only the methods of the first route whose path matched, so a path served by a
    GET route and a POST route answered ``Allow: GET`` to a PUT.
    """
    probe = {
        "type": "http",
        "path": request.scope["path"],
        "root_path": request.scope.get("root_path", ""),
        "method": "",
    }
    methods: set[str] = set()
    for route in _leaf_routes(request.app.routes):
        route_methods = getattr(route, "methods", None)
        if route_methods and route.matches(probe)[0] is not Match.NONE:
            methods |= set(route_methods)
    return ", ".join(sorted(methods))


def _leaf_routes(routes: list[Any]) -> Iterable[Any]:
    """The app's routes with included routers flattened (FastAPI >= 0.165 nests them)."""
    iter_route_contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    return iter_route_contexts(routes) if iter_route_contexts is not None else routes


_SLUGS = {413: PayloadTooLarge.type_slug}
_TITLES = {
    400: "Bad request",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    413: "Payload too large",
    415: "Unsupported media type",
}


class _BodyTooLarge(StarletteHTTPException):
    """Raised from ``receive``: FastAPI turns any non-HTTPException raised while reading a body into a 400."""

    def __init__(self, detail: str) -> None:
        super().__init__(413, detail)


class BodySizeLimit:
    """Refuse request bodies over ``max_bytes`` with 413 before the app reads them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.max_bytes
                except ValueError:
                    too_big = False
                if too_big:
                    await self._reject(scope, receive, send)
                    return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge(f"request body exceeds {self.max_bytes} bytes")
            return message

        await self.app(scope, limited_receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413,
            "Payload too large",
            f"request body exceeds {self.max_bytes} bytes",
            type_slug="payload-too-large",
            instance=scope.get("path"),
        )
        await response(scope, receive, send)
