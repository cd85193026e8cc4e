"""HTML pages: the broadcast overlay (static, no build step) and the public tournament page."""

from __future__ import annotations

import html
from functools import cache
from pathlib import Path

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

from services.api.context import ApiContext, CtxDep
from services.api.page_sections import ROUND_ROBIN, division_section
from services.api.paths import DivisionId, TournamentId
from services.api.schemas import problems
from services.core.db import standings_read

STATIC_DIR = Path(__file__).with_name("static")
CONFIG_PLACEHOLDER = "/*__OVERLAY_CONFIG__*/{}"

router = APIRouter(tags=["pages"])


@cache
def _template(name: str) -> str:
    return (STATIC_DIR / name).read_text(encoding="utf-8")


def _script_json(value: object) -> str:
    """JSON safe inside a <script> element."""
    return orjson.dumps(value).decode().replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _overlay_page(ctx: ApiContext, template: str, tournament_id: str, division_id: str) -> HTMLResponse:
    config = {
        "tournament_id": tournament_id,
        "division_id": division_id,
        "heartbeat_s": ctx.settings.api.sse_heartbeat_s,
        "stale_after_s": ctx.settings.api.stale_after_s,
    }
    page = _template(template).replace(CONFIG_PLACEHOLDER, _script_json(config))
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
    summary="Public tournament page: divisions with links to overlays and JSON",
    responses={200: {"content": {"text/html": {}}, "description": "The tournament page"}, **problems(404, 422)},
)
async def tournament_page(ctx: CtxDep, tournament_id: TournamentId) -> HTMLResponse:
    tournament, divisions = await ctx.tournament(tournament_id)
    sections = [await division_section(ctx, d) for d in divisions]
    return HTMLResponse(_render_tournament(tournament, divisions, sections), headers={"cache-control": "no-cache"})


def _render_tournament(
    t: standings_read.TournamentMeta, divisions: list[standings_read.DivisionMeta], sections: list[str]
) -> str:
    e = html.escape
    rows = []
    for d, section in zip(divisions, sections, strict=True):
        overlay = f"/overlay/{e(t.tournament_id)}/{e(d.division_id)}"
        base = f"/v1/tournaments/{e(t.tournament_id)}/divisions/{e(d.division_id)}"
        bracket_links = bracket_json = ""
        if d.format != ROUND_ROBIN:
            bracket_links = (
                f' · <a href="{overlay}/bracket">bracket overlay</a>'
                f' · <a href="{overlay}/bracket?transparent=1">transparent</a>'
            )
            bracket_json = f' · <a href="{base}/bracket">bracket.json</a>'

        rows.append(
            f'<tr data-division-id="{e(d.division_id)}"><td>{e(d.name)}</td><td>{e(d.category)}</td>'
            f"<td>{d.version}</td>"
            f'<td><a href="/overlay/{e(t.tournament_id)}/{e(d.division_id)}">overlay</a> · '
            f'<a href="/overlay/{e(t.tournament_id)}/{e(d.division_id)}?transparent=1">transparent</a>{bracket_links}</td>'
            f'<td><a href="{base}/standings">standings.json</a> · <a href="{base}/conflicts">conflicts</a>'
            f"{bracket_json}</td></tr>"
        )
        rows.append(f'<tr class="inline" data-inline-for="{e(d.division_id)}"><td colspan="5">{section}</td></tr>')
    body = "\n".join(rows) or '<tr><td colspan="5">No divisions yet.</td></tr>'
    return _template("tournament.html").format(
        name=e(t.name),
        tier=e(t.tier),
        status=e(t.status),
        start=e(t.start_date.isoformat()),
        end=e(t.end_date.isoformat()),
        json_link=f"/v1/tournaments/{e(t.tournament_id)}",
        all_link=f"/v1/tournaments/{e(t.tournament_id)}/standings",
        rows=body,
    )


def mount_static(app: FastAPI) -> None:
    """Serve ``services/api/static`` under /static (the overlay's CSS and JS)."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
