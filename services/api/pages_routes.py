"""HTML pages: the broadcast overlays (static, no build step), the public tournament page and the
rankings page (services/api/rankings_page.py). Plain HTML/CSS/JS from ``static/``, no build step."""

from __future__ import annotations

import time

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse, Response

from services.api import rankings_page
from services.api.conditional import ConditionalResponse
from services.api.context import ApiContext, CtxDep
from services.api.page_sections import division_section
from services.api.page_tournament import STATIC_DIR, template, tournament_html
from services.api.paths import DivisionId, TournamentId
from services.api.schemas import problems
from services.core.db import standings_read
from services.core.errors import NotFound

CONFIG_PLACEHOLDER = "/*__OVERLAY_CONFIG__*/{}"
DIVISION_META_TTL_S = 30.0
DIVISION_META_MAX = 4096

router = APIRouter(tags=["pages"])
router.include_router(rankings_page.router)


def _script_json(value: object) -> str:
    """JSON safe inside a <script> element."""
    return orjson.dumps(value).decode().replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _overlay_page(ctx: ApiContext, page: str, tournament_id: str, division_id: str) -> HTMLResponse:
    config = {
        "tournament_id": tournament_id,
        "division_id": division_id,
        "heartbeat_s": ctx.settings.api.sse_heartbeat_s,
        "stale_after_s": ctx.settings.api.stale_after_s,
    }
    page = template(page).replace(CONFIG_PLACEHOLDER, _script_json(config))
    return HTMLResponse(page, headers={"cache-control": "no-cache"})


@router.get(
    "/overlay/{tournament_id}/{division_id}",
    response_class=HTMLResponse,
    summary="Broadcast overlay (1920x1080 browser source for OBS/vMix)",
    description=(
        "A static page that subscribes to the division's SSE stream (ETag polling every 500 ms if EventSource "
        "fails). Query options: `transparent=1`, `top=N`, `theme=dark|light`, `lang=en|fr|es|de|pt|it|ja|ko|zh|ru|ar`, "
        "`stale_after=seconds` (STALE badge threshold), `transport=poll` (force polling)."
    ),
    responses={200: {"content": {"text/html": {}}, "description": "The overlay page"}, **problems(404, 422)},
)
async def overlay(request: Request, ctx: CtxDep, tournament_id: TournamentId, division_id: DivisionId) -> HTMLResponse:
    await ctx.cache.get(tournament_id, division_id)  # 404 for a typo instead of an empty board
    return _overlay_page(ctx, "overlay.html", tournament_id, division_id)


@router.get(
    "/overlay/{tournament_id}/{division_id}/bracket",
    response_class=HTMLResponse,
    summary="Bracket overlay (1920x1080 browser source for OBS/vMix)",
    description=(
        "The division's bracket: main rounds as columns up to the final, repechage and bronze bouts beside them, "
        "the current bout (first to fight in mat order) highlighted, winners filled in as results arrive, "
        "invalidated bouts marked as needing a re-fight; a pools_then_elimination division shows its pools until "
        "the bracket is drawn. SSE on `…/bracket/stream`, ETag polling every 500 ms if EventSource fails. Query "
        "options: `transparent=1`, `theme=dark|light`, `lang=en|fr|es|de|ja|ko|zh|ru|ar`, `stale_after=seconds`, "
        "`transport=poll`."
    ),
    responses={
        200: {"content": {"text/html": {}}, "description": "The bracket overlay page"},
        **problems(404, 409, 422),
    },
)
async def bracket_overlay(ctx: CtxDep, tournament_id: TournamentId, division_id: DivisionId) -> HTMLResponse:
    await ctx.brackets.get(tournament_id, division_id)  # 404 for a typo, 409 for a round-robin division
    return _overlay_page(ctx, "bracket.html", tournament_id, division_id)


@router.get(
    "/t/{tournament_id}",
    response_class=HTMLResponse,
    summary="Public tournament page: every division's live standings or bracket",
    description=(
        "Server-rendered (useful without JavaScript): each division's round-robin table (rank, athlete, "
        "country, W/L/D, points) or its bracket (pools first for pools_then_elimination; winners, the bout up "
        "next, bouts needing a re-fight, placings). The page's script keeps each division live from its SSE "
        "stream (`…/standings/stream` or `…/bracket/stream`), polling the division's JSON with `If-None-Match` "
        "every 2 s when EventSource fails, and swaps in a fresh copy of the division from "
        "`/t/{tournament_id}/divisions/{division_id}/section`. Query option: `transport=poll` (force polling)."
    ),
    responses={200: {"content": {"text/html": {}}, "description": "The tournament page"}, **problems(404, 422)},
)
async def tournament_page(ctx: CtxDep, tournament_id: TournamentId) -> HTMLResponse:
    tournament, divisions = await ctx.tournament(tournament_id)
    sections = [await division_section(ctx, d) for d in divisions]
    api = ctx.settings.api
    page = tournament_html(tournament, divisions, sections, api.stale_after_s, api.sse_heartbeat_s)
    return HTMLResponse(page, headers={"cache-control": "no-cache"})


@router.get(
    "/t/{tournament_id}/divisions/{division_id}/section",
    response_class=HTMLResponse,
    summary="One division's live part of the tournament page (HTML fragment)",
    description="What the tournament page shows for the division now: its table or its bracket, as an HTML "
    "fragment whose root carries `data-version`. ETag per division version (`If-None-Match` gives a 304).",
    responses={
        200: {"content": {"text/html": {}}, "description": "The division's live part"},
        304: {"description": "Not modified (no body)"},
        **problems(404, 422),
    },
)
async def division_section_fragment(
    request: Request, ctx: CtxDep, tournament_id: TournamentId, division_id: DivisionId
) -> Response:
    section = await division_section(ctx, await _division(request, ctx, tournament_id, division_id))
    etag = f'W/"section:{tournament_id}:{division_id}:{section.version}"'.encode()
    response = ConditionalResponse(request.scope, etag, section.html.encode())
    if response.status_code == 200:
        response.headers["content-type"] = "text/html; charset=utf-8"
    return response


async def _division(request: Request, ctx: ApiContext, t: str, d: str) -> standings_read.DivisionMeta:
    """The division's registration (its format), kept a short while per app: every viewer of the page
    fetches the section after each change, and the format does not change between results."""
    known: dict[tuple[str, str], tuple[float, standings_read.DivisionMeta]] = getattr(
        request.app.state, "page_divisions", {}
    )
    request.app.state.page_divisions = known
    now = time.monotonic()
    hit = known.get((t, d))
    if hit is not None and now - hit[0] < DIVISION_META_TTL_S:
        return hit[1]
    meta = await ctx.read(lambda s: standings_read.division_meta(s, t, d))
    if meta is None:
        raise NotFound(f"division {d!r} of tournament {t!r} does not exist")
    if len(known) >= DIVISION_META_MAX:
        known.clear()
    known[(t, d)] = (now, meta)
    return meta


def mount_static(app: FastAPI) -> None:
    """Serve ``services/api/static`` under /static (the overlay's CSS and JS)."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
