"""ASGI fast path for the two writes a venue posts at match rate: a bout's result and its void.

``POST /v1/tournaments/{t}/bouts/{b}/results`` (and ``…/void``) is served here when every check
the FastAPI route makes before the use case passes: a known token that may write the tournament,
a JSON body the route's own schema (``ResultIn``/``VoidIn``) accepts, a token left in the rate
limit. FastAPI's routing, dependency solving and response validation cost more CPU than the use
case itself (bench/projector.py's ``intake_cpu_us_per_post``).

Nothing is restated here. Any request that fails one of those checks falls through to the route
with the messages already received replayed, so every refusal (401, 403, 415, 400, 422, 429) is
the route's own problem+json, in the route's order; the rate limit is taken last, so a request
that falls through has taken no token. What the use case raises (404, 409, a ruleset 422, 503)
is rendered by the app's own exception handlers, and a 202 is the bytes FastAPI would send
(``model_dump_json`` of ``AcceptedOut``). The metrics see the route's ``APIRoute`` in
``scope["route"]``; the fast path sits inside the metrics and body-size middlewares.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.core.auth import Principal, parse_bearer
from services.core.errors import AppError
from services.core.http.path_template import PathTemplate
from services.core.http.problems import require_json_media_type
from services.intake.context import IntakeContext
from services.intake.schemas import AcceptedOut

UseCase = Callable[[IntakeContext, str, str, Any, str | None], Awaitable[AcceptedOut]]


@dataclass(frozen=True, slots=True)
class BoutWriteRoute:
    """One bout write: its URL, its body schema, its use case and the FastAPI route it stands for."""

    template: PathTemplate
    body: type[BaseModel]
    use_case: UseCase
    route: APIRoute


class BoutWriteFastPath:
    def __init__(self, app: ASGIApp, writes: Sequence[BoutWriteRoute]) -> None:
        self.app = app
        self.writes = tuple(writes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        matched = self._match(scope)
        ctx: IntakeContext | None = getattr(scope["app"].state, "ctx", None) if matched else None
        if matched is None or ctx is None:
            await self.app(scope, receive, send)
            return
        write, (t, b) = matched
        headers = Headers(scope=scope)
        received: list[Message] = []
        try:
            admitted = await _admitted(ctx, headers, receive, received, write, t)
        except AppError:
            admitted = None  # e.g. the token lookup's 503: the route asks again and answers it
        except Exception as exc:  # e.g. the body-size limit's 413, raised while the body is read
            await (await _handled(Request(scope), exc))(scope, receive, send)
            return
        if admitted is None:
            await self.app(scope, _replaying(received, receive), send)
            return
        scope["route"] = write.route  # the metrics label: the route template
        request = Request(scope, _replaying(received, receive))
        try:
            accepted = await write.use_case(ctx, t, b, admitted, headers.get("traceparent"))
        except Exception as exc:
            response = await _handled(request, exc)
        else:
            response = Response(accepted.model_dump_json(), status_code=202, media_type="application/json")
        await response(scope, request.receive, send)

    def _match(self, scope: Scope) -> tuple[BoutWriteRoute, tuple[str, ...]] | None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return None
        for write in self.writes:
            params = write.template.match(scope["path"])
            if params is not None:
                return write, params
        return None


async def _admitted(
    ctx: IntakeContext, headers: Headers, receive: Receive, received: list[Message], write: BoutWriteRoute, t: str
) -> BaseModel | None:
    """The validated body when the route's checks before its use case all pass (the rate-limit
    token taken), else None with nothing taken. ``received`` collects the body's messages."""
    token = parse_bearer(headers.get("authorization"))
    principal = None if token is None else await ctx.authenticator.authenticate(token)
    if principal is None or not principal.can_write_results(t):
        return None
    try:
        require_json_media_type(headers.get("content-type"))
    except AppError:
        return None
    body = await _body(receive, received)
    if body is None:
        return None
    try:
        posted = write.body.model_validate(json.loads(body))  # what FastAPI does: request.json(), then the schema
    except (ValueError, ValidationError, RecursionError):  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None
    if not _take_rate_token(ctx, principal):
        return None
    return posted


async def _body(receive: Receive, received: list[Message]) -> bytes | None:
    """The whole request body (None if the client went away first), every message kept in ``received``."""
    chunks = []
    while True:
        message = await receive()
        received.append(message)
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _take_rate_token(ctx: IntakeContext, principal: Principal) -> bool:
    return ctx.rate_limiter.try_acquire(principal.token_id) == 0.0


def _replaying(received: list[Message], receive: Receive) -> Receive:
    """``receive`` that first hands out the messages the fast path already read, in order."""
    pending = list(received)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


async def _handled(request: Request, exc: Exception) -> Response:
    """The response the app's exception handlers give ``exc`` (the nearest class in its MRO); re-raise without one."""
    handlers = request.app.exception_handlers
    for cls in type(exc).__mro__:
        handler = handlers.get(cls)
        if handler is not None and cls is not Exception:
            response: Response = await handler(request, exc)
            return response
    raise exc
