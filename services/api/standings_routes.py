"""Public read routes: standings (ETag/304, as-of), live push (SSE), conflicts, tournaments.

The two hot routes (division standings and its stream) read ``app.state.ctx`` directly instead
of through dependencies and answer with pre-rendered bytes: per-request work is a dict lookup,
an ETag comparison and, while the projector is behind, one bytes concatenation.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from functools import partial

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from sse_starlette import EventSourceResponse
from starlette.responses import Response

from services.api.conditional import ConditionalResponse, historical_etag
from services.api.context import ApiContext, CtxDep
from services.api.paths import (
    DIVISION_STANDINGS,
    DIVISION_STANDINGS_STREAM,
    TOURNAMENT_STANDINGS,
    DivisionId,
    PathTemplate,
    TournamentId,
)
from services.api.representations import conditional_endpoint, event_stream_doc, stream_endpoint
from services.api.schemas import (
    ConflictOut,
    ConflictsOut,
    DivisionLinks,
    DivisionSummary,
    StandingsOut,
    TournamentListOut,
    TournamentOut,
    TournamentStandingsOut,
    TournamentSummary,
    problems,
)
from services.api.standings_bodies import as_of_out, encode_standings
from services.core.db import standings_read
from services.core.errors import NotFound

router = APIRouter(tags=["standings"])


def route_for(template: PathTemplate, method: str = "GET") -> APIRoute:
    """This router's route declared with ``template`` (what the fast path reports to the metrics)."""
    return template.route_in(router, method)


def _ctx(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


def _links(t: str, d: str, bracket: bool) -> DivisionLinks:
    base = f"/v1/tournaments/{t}/divisions/{d}"
    return DivisionLinks(
        standings=f"{base}/standings",
        stream=f"{base}/standings/stream",
        conflicts=f"{base}/conflicts",
        overlay=f"/overlay/{t}/{d}",
        bracket=f"{base}/bracket" if bracket else None,
        bracket_overlay=f"/overlay/{t}/{d}/bracket" if bracket else None,
    )


ETAG_HEADERS = {
    "ETag": {"description": "Strong entity tag of this representation", "schema": {"type": "string"}},
    "Cache-Control": {"description": "no-cache: revalidate every poll", "schema": {"type": "string"}},
}
NOT_MODIFIED = {"description": "Not modified: the If-None-Match ETag is current (no body)"}


async def _as_of(ctx: ApiContext, request: Request, t: str, d: str, offset: int) -> Response:
    data = await ctx.read(lambda s: standings_read.standings_as_of_offset(s, t, d, offset))
    if data is None:
        raise NotFound(f"division {d!r} of tournament {t!r} does not exist")
    body = encode_standings(as_of_out(data))
    return ConditionalResponse(request.scope, historical_etag(f"{t}:{d}", offset, body), body)


_STANDINGS_200 = {
    "model": StandingsOut,
    "description": 'The division\'s standings. Headers: `ETag` (strong, `"t:d:version"`; while the projector '
    "is behind it also carries the freshness seconds), `Cache-Control: no-cache`.",
    "headers": ETAG_HEADERS,
}


router.get(
    DIVISION_STANDINGS.path,
    name="division_standings",
    summary="Division standings (ETag / 304; optional historical table)",
    description=(
        "Live standings of a round-robin division, rendered once per division version and served as bytes. "
        "Send the last `ETag` in `If-None-Match` to get `304 Not Modified` (no body, no database access) while "
        "nothing changed. `freshness_s` is 0 while the projector is caught up on the division's partition, else "
        "the whole seconds since the division's last applied event.\n\n"
        "`as_of_offset=N` recomputes the table from the stored revisions with Kafka offset <= N (the division's "
        "events live on one partition); that table carries `version: null` and a content-hash ETag."
    ),
    response_class=Response,
    responses={
        200: _STANDINGS_200,
        304: NOT_MODIFIED,
        **problems(404, 422),
    },
)(conditional_endpoint(lambda ctx: ctx.cache, _as_of))


@router.get(
    TOURNAMENT_STANDINGS.path,
    summary="Standings of every division of a tournament (ETag / 304)",
    description="One document per division, same shape as the division endpoint. The ETag covers every "
    "division's version, so a 304 means no division changed.",
    response_class=Response,
    responses={
        200: {**_STANDINGS_200, "model": TournamentStandingsOut, "description": "All divisions' standings"},
        304: {"description": "Not modified (no body)"},
        **problems(404, 422),
    },
)
async def tournament_standings(request: Request, tournament_id: TournamentId) -> Response:
    ctx = _ctx(request)
    rendered = await ctx.cache.get_tournament(tournament_id)
    now = time.time()
    freshness = [ctx.freshness.freshness_s(d.partition, d.last_event_epoch, now) for d in rendered.divisions]
    return ConditionalResponse(request.scope, rendered.etag_for(freshness), partial(rendered.body, freshness))


router.get(
    DIVISION_STANDINGS_STREAM.path,
    name="division_standings_stream",
    summary="Live standings push (Server-Sent Events)",
    description=(
        "An `text/event-stream`: event `standings` (id = division version, data = the same JSON as the standings "
        'endpoint) whenever the division changes, and event `ping` (data `{"version", "freshness_s"}`) every '
        "`api.sse_heartbeat_s` seconds without a change. On connect the current table is sent at once unless the "
        "`Last-Event-ID` header (sent by EventSource on reconnect) already names the current version; then the "
        "stream waits for the next change."
    ),
    response_class=EventSourceResponse,
    responses={
        200: event_stream_doc(
            'retry: 2000\n\nid: 42\nevent: standings\ndata: {"tournament":{...},"version":42,...}\n\n'
            'event: ping\ndata: {"version":42,"freshness_s":0}\n\n'
        ),
        **problems(404, 422),
    },
)(stream_endpoint(lambda ctx: ctx.cache))


@router.get(
    "/v1/tournaments/{tournament_id}/divisions/{division_id}/conflicts",
    response_model=ConflictsOut,
    summary="Conflicting submissions recorded for a division",
    description="Two different results at the same (bout, revision): the first applied counts, the second is "
    "kept here, never merged.",
    responses=problems(404, 422),
)
async def division_conflicts(ctx: CtxDep, tournament_id: TournamentId, division_id: DivisionId) -> ConflictsOut:
    def read(session: Session) -> list[standings_read.ConflictView] | None:
        if standings_read.division_meta(session, tournament_id, division_id) is None:
            return None
        return standings_read.division_conflicts(session, tournament_id, division_id)

    conflicts = await ctx.read(read)
    if conflicts is None:
        raise NotFound(f"division {division_id!r} of tournament {tournament_id!r} does not exist")
    return ConflictsOut(
        tournament_id=tournament_id,
        division_id=division_id,
        conflicts=[ConflictOut.model_validate(c, from_attributes=True) for c in conflicts],
    )


@router.get(
    "/v1/tournaments/{tournament_id}",
    response_model=TournamentOut,
    summary="A tournament with its divisions and links",
    responses=problems(404, 422),
    tags=["tournaments"],
)
async def get_tournament(ctx: CtxDep, tournament_id: TournamentId) -> TournamentOut:
    tournament, divisions = await ctx.tournament(tournament_id)
    return TournamentOut(
        **asdict(tournament),
        divisions=[
            # DivisionSummary shows the read side's DivisionMeta fields it names, plus the links.
            DivisionSummary.model_validate(
                {**asdict(d), "links": _links(tournament_id, d.division_id, d.format != "round_robin")}
            )
            for d in divisions
        ],
    )


@router.get(
    "/v1/tournaments",
    response_model=TournamentListOut,
    summary="All tournaments, most recent first",
    tags=["tournaments"],
)
async def list_tournaments(ctx: CtxDep) -> TournamentListOut:
    tournaments = await ctx.read(standings_read.list_tournaments)
    return TournamentListOut(tournaments=[TournamentSummary(**asdict(t)) for t in tournaments])
