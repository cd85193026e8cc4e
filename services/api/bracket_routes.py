"""Public read routes of an elimination bracket (SPEC §7): the bracket (ETag / 304, as-of) and its SSE.

The live bracket is rendered once per division version by the bracket cache (the standings
cache's machinery, invalidated by the same ``standings_changed`` notifications) and answered like
the standings (services/api/representations.py), so a poll of an unchanged bracket is a 304 with
no database access. A round-robin division has no bracket: 409 problem+json pointing at its
standings (the division exists, so not a 404; the detail says where its table is).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy.orm import Session
from sse_starlette import EventSourceResponse
from starlette.responses import Response

from services.api.bracket_bodies import bracket_out, encode_bracket
from services.api.bracket_schemas import BracketOut
from services.api.conditional import ConditionalResponse, historical_etag
from services.api.context import ApiContext
from services.api.paths import DIVISION_BRACKET, DIVISION_BRACKET_STREAM
from services.api.representations import conditional_endpoint, event_stream_doc, stream_endpoint
from services.api.schemas import problems
from services.api.standings_routes import ETAG_HEADERS, NOT_MODIFIED
from services.core.db import bracket_read
from services.core.errors import Conflict, NotFound

router = APIRouter(tags=["brackets"])

_NOT_A_BRACKET: dict[int | str, dict[str, Any]] = {
    409: {
        **problems(409)[409],
        "description": "The division has no bracket: it is round robin (see its standings), or its bracket is "
        "not registered",
    }
}
_PROBLEMS = {**problems(404, 422), **_NOT_A_BRACKET}


async def _as_of(ctx: ApiContext, request: Request, t: str, d: str, offset: int) -> Response:
    def read(session: Session) -> bracket_read.BracketView | None:
        try:
            return bracket_read.bracket_as_of_offset(session, t, d, offset)
        except bracket_read.NotABracket as exc:
            raise Conflict(exc.detail) from None

    data = await ctx.read(read)
    if data is None:
        raise NotFound(f"division {d!r} of tournament {t!r} does not exist")
    body = encode_bracket(bracket_out(data))
    return ConditionalResponse(request.scope, historical_etag(f"{t}:{d}:bracket", offset, body), body)


router.get(
    DIVISION_BRACKET.path,
    name="division_bracket",
    summary="Division bracket (ETag / 304; optional historical bracket)",
    description=(
        "Every position of an `elimination` or `pools_then_elimination` division — slots with athletes, byes or "
        "what an undetermined slot waits for, status, winner, the counted result, invalidated results that "
        "need a re-fight — the placings (decided and provisional) and, for `pools_then_elimination`, each "
        "pool's standings. Rendered once per division version; send the last `ETag` in `If-None-Match` for a "
        '`304` (strong, `"t:d:bracket:version"`, carrying the freshness seconds while the projector is behind).'
        "\n\n`as_of_offset=N` recomputes the bracket from the stored revisions with Kafka offset <= N; that "
        "bracket carries `version: null` and a content-hash ETag."
    ),
    response_class=Response,
    responses={
        200: {
            "model": BracketOut,
            "description": "The division's bracket. Headers: `ETag`, `Cache-Control: no-cache`.",
            "headers": ETAG_HEADERS,
        },
        304: NOT_MODIFIED,
        **_PROBLEMS,
    },
)(conditional_endpoint(lambda ctx: ctx.brackets, _as_of))
router.get(
    DIVISION_BRACKET_STREAM.path,
    name="division_bracket_stream",
    summary="Live bracket push (Server-Sent Events)",
    description=(
        "A `text/event-stream` like the standings stream: event `bracket` (id = division version, data = the same "
        'JSON as the bracket endpoint) whenever the division changes, and event `ping` (data `{"version", '
        '"freshness_s"}`) every `api.sse_heartbeat_s` seconds without a change. `Last-Event-ID` resumes.'
    ),
    response_class=EventSourceResponse,
    responses={
        200: event_stream_doc('retry: 2000\n\nid: 42\nevent: bracket\ndata: {"tournament":{...},"version":42,...}\n\n'),
        **_PROBLEMS,
    },
)(stream_endpoint(lambda ctx: ctx.brackets))
