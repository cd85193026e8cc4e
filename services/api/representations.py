"""The two routes every cached division representation (its standings, its bracket) has.

- the conditional GET: the cached body of the current version through the one ETag/304 helper,
  or, with ``as_of_offset``, the representation recomputed from the stored revisions up to it;
- the Server-Sent Events stream: on connect the current body at once unless ``Last-Event-ID``
  already names the current version; then every newer version as it is announced (LISTEN
  ``standings_changed`` through the hub), and a ``ping`` with the version and freshness every
  heartbeat without a change.

``conditional_endpoint`` and ``stream_endpoint`` build the FastAPI endpoints from which cache of
``ApiContext`` holds the representation, so both representations answer exactly alike.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import Header, Request
from sse_starlette import EventSourceResponse
from starlette.responses import Response

from services.api.conditional import CACHE_CONTROL, Body, ConditionalResponse
from services.api.context import ApiContext
from services.api.paths import AsOfOffset, DivisionId, TournamentId
from services.api.standings_bodies import ping_frame
from services.api.standings_cache import RenderedStandings, StandingsCache
from services.core.errors import NotFound
from services.core.logging import get_logger

log = get_logger(__name__)

SSE_RETRY_MS = 2000

CacheOf = Callable[[ApiContext], StandingsCache[Any]]
AsOf = Callable[[ApiContext, Request, str, str, int], Awaitable[Response]]
LastEventId = Annotated[
    str | None, Header(alias="Last-Event-ID", description="Last version received (EventSource resume)")
]


def event_stream_doc(example: str) -> dict[str, Any]:
    """The OpenAPI 200 of a division stream."""
    return {"description": "Event stream", "content": {"text/event-stream": {"example": example}}}


def _ctx(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


def representation(ctx: ApiContext, entry: RenderedStandings) -> tuple[bytes, Body]:
    """ETag and body of a cached division version now: the route and the fast path both answer with it."""
    return entry.representation(ctx.freshness.freshness_s(entry.partition, entry.last_event_epoch))


def conditional_endpoint(cache_of: CacheOf, as_of: AsOf) -> Callable[..., Awaitable[Response]]:
    """``GET …`` of a division representation: the cached version, or ``as_of`` for ``?as_of_offset``."""

    async def endpoint(
        request: Request, tournament_id: TournamentId, division_id: DivisionId, as_of_offset: AsOfOffset = None
    ) -> Response:
        ctx = _ctx(request)
        if as_of_offset is not None:
            return await as_of(ctx, request, tournament_id, division_id, as_of_offset)
        cache = cache_of(ctx)
        entry = cache.peek(tournament_id, division_id) or await cache.get(tournament_id, division_id)
        return ConditionalResponse(request.scope, *representation(ctx, entry))

    return endpoint


def stream_endpoint(cache_of: CacheOf) -> Callable[..., Awaitable[EventSourceResponse]]:
    """``GET …/stream`` of a division representation (Server-Sent Events)."""

    async def endpoint(
        request: Request, tournament_id: TournamentId, division_id: DivisionId, last_event_id: LastEventId = None
    ) -> EventSourceResponse:
        ctx = _ctx(request)
        return await stream_response(ctx, cache_of(ctx), tournament_id, division_id, last_event_id)

    return endpoint


async def stream_response(
    ctx: ApiContext, cache: StandingsCache[Any], t: str, d: str, last_event_id: str | None
) -> EventSourceResponse:
    # Resolve before streaming so an unknown division is a 404 problem, not an empty stream.
    await cache.get(t, d)
    try:
        last = int(last_event_id) if last_event_id else -1
    except ValueError:
        last = -1
    return EventSourceResponse(
        _stream(ctx, cache, t, d, last),
        ping=0,  # our own heartbeat carries freshness; see _stream
        send_timeout=30,
        headers={"cache-control": CACHE_CONTROL, "x-accel-buffering": "no"},
    )


async def _stream(ctx: ApiContext, cache: StandingsCache[Any], t: str, d: str, last: int) -> AsyncIterator[bytes]:
    heartbeat = ctx.settings.api.sse_heartbeat_s
    with ctx.hub.subscribe(t, d) as subscription:
        current: RenderedStandings | None = await _current(cache, t, d)
        if current is None:
            return
        freshness = ctx.freshness.freshness_s(current.partition, current.last_event_epoch)
        if current.version != last:  # includes a client ahead of us (database restored): resync
            yield b"retry: %d\n" % SSE_RETRY_MS + current.sse(freshness)
            last = current.version
        else:
            yield b"retry: %d\n\n" % SSE_RETRY_MS
        while True:
            if await subscription.wait(last, heartbeat):
                try:
                    newer = await _current(cache, t, d)
                except Exception as exc:  # database down: keep the stream, retry on the next wake-up
                    log.warning("sse_refresh_failed", tournament=t, division=d, error=str(exc))
                    continue
                if newer is None:
                    return
                current = newer
                if current.version > last:
                    freshness = ctx.freshness.freshness_s(current.partition, current.last_event_epoch)
                    yield current.sse(freshness)
                    last = current.version
            else:
                base = current
                freshness = ctx.freshness.freshness_s(base.partition, base.last_event_epoch)
                yield ping_frame(base.version, freshness)


async def _current(cache: StandingsCache[Any], t: str, d: str) -> RenderedStandings | None:
    try:
        return cache.peek(t, d) or await cache.get(t, d)
    except NotFound:
        return None  # the division was deleted: end the stream
