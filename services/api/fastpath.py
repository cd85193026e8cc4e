"""ASGI fast path for the one URL a broadcast polls several times a second.

``GET /v1/tournaments/{t}/divisions/{d}/standings`` with no query string and a cached body is
answered here — 304 or the pre-rendered bytes — before FastAPI's routing, parameter validation
and exception middleware, which cost more than the whole answer. Anything else (cache miss,
``?as_of_offset``, unknown division, other methods) falls through to the FastAPI route, which
stays the documented, validated implementation with identical output. It sits inside the
metrics, CORS and body-size middlewares, so those still apply.
"""

from __future__ import annotations

import re
from types import SimpleNamespace

from starlette.types import ASGIApp, Receive, Scope, Send

from services.api.context import ApiContext
from services.api.standings_routes import CACHE_CONTROL, etag_matches

_PATH = re.compile(r"^/v1/tournaments/([a-z0-9][a-z0-9_-]{0,63})/divisions/([a-z0-9][a-z0-9_-]{0,63})/standings$")
_CACHE_CONTROL = CACHE_CONTROL.encode()
_JSON = b"application/json"
# What RequestMetrics reads for its route label (FastAPI sets scope["route"] for routed requests).
_ROUTE = SimpleNamespace(path="/v1/tournaments/{tournament_id}/divisions/{division_id}/standings")


class StandingsFastPath:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope["query_string"]:
            match = _PATH.match(scope["path"])
            if match is not None:
                ctx: ApiContext | None = getattr(scope["app"].state, "ctx", None)
                entry = ctx.cache.peek(match.group(1), match.group(2)) if ctx is not None else None
                if ctx is not None and entry is not None:
                    scope["route"] = _ROUTE
                    freshness = ctx.freshness.freshness_s(entry.partition, entry.last_event_epoch)
                    etag = entry.etag_bytes if freshness == 0 else entry.etag_for(freshness).encode()
                    for name, value in scope["headers"]:
                        if name == b"if-none-match":
                            if value == etag or etag_matches(value.decode("latin-1"), etag.decode()):
                                await send(
                                    {
                                        "type": "http.response.start",
                                        "status": 304,
                                        "headers": [(b"etag", etag), (b"cache-control", _CACHE_CONTROL)],
                                    }
                                )
                                await send({"type": "http.response.body", "body": b""})
                                return
                            break
                    body = entry.body(freshness)
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 200,
                            "headers": [
                                (b"content-type", _JSON),
                                (b"content-length", str(len(body)).encode()),
                                (b"etag", etag),
                                (b"cache-control", _CACHE_CONTROL),
                            ],
                        }
                    )
                    await send({"type": "http.response.body", "body": body})
                    return
        await self.app(scope, receive, send)
