"""The mat-table results console (SPEC §8): its page and the JSON of one mat's bouts.

Served by the intake, the origin the console posts results to (no CORS). The page is plain
HTML/CSS/JS from ``static/`` (no build step, no CDN: the venue may be offline); the bouts endpoint
gives it the mat's bouts in order with the next one marked, the athletes in each slot, the latest
stored revision (so a correction posts revision + 1) and the ruleset's consistency rules as data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, FastAPI
from fastapi import Path as PathParam
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.responses import FileResponse, HTMLResponse

from services.core.domain.codec import UndecodablePayload, decode_revision
from services.core.domain.ids import SLUG_PATTERN
from services.core.domain.results import BoutResult, Revision
from services.core.errors import NotFound
from services.core.http.auth import require_tournament_writer
from services.intake import mat_repository
from services.intake.context import ServiceDep as Service
from services.intake.mat_repository import MatBout
from services.intake.mat_rules import ruleset_rules, winner_methods
from services.intake.schemas import problem_responses
from services.intake.service import IntakeService

STATIC_DIR = Path(__file__).with_name("static")
CONFIG_PLACEHOLDER = "/*__MAT_CONFIG__*/{}"
MAX_MAT = 100  # as registration allows
# A bout the mat table still has to enter: no result yet, or a bracket re-fight.
_TO_ENTER = frozenset({"open", "invalidated"})

TournamentId = Annotated[
    str, PathParam(min_length=1, max_length=64, pattern=SLUG_PATTERN, description="Tournament slug")
]
Mat = Annotated[int, PathParam(ge=1, le=MAX_MAT, description="Mat number", examples=[1])]


class CornerOut(BaseModel):
    athlete_id: str
    full_name: str
    country: str


class LatestOut(BaseModel):
    """The bout's highest revision: applied by the projector, or accepted by this intake and on its way."""

    revision: int
    kind: str
    winner: str | None = None
    method: str | None = None
    score: dict[str, int] | None = None
    duration_s: int | None = None
    source: str


class MatBoutOut(BaseModel):
    bout_id: str
    division_id: str
    division_name: str
    order: int
    phase: str | None
    round: int | None
    status: str
    waiting_for: str | None
    red: CornerOut | None
    blue: CornerOut | None
    latest: LatestOut | None
    next_revision: int
    is_next: bool


class MatBoutsOut(BaseModel):
    tournament_id: str
    mat: int
    next_bout_id: str | None
    rules: dict[str, Any]
    bouts: list[MatBoutOut]


def _latest_out(revision: Revision, source: str) -> LatestOut:
    if not isinstance(revision, BoutResult):
        return LatestOut(revision=revision.revision, kind="void", source=source)
    return LatestOut(
        revision=revision.revision,
        kind="result",
        winner=revision.winner.value,
        method=revision.method.value,
        score={"red": revision.score.red, "blue": revision.score.blue},
        duration_s=revision.duration_s,
        source=source,
    )


def _latest(bout: MatBout, accepted: Revision | None) -> LatestOut | None:
    """The higher of the applied revision and the one this intake accepted (the projector may lag)."""
    if accepted is not None and (bout.latest is None or accepted.revision > bout.latest.revision):
        return _latest_out(accepted, "accepted")
    if bout.latest is None:
        return None
    try:
        stored = decode_revision(bout.bout_id, bout.latest.revision, bout.latest.kind, bout.latest.payload)
    except UndecodablePayload:
        return LatestOut(revision=bout.latest.revision, kind=bout.latest.kind, source="applied")
    return _latest_out(stored, "applied")


def _status(bout: MatBout, latest: LatestOut | None) -> str:
    """A bracket bout's status as the projector wrote it; a round-robin bout's from its latest revision."""
    if bout.status is not None:
        return "decided" if bout.status == "open" and latest is not None and latest.kind == "result" else bout.status
    if latest is None:
        return "open"
    return "voided" if latest.kind == "void" else "decided"


def bouts_out(
    tournament_id: str, mat: int, bouts: list[MatBout], service: IntakeService, rules: dict[str, Any]
) -> MatBoutsOut:
    """The endpoint's body: each bout with its latest revision and status, the first one to enter marked."""
    out: list[MatBoutOut] = []
    for bout in bouts:
        latest = _latest(bout, service.accepted.latest(bout.bout_id))
        out.append(
            MatBoutOut(
                bout_id=bout.bout_id,
                division_id=bout.division_id,
                division_name=bout.division_name,
                order=bout.bout_order,
                phase=bout.phase,
                round=bout.round,
                status=_status(bout, latest),
                waiting_for=bout.waiting_for,
                red=None if bout.red is None else CornerOut(**bout.red._asdict()),
                blue=None if bout.blue is None else CornerOut(**bout.blue._asdict()),
                latest=latest,
                next_revision=1 if latest is None else latest.revision + 1,
                is_next=False,
            )
        )
    first = next((b for b in out if b.status in _TO_ENTER), None)
    if first is not None:
        first.is_next = True
    return MatBoutsOut(
        tournament_id=tournament_id,
        mat=mat,
        next_bout_id=None if first is None else first.bout_id,
        rules=rules,
        bouts=out,
    )


def rules_for(service: IntakeService, ruleset_name: str) -> dict[str, Any]:
    """The ruleset's rules as data; an unregistered ruleset has no score rules (the intake checks none)."""
    ruleset = service.rulesets.get(ruleset_name)
    if ruleset is not None:
        return ruleset_rules(ruleset)
    return {"ruleset": ruleset_name, "version": None, "winner_methods": winner_methods(), "score_rules": []}


async def _ruleset_or_404(service: IntakeService, tournament_id: str) -> str:
    name = await service.read(mat_repository.tournament_ruleset, tournament_id)
    if name is None:
        raise NotFound(f"tournament {tournament_id!r} does not exist")
    return name


def _page(tournament_id: str, mat: int) -> str:
    config = orjson.dumps({"tournament_id": tournament_id, "mat": mat}).decode()
    config = config.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return (STATIC_DIR / "mat.html").read_text(encoding="utf-8").replace(CONFIG_PLACEHOLDER, config)


def _router() -> APIRouter:
    router = APIRouter()

    @router.get(
        "/v1/tournaments/{t}/mats/{mat}/bouts",
        response_model=MatBoutsOut,
        tags=["mat table"],
        summary="A mat's bouts in order, the next one to enter marked, with the ruleset's consistency rules",
        description=(
            "For the mat-table console (referee token of the tournament). Each bout: division, bracket phase and "
            "round, red and blue athletes (for a bracket bout those now in its slots, `null` and `waiting_for` "
            "for an open slot), the latest revision (applied, or accepted here and on its way) so a correction "
            "posts `next_revision`. `rules` is the tournament ruleset's winner/method and score rules as data."
        ),
        responses=problem_responses(401, 403, 404, 422, 429, 503),
    )
    async def mat_bouts(t: TournamentId, mat: Mat, _writer: require_tournament_writer, service: Service) -> MatBoutsOut:
        ruleset_name = await _ruleset_or_404(service, t)
        bouts = await service.read(mat_repository.mat_bouts, t, mat)
        return bouts_out(t, mat, bouts, service, rules_for(service, ruleset_name))

    @router.get("/mat/sw.js", include_in_schema=False)
    async def mat_service_worker() -> FileResponse:
        # Served from /mat/ so its scope covers every console page.
        return FileResponse(
            STATIC_DIR / "mat-sw.js", media_type="text/javascript", headers={"cache-control": "no-cache"}
        )

    @router.get(
        "/mat/{t}/{mat}",
        response_class=HTMLResponse,
        tags=["mat table"],
        summary="The mat-table results console (tablet page; works offline once loaded)",
        responses={
            200: {"content": {"text/html": {}}, "description": "The console page"},
            **problem_responses(404, 422),
        },
    )
    async def mat_page(t: TournamentId, mat: Mat, service: Service) -> HTMLResponse:
        await _ruleset_or_404(service, t)
        return HTMLResponse(_page(t, mat), headers={"cache-control": "no-cache"})

    return router


def install(app: FastAPI) -> None:
    """The console's routes and its static files (``/static/mat``) on the intake app."""
    app.include_router(_router())
    app.mount("/static/mat", StaticFiles(directory=STATIC_DIR), name="mat-static")
