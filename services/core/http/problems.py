"""RFC 9457 problem+json rendering for every error a FastAPI app can return.

One rule for request bodies, on every app that installs these handlers (docs/problems.md):

- ``400`` ``malformed-body``: the body cannot be parsed — not JSON, truncated JSON, not UTF-8,
  nested deeper than the parser goes, a number too long to convert, or no body at all.
- ``415`` ``unsupported-media-type``: a body that is not declared as JSON.
- ``422`` ``validation``: JSON that parses but does not match the schema (wrong shape, type or
  range); the ``errors`` list each violation.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import fastapi.routing
import orjson
import pydantic_core
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.core.db.errors import DATABASE_DOWN_ERRORS
from services.core.errors import AppError, BadRequest, NotFound, PayloadTooLarge, UnsupportedMediaType
from services.core.http.asgi import HttpMiddleware
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


MALFORMED_BODY_TITLE = "Malformed request body"
NOT_JSON_DETAIL = "send the request body as application/json"


class MalformedBody(BadRequest):
    """A request body that cannot be parsed (400): the same problem type the handlers give FastAPI's."""

    title, type_slug = MALFORMED_BODY_TITLE, "malformed-body"


def parse_failure_detail(exc: BaseException) -> str:
    """Why a body could not be parsed, for a problem's ``detail`` (never the body itself)."""
    if isinstance(exc, UnicodeDecodeError):
        return f"the request body is not valid UTF-8 (byte {exc.start}: {exc.reason})"
    if isinstance(exc, RecursionError):
        return "the request body nests arrays or objects deeper than the JSON parser allows"
    if isinstance(exc, json.JSONDecodeError):
        return f"the request body is not valid JSON: {exc.msg} at character {exc.pos}"
    if isinstance(exc, ValueError) and "digits" in str(exc):
        return "the request body is not valid JSON: a number has more digits than the parser accepts"
    return "the request body could not be parsed as JSON"


def require_json_media_type(content_type: str | None) -> None:
    """415 unless the body is declared JSON (``application/json`` or ``application/*+json``)."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not (
        media_type.startswith("application/") and media_type.endswith("+json")
    ):
        raise UnsupportedMediaType(NOT_JSON_DETAIL)


def parse_json_body(raw: bytes) -> Any:
    """Parse a JSON request body read by hand, refusing what FastAPI's parsing refuses, as MalformedBody.

    For routes that read ``request.body()`` themselves: the same 400 problem as every other route.
    Parsed with pydantic's parser, so a body that passes also passes ``Model.model_validate_json``'s
    parsing (same nesting limit) and only a schema problem is left for a 422.
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedBody(parse_failure_detail(exc)) from None
    if not text.strip():
        raise MalformedBody("the request body is empty; send a JSON document")
    try:
        return pydantic_core.from_json(text)
    except ValueError as exc:
        if "recursion limit" in str(exc):
            raise MalformedBody(parse_failure_detail(RecursionError())) from None
        raise MalformedBody(f"the request body is not valid JSON: {exc}") from None


def body_refusal(errors: Sequence[Any]) -> AppError | None:
    """The 400 or 415 for validation errors that say the body was never parsed (None: a schema 422).

    FastAPI reports these as validation errors although no schema was applied: ``json_invalid`` at
    ``("body", position)`` (the JSON parser failed), ``missing`` at ``("body",)`` (no body at all),
    and any error at ``("body",)`` whose input is still bytes (the content type was not JSON, so the
    body was not parsed).
    """
    if len(errors) != 1 or not isinstance(errors[0], dict):
        return None
    err = errors[0]
    loc = tuple(err.get("loc", ()))
    if err.get("type") == "json_invalid" and len(loc) == 2 and loc[0] == "body" and isinstance(loc[1], int):
        reason = (err.get("ctx") or {}).get("error") or "invalid JSON"
        return MalformedBody(f"the request body is not valid JSON: {reason} at character {loc[1]}")
    if loc != ("body",):
        return None
    if err.get("type") == "missing":
        return MalformedBody("the request body is empty; send a JSON document")
    if isinstance(err.get("input"), bytes | bytearray):
        return UnsupportedMediaType(NOT_JSON_DETAIL)
    return None


def _app_error_response(request: Request, exc: AppError) -> Response:
    return problem_response(
        exc.status,
        exc.title,
        exc.detail,
        type_slug=exc.type_slug,
        instance=request.url.path,
        headers=exc.headers or None,
        **exc.extra,
    )


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
        return _app_error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        refusal = body_refusal(exc.errors())
        if refusal is not None:
            return _app_error_response(request, refusal)
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
        if exc.status_code == 400 and isinstance(exc.__cause__, ValueError | RecursionError):
            # FastAPI's "There was an error parsing the body": not UTF-8, too deep, a huge number.
            return _app_error_response(request, MalformedBody(parse_failure_detail(exc.__cause__)))
        headers = dict(exc.headers) if exc.headers else None
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": allowed_methods(request)}
        title, type_slug = _STARLETTE_PROBLEMS.get(exc.status_code, ("Error", f"http-{exc.status_code}"))
        return problem_response(
            exc.status_code,
            title,
            str(exc.detail),
            type_slug=type_slug,
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
            if "requestBody" in operation:
                _document_body_problems(operation.setdefault("responses", {}), problem_ref)
    return schema


def problem_example(status: int, slug: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    """A problem+json example body (``type`` from ``slug``)."""
    return {"type": TYPE_BASE + slug, "title": title, "status": status, "detail": detail, **extra}


MALFORMED_BODY_EXAMPLE = problem_example(
    400,
    MalformedBody.type_slug,
    MALFORMED_BODY_TITLE,
    "the request body is not valid JSON: Expecting ',' delimiter at character 14",
)
NOT_JSON_EXAMPLE = problem_example(415, UnsupportedMediaType.type_slug, UnsupportedMediaType.title, NOT_JSON_DETAIL)
# What the handlers above answer for a request body they cannot read, on any operation that takes one.
_BODY_PROBLEMS = {
    "400": (
        "The body cannot be parsed (not JSON, truncated, not UTF-8, nested too deep, or empty)",
        MALFORMED_BODY_EXAMPLE,
    ),
    "415": ("The body is not declared as JSON", NOT_JSON_EXAMPLE),
}


def _document_body_problems(responses: dict[str, Any], problem_ref: str) -> None:
    """List the 400 and 415 of the body rule on an operation with a request body, unless it does."""
    for status, (description, example) in _BODY_PROBLEMS.items():
        responses.setdefault(
            status,
            {
                "description": description,
                "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": problem_ref}, "example": example}},
            },
        )


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


# Problem types of the errors Starlette raises itself (unknown path, wrong method…): docs/problems.md.
# status -> (title, type slug); where an AppError has the status, its own.
_STARLETTE_PROBLEMS: dict[int, tuple[str, str]] = {
    **{e.status: (e.title, e.type_slug) for e in (BadRequest, NotFound, PayloadTooLarge, UnsupportedMediaType)},
    405: ("Method not allowed", "method-not-allowed"),
    406: ("Not acceptable", "not-acceptable"),
}


class _BodyTooLarge(StarletteHTTPException):
    """Raised from ``receive``: FastAPI turns any non-HTTPException raised while reading a body into a 400."""

    def __init__(self, detail: str) -> None:
        super().__init__(413, detail)


class BodySizeLimit(HttpMiddleware):
    """Refuse request bodies over ``max_bytes`` with 413 before the app reads them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        super().__init__(app)
        self.max_bytes = max_bytes

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
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
            PayloadTooLarge.status,
            PayloadTooLarge.title,
            f"request body exceeds {self.max_bytes} bytes",
            type_slug=PayloadTooLarge.type_slug,
            instance=scope.get("path"),
        )
        await response(scope, receive, send)
