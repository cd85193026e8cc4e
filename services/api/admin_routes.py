"""Admin API (role admin): tournaments, divisions with entries, athletes, bouts (the registration
lifecycle routes, import and re-open, are in ``registration_routes``).

Writes run in one transaction each (see registration_admin); afterwards the local standings
cache is told at once (read-your-writes on this process), other processes by the NOTIFY.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Path
from fastapi.types import DecoratedCallable
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.api import registration_admin as admin
from services.api import registration_routes
from services.api.admin_common import (
    STRICT,
    WRITE_PROBLEMS,
    Admin,
    WriteOut,
    admin_router,
    create,
    create_or_replace,
)
from services.api.context import CtxDep
from services.api.paths import DivisionId, TournamentId
from services.core.db.schema import Athlete, BoutRow, Division, DivisionEntry, Tournament
from services.core.errors import NotFound, Unprocessable
from services.registration.loader import ImportSummary
from services.registration.model import (
    MAX_BOUT_ORDER,
    TEXT_PATTERN,
    AthleteId,
    AthleteIn,
    BoutIn,
    DivisionBody,
    DivisionIn,
    Text,
    TournamentBody,
    TournamentIn,
)

router = admin_router()
AthletePath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
BoutPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]


class TournamentCreate(TournamentIn):
    """A tournament, optionally with its divisions (each with entries and bouts)."""

    divisions: list[DivisionIn] = Field(default_factory=list)


class TournamentUpdate(TournamentBody):
    """Replaces the tournament's fields; its divisions are kept."""


class AthleteUpdate(BaseModel):
    model_config = STRICT
    full_name: str = Field(min_length=1, max_length=200, pattern=TEXT_PATTERN)
    country: str = Field(min_length=3, max_length=3)
    club: Text | None = None


class DivisionUpdate(DivisionBody):
    """Replaces the division's fields and entries (an athlete with bouts here cannot be removed).
    Round robin: bouts are upserted, never deleted; ``round_robin`` schedules every pair of the
    entries. A bracket division (``format`` elimination or pools_then_elimination, validated like
    the registration file): its bouts and entries follow its draw or pools."""


class BoutUpdate(BaseModel):
    model_config = STRICT
    red: AthleteId
    blue: AthleteId
    mat: int = Field(default=1, ge=1, le=100)
    order: int = Field(default=0, ge=0, le=MAX_BOUT_ORDER)


def _creates(path: str, summary: str) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """An entity's POST: 201 with the write's WriteOut, 409 when it exists."""
    return router.post(path, status_code=201, response_model=WriteOut, summary=summary, responses=WRITE_PROBLEMS)


def _replaces(path: str, summary: str) -> Callable[[DecoratedCallable], DecoratedCallable]:
    """An entity's PUT (create or replace): the write's WriteOut."""
    return router.put(path, response_model=WriteOut, summary=summary, responses=WRITE_PROBLEMS)


# --- tournaments ------------------------------------------------------------------------------


@_creates("/v1/tournaments", "Create a tournament (optionally with divisions, entries and bouts)")
async def create_tournament(body: TournamentCreate, ctx: CtxDep, _admin: Admin) -> WriteOut:
    def fn(session: Session) -> ImportSummary:
        keys = {(body.tournament_id, d.division_id) for d in body.divisions}
        return admin.write_document(session, {"tournaments": [body.model_dump(mode="json")]}, keys)

    return await create(ctx, Tournament, (body.tournament_id,), f"tournament {body.tournament_id!r}", fn)


@_replaces("/v1/tournaments/{tournament_id}", "Create or replace a tournament's fields (its divisions are kept)")
async def put_tournament(tournament_id: TournamentId, body: TournamentUpdate, ctx: CtxDep, _admin: Admin) -> WriteOut:
    def fn(session: Session, _created: bool) -> ImportSummary:
        doc = {"tournaments": [{"tournament_id": tournament_id, **body.model_dump(mode="json"), "divisions": []}]}
        return admin.write_document(session, doc, admin.divisions_of_tournament(session, tournament_id))

    return await create_or_replace(ctx, Tournament, (tournament_id,), fn)


# --- divisions --------------------------------------------------------------------------------


@_creates(
    "/v1/tournaments/{tournament_id}/divisions", "Add a division with its entries (and bouts, default: round robin)"
)
async def create_division(tournament_id: TournamentId, body: DivisionIn, ctx: CtxDep, _admin: Admin) -> WriteOut:
    def fn(session: Session) -> ImportSummary:
        doc = admin.tournament_document(session, tournament_id)
        doc["divisions"] = [body.model_dump(mode="json", exclude_unset=True)]
        return admin.write_document(session, {"tournaments": [doc]}, {(tournament_id, body.division_id)})

    key = (tournament_id, body.division_id)
    return await create(ctx, Division, key, f"division {body.division_id!r} of {tournament_id!r}", fn)


@_replaces(
    "/v1/tournaments/{tournament_id}/divisions/{division_id}",
    "Create or replace a division: fields, entries (replaced) and bouts (upserted)",
)
async def put_division(
    tournament_id: TournamentId, division_id: DivisionId, body: DivisionUpdate, ctx: CtxDep, _admin: Admin
) -> WriteOut:
    key = (tournament_id, division_id)

    def fn(session: Session, created: bool) -> ImportSummary:
        doc = admin.tournament_document(session, tournament_id)
        doc["divisions"] = [{"division_id": division_id, **body.model_dump(mode="json", exclude_unset=True)}]
        if not created:
            admin.lock_divisions(session, {key})
            admin.remove_entries(session, tournament_id, division_id, body.entrants())
        return admin.write_document(session, {"tournaments": [doc]}, {key})

    return await create_or_replace(ctx, Division, key, fn)


# --- athletes ---------------------------------------------------------------------------------


@_creates("/v1/athletes", "Register an athlete")
async def create_athlete(body: AthleteIn, ctx: CtxDep, _admin: Admin) -> WriteOut:
    def fn(session: Session) -> ImportSummary:
        return admin.write_document(session, {"athletes": [body.model_dump(mode="json")]}, set())

    return await create(ctx, Athlete, (body.athlete_id,), f"athlete {body.athlete_id!r}", fn)


@_replaces(
    "/v1/athletes/{athlete_id}",
    "Create or replace an athlete (name, country, club); their divisions' standings refresh",
)
async def put_athlete(athlete_id: AthletePath, body: AthleteUpdate, ctx: CtxDep, _admin: Admin) -> WriteOut:
    def fn(session: Session, _created: bool) -> ImportSummary:
        doc = {"athletes": [{"athlete_id": athlete_id, **body.model_dump(mode="json")}]}
        return admin.write_document(session, doc, admin.divisions_of_athletes(session, [athlete_id]))

    return await create_or_replace(ctx, Athlete, (athlete_id,), fn)


# --- bouts ------------------------------------------------------------------------------------


def _bout_write(session: Session, t: str, d: str, bout: BoutIn) -> ImportSummary:
    doc = admin.tournament_document(session, t)
    division = session.get(Division, (t, d))
    if division is None:
        raise NotFound(f"division {d!r} of tournament {t!r} does not exist")
    if division.format != "round_robin":
        problem = (
            f"division {d!r} is a {division.format} bracket: its bouts come from its draw; PUT the division instead"
        )
        raise Unprocessable(problem, problems=[problem])
    entries = list(
        session.scalars(
            select(DivisionEntry.athlete_id).where(DivisionEntry.tournament_id == t, DivisionEntry.division_id == d)
        )
    )
    others = [
        BoutIn(bout_id=b.bout_id, red=b.red_athlete_id, blue=b.blue_athlete_id, mat=b.mat, order=b.bout_order)
        for b in session.scalars(
            select(BoutRow).where(BoutRow.tournament_id == t, BoutRow.division_id == d, BoutRow.bout_id != bout.bout_id)
        )
        if b.red_athlete_id is not None and b.blue_athlete_id is not None
    ]
    doc["divisions"] = [
        {
            "division_id": d,
            "name": division.name,
            "category": division.category,
            "formats": list(division.formats),
            "athletes": entries,
            "bouts": [b.model_dump(mode="json") for b in [*others, bout]],
        }
    ]
    return admin.write_document(session, {"tournaments": [doc]}, {(t, d)})


@_creates(
    "/v1/tournaments/{tournament_id}/divisions/{division_id}/bouts",
    "Schedule a bout between two athletes entered in the division",
)
async def create_bout(
    tournament_id: TournamentId, division_id: DivisionId, body: BoutIn, ctx: CtxDep, _admin: Admin
) -> WriteOut:
    def fn(session: Session) -> ImportSummary:
        return _bout_write(session, tournament_id, division_id, body)

    return await create(ctx, BoutRow, (body.bout_id,), f"bout {body.bout_id!r}", fn)


@_replaces(
    "/v1/tournaments/{tournament_id}/divisions/{division_id}/bouts/{bout_id}",
    "Create or replace a bout (its athletes cannot change once it has results)",
)
async def put_bout(
    tournament_id: TournamentId,
    division_id: DivisionId,
    bout_id: BoutPath,
    body: BoutUpdate,
    ctx: CtxDep,
    _admin: Admin,
) -> WriteOut:
    def fn(session: Session, _created: bool) -> ImportSummary:
        return _bout_write(session, tournament_id, division_id, BoutIn(bout_id=bout_id, **body.model_dump()))

    return await create_or_replace(ctx, BoutRow, (bout_id,), fn)


# The registration lifecycle (import, re-open, audit trail) is served with the entity routes.
router.include_router(registration_routes.router)
