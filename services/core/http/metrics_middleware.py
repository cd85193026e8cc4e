"""The one request-metrics middleware of the HTTP processes (intake and API).

Plain ASGI, so no task per request: it times the request and labels the observation with the
route *template* (bounded label values, never the raw path) and the status. A process that counts
more per response (the intake's rejections) passes ``on_response``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.core.http.asgi import HttpMiddleware
from services.core.metrics import HTTP_REQUEST_SECONDS

UNMATCHED_ROUTE = "unmatched"

# Called after every HTTP response with the scope, the route template (or UNMATCHED_ROUTE) and the status.
ResponseObserver = Callable[[Scope, str, int], None]


def route_template(scope: Scope) -> str:
    """The matched route's template (``/v1/tournaments/{t}``), or UNMATCHED_ROUTE."""
    return getattr(scope.get("route"), "path", None) or UNMATCHED_ROUTE


class RequestMetrics(HttpMiddleware):
    """Observes ``standings_http_request_duration_seconds{service, route, status}`` for every HTTP request.

    Add it outermost (last ``add_middleware``) so responses of the other middlewares (413 from the
    body size limit) are measured too. A request that fails before a response starts counts as 500.
    """

    def __init__(self, app: ASGIApp, service: str, on_response: ResponseObserver | None = None) -> None:
        super().__init__(app)
        self.service = service
        self.on_response = on_response

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = route_template(scope)
            HTTP_REQUEST_SECONDS.labels(self.service, route, str(status)).observe(time.perf_counter() - started)
            if self.on_response is not None:
                self.on_response(scope, route, status)
