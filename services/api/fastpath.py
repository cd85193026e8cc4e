"""ASGI fast path for the one URL a broadcast polls several times a second.

``GET /v1/tournaments/{t}/divisions/{d}/standings`` with no query string and a cached body is
answered here — 304 or the pre-rendered bytes — before FastAPI's routing, parameter validation
and exception middleware, which cost more than the whole answer. Anything else (cache miss,
``?as_of_offset``, unknown division, other methods) falls through to the FastAPI route, which
stays the documented, validated implementation.

Nothing is restated here: the URL is matched with the route's own declaration
(``services.api.paths.DIVISION_STANDINGS``: template and parameter patterns), the answer is the
route's ``representation`` (services/api/representations.py) sent by the one ETag/304 helper (services/api/conditional.py:
``send_conditional``, the ASGI twin of the route's ``ConditionalResponse``), and the
metrics see the route's real ``APIRoute`` in ``scope["route"]``, as for a routed request. It sits
inside the metrics, CORS and body-size middlewares, so those still apply.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from services.api.conditional import send_conditional
from services.api.context import ApiContext
from services.api.paths import DIVISION_STANDINGS
from services.api.representations import representation
from services.api.standings_routes import route_for


class StandingsFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.route = route_for(DIVISION_STANDINGS)
        self.match = DIVISION_STANDINGS.match

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope["query_string"]:
            params = self.match(scope["path"])
            if params is not None:
                ctx: ApiContext | None = getattr(scope["app"].state, "ctx", None)
                entry = ctx.cache.peek(*params) if ctx is not None else None
                if ctx is not None and entry is not None:
                    scope["route"] = self.route  # the metrics label: the route template
                    await send_conditional(send, scope, *representation(ctx, entry))
                    return
        await self.app(scope, receive, send)
