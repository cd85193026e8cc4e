"""Admin API (role admin): tournaments, divisions with entries, athletes, bouts, registration import.

Writes run in one transaction each (see registration_admin); afterwards the local standings
cache is told at once (read-your-writes on this process), other processes by the NOTIFY.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

import anyio
from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.api import registration_admin as admin
from services.api.context import ApiContext, CtxDep
from services.api.notifications import Change
from services.api.schemas import problems
from services.api.standings_routes import DivisionId, TournamentId
from services.core.auth import Principal, Role
from services.core.db.schema import Athlete, BoutRow, Division, DivisionEntry, Tournament
from services.core.errors import Conflict, NotFound
from services.core.http.auth import require_role
from services.core.http.problems import parse_json_body, require_json_media_type
from services.core.registration import reopen
from services.core.registration.loader import ImportSummary
from services.core.registration.model import (
    MAX_BOUT_ORDER,
    TEXT_PATTERN,
    AthleteId,
    AthleteIn,
    BoutIn,
    DivisionIn,
    Format,
    IsoDate,
    RegistrationFile,
    Text,
    TournamentIn,
)
from services.core.registration.reopen import Reopened

T = TypeVar("T")
router = APIRouter(tags=["admin"])
Admin = Annotated[Principal, require_role(Role.ADMIN)]
AthletePath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
BoutPath = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
_WRITE_PROBLEMS = problems(400, 401, 403, 404, 409, 413, 415, 422)  # 400: unparsable body; 415: not JSON

# strict, like the registration models: no coercions the schema does not describe.
_STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)


def _default_formats() -> list[Format]:
    return ["round_robin"]


class TournamentCreate(TournamentIn):
    """A tournament, optionally with its divisions (each with entries and bouts)."""

    divisions: list[DivisionIn] = Field(default_factory=list)


class TournamentUpdate(BaseModel):
    model_config = _STRICT
    name: Text
    tier: Literal["world", "continental", "national", "open"]
    start_date: IsoDate
    end_date: IsoDate
    status: Literal["scheduled", "live", "finalized"] = "scheduled"
    ruleset: Text = "combat-default"


class AthleteUpdate(BaseModel):
    model_config = _STRICT
    full_name: str = Field(min_length=1, max_length=200, pattern=TEXT_PATTERN)
    country: str = Field(min_length=3, max_length=3)
    club: Text | None = None


class DivisionUpdate(BaseModel):
    """Replaces the division's fields and entries (an athlete with bouts here cannot be removed).
    Bouts are upserted, never deleted; ``round_robin`` schedules every pair of the entries."""

    model_config = _STRICT
    name: Text
    category: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    formats: list[Format] = Field(default_factory=_default_formats)
    athletes: list[AthleteId]
    bouts: list[BoutIn] | Literal["round_robin"] = "round_robin"


class BoutUpdate(BaseModel):
    model_config = _STRICT
    red: AthleteId
    blue: AthleteId
    mat: int = Field(default=1, ge=1, le=100)
    order: int = Field(default=0, ge=0, le=MAX_BOUT_ORDER)


class DivisionVersion(BaseModel):
    tournament_id: str
    division_id: str
    version: int


class KeptStatusOut(BaseModel):
    """A tournament status the registration data asked for and the tournament did not take."""

    tournament_id: str
    status: str = Field(description="the status the tournament keeps")
    requested: str = Field(description="the status the file or write asked for")
    reason: str


def _kept(summary: ImportSummary) -> list[KeptStatusOut]:
    return [
        KeptStatusOut(tournament_id=k.tournament_id, status=k.status, requested=k.requested, reason=k.reason)
        for k in summary.kept
    ]


class WriteOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "created",
                    "divisions": [{"tournament_id": "paris-open-2026", "division_id": "m-73kg", "version": 1}],
                }
            ]
        }
    )
    status: Literal["created", "updated"]
    divisions: list[DivisionVersion] = Field(description="Divisions whose standings were refreshed, new versions")
    kept_statuses: list[KeptStatusOut] = Field(
        default_factory=list, description="A status the write asked for that the tournament's lifecycle refused"
    )


class ImportOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tournaments": 2,
                    "divisions": 3,
                    "athletes": 28,
                    "bouts": 61,
                    "divisions_refreshed": 3,
                    "kept_statuses": [
                        {
                            "tournament_id": "paris-open-2026",
                            "status": "finalized",
                            "requested": "scheduled",
                            "reason": "a registration file never moves a tournament backwards",
                        }
                    ],
                }
            ]
        }
    )
    tournaments: int
    divisions: int
    athletes: int
    bouts: int
    divisions_refreshed: int
    kept_statuses: list[KeptStatusOut] = Field(
        default_factory=list, description="Statuses the file asked for that the tournaments' lifecycle refused"
    )


WriteVersions = list[DivisionVersion]


async def _write(
    ctx: ApiContext, fn: Callable[[Session], tuple[T, dict[admin.DivisionKey, int]]]
) -> tuple[T, WriteVersions]:
    def run() -> tuple[T, dict[admin.DivisionKey, int]]:
        with Session(ctx.engine) as session, session.begin():
            return fn(session)

    result, versions = await anyio.to_thread.run_sync(run)
    for (t, d), v in versions.items():
        ctx.on_change(Change(t, d, v))
    for t in {t for t, _ in versions}:
        ctx.cache.forget_tournament(t)
    return result, [
        DivisionVersion(tournament_id=t, division_id=d, version=v) for (t, d), v in sorted(versions.items())
    ]


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema with its ``$defs`` inlined (OpenAPI resolves refs from the document root)."""
    defs = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {k: walk(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    out: dict[str, Any] = walk(schema)
    return out


def _exists(session: Session, model: type, *key: str) -> bool:
    return session.get(model, key if len(key) > 1 else key[0]) is not None


# --- tournaments ------------------------------------------------------------------------------


@router.post(
    "/v1/tournaments",
    status_code=201,
    response_model=WriteOut,
    summary="Create a tournament (optionally with divisions, entries and bouts)",
    responses=_WRITE_PROBLEMS,
)
async def create_tournament(body: TournamentCreate, ctx: CtxDep, _admin: Admin) -> WriteOut:
    def fn(session: Session) -> tuple[None, dict[admin.DivisionKey, int]]:
        if _exists(session, Tournament, body.tournament_id):
            raise Conflict(f"tournament {body.tournament_id!r} already exists; PUT to change it")
        keys = {(body.tournament_id, d.division_id) for d in body.divisions}
        return None, admin.write_document(session, {"tournaments": [body.model_dump(mode="json")]}, keys).refreshed

    _, versions = await _write(ctx, fn)
    return WriteOut(status="created", divisions=versions)


@router.put(
    "/v1/tournaments/{tournament_id}",
    response_model=WriteOut,
    summary="Create or replace a tournament's fields (its divisions are kept)",
    responses=_WRITE_PROBLEMS,
)
async def put_tournament(tournament_id: TournamentId, body: TournamentUpdate, ctx: CtxDep, _admin: Admin) -> WriteOut:
    created = False

    def fn(session: Session) -> tuple[ImportSummary, dict[admin.DivisionKey, int]]:
        nonlocal created
        created = not _exists(session, Tournament, tournament_id)
        doc = {"tournaments": [{"tournament_id": tournament_id, **body.model_dump(mode="json"), "divisions": []}]}
        keys = admin.divisions_of_tournament(session, tournament_id)
        summary = admin.write_document(session, doc, keys)
        return summary, summary.refreshed

    summary, versions = await _write(ctx, fn)
    return WriteOut(status="created" if created else "updated", divisions=versions, kept_statuses=_kept(summary))


class ReopenIn(BaseModel):
    model_config = _STRICT
    reason: str = Field(min_length=3, max_length=500, pattern=TEXT_PATTERN, description="Why; kept in the audit trail")


class ReopenOut(BaseModel):
    tournament_id: str
    status: Literal["live"] = "live"
    action_id: int = Field(description="The audit record of this action")
    ranking_documents: int = Field(description="Ranking documents re-ranked (their index update follows)")
    divisions: list[DivisionVersion]


class AdminActionOut(BaseModel):
    action_id: int
    action: str
    tournament_id: str
    token_id: str
    reason: str
    details: dict[str, Any]
    at: dt.datetime


@router.post(
    "/v1/tournaments/{tournament_id}/reopen",
    response_model=ReopenOut,
    summary="Re-open a finalized tournament (awards back to provisional, categories re-ranked; audited)",
    description="The only way a finalized tournament goes back to `live` (a registration file never does): its "
    "awards turn provisional, their categories are re-ranked and the index follows, and the action is recorded "
    "with the caller's token and the reason. Finalize again through the intake's finalize endpoint.",
    responses=problems(400, 401, 403, 404, 409, 422),
)
async def reopen_tournament(tournament_id: TournamentId, body: ReopenIn, ctx: CtxDep, admin_: Admin) -> ReopenOut:
    def fn(session: Session) -> tuple[Reopened, dict[admin.DivisionKey, int]]:
        done = reopen.reopen_tournament(session, tournament_id, token_id=admin_.token_id, reason=body.reason)
        return done, done.versions

    done, versions = await _write(ctx, fn)
    return ReopenOut(
        tournament_id=tournament_id,
        action_id=done.action_id,
        ranking_documents=done.ranking_documents,
        divisions=versions,
    )


@router.get(
    "/v1/tournaments/{tournament_id}/admin-actions",
    response_model=list[AdminActionOut],
    summary="The tournament's audit trail of admin actions with ranking effects (re-opens)",
    responses=problems(401, 403, 404),
)
async def list_admin_actions(tournament_id: TournamentId, ctx: CtxDep, _admin: Admin) -> list[AdminActionOut]:
    def run() -> list[AdminActionOut]:
        with Session(ctx.engine) as session:
            if not _exists(session, Tournament, tournament_id):
                raise NotFound(f"tournament {tournament_id!r} does not exist")
            return [
                AdminActionOut(
                    action_id=a.action_id,
                    action=a.action,
                    tournament_id=a.tournament_id,
                    token_id=a.token_id,
                    reason=a.reason,
                    details=a.details,
                    at=a.at,
                )
                for a in reopen.admin_actions(session, tournament_id)
            ]

    return await anyio.to_thread.run_sync(run)


# --- divisions --------------------------------------------------------------------------------


@router.post(
    "/v1/tournaments/{tournament_id}/divisions",
    status_code=201,
    response_model=WriteOut,
    summary="Add a division with its entries (and bouts, default: round robin)",
    responses=_WRITE_PROBLEMS,
)
async def create_division(tournament_id: TournamentId, body: DivisionIn, ctx: CtxDep, _admin: Admin) -> WriteOut:
    def fn(session: Session) -> tuple[None, dict[admin.DivisionKey, int]]:
        doc = admin.tournament_document(session, tournament_id)
        if _exists(session, Division, tournament_id, body.division_id):
            raise Conflict(f"division {body.division_id!r} already exists in {tournament_id!r}; PUT to change it")
        doc["divisions"] = [body.model_dump(mode="json")]
        return None, admin.write_document(
            session, {"tournaments": [doc]}, {(tournament_id, body.division_id)}
        ).refreshed

    _, versions = await _write(ctx, fn)
    return WriteOut(status="created", divisions=versions)


@router.put(
    "/v1/tournaments/{tournament_id}/divisions/{division_id}",
    response_model=WriteOut,
    summary="Create or replace a division: fields, entries (replaced) and bouts (upserted)",
    responses=_WRITE_PROBLEMS,
)
async def put_division(
    tournament_id: TournamentId, division_id: DivisionId, body: DivisionUpdate, ctx: CtxDep, _admin: Admin
) -> WriteOut:
    created = False

    def fn(session: Session) -> tuple[None, dict[admin.DivisionKey, int]]:
        nonlocal created
        doc = admin.tournament_document(session, tournament_id)
        created = not _exists(session, Division, tournament_id, division_id)
        doc["divisions"] = [{"division_id": division_id, **body.model_dump(mode="json")}]
        key = (tournament_id, division_id)
        if not created:
            admin.lock_divisions(session, {key})
            admin.remove_entries(session, tournament_id, division_id, body.athletes)
        return None, admin.write_document(session, {"tournaments": [doc]}, {key}).refreshed

    _, versions = await _write(ctx, fn)
    return WriteOut(status="created" if created else "updated", divisions=versions)


# --- athletes ---------------------------------------------------------------------------------


@router.post(
    "/v1/athletes",
    status_code=201,
    response_model=WriteOut,
    summary="Register an athlete",
    responses=_WRITE_PROBLEMS,
)
async def create_athlete(body: AthleteIn, ctx: CtxDep, _admin: Admin) -> WriteOut:
    def fn(session: Session) -> tuple[None, dict[admin.DivisionKey, int]]:
        if _exists(session, Athlete, body.athlete_id):
            raise Conflict(f"athlete {body.athlete_id!r} already exists; PUT to change it")
        return None, admin.write_document(session, {"athletes": [body.model_dump(mode="json")]}, set()).refreshed

    _, versions = await _write(ctx, fn)
    return WriteOut(status="created", divisions=versions)


@router.put(
    "/v1/athletes/{athlete_id}",
    response_model=WriteOut,
    summary="Create or replace an athlete (name, country, club); their divisions' standings refresh",
    responses=_WRITE_PROBLEMS,
)
async def put_athlete(athlete_id: AthletePath, body: AthleteUpdate, ctx: CtxDep, _admin: Admin) -> WriteOut:
    created = False

    def fn(session: Session) -> tuple[None, dict[admin.DivisionKey, int]]:
        nonlocal created
        created = not _exists(session, Athlete, athlete_id)
        keys = admin.divisions_of_athletes(session, [athlete_id])
        doc = {"athletes": [{"athlete_id": athlete_id, **body.model_dump(mode="json")}]}
        return None, admin.write_document(session, doc, keys).refreshed

    _, versions = await _write(ctx, fn)
    return WriteOut(status="created" if created else "updated", divisions=versions)


# --- bouts ------------------------------------------------------------------------------------


def _bout_write(session: Session, t: str, d: str, bout: BoutIn) -> dict[admin.DivisionKey, int]:
    doc = admin.tournament_document(session, t)
    division = session.get(Division, (t, d))
    if division is None:
        raise NotFound(f"division {d!r} of tournament {t!r} does not exist")
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
    return admin.write_document(session, {"tournaments": [doc]}, {(t, d)}).refreshed


@router.post(
    "/v1/tournaments/{tournament_id}/divisions/{division_id}/bouts",
    status_code=201,
    response_model=WriteOut,
    summary="Schedule a bout between two athletes entered in the division",
    responses=_WRITE_PROBLEMS,
)
async def create_bout(
    tournament_id: TournamentId, division_id: DivisionId, body: BoutIn, ctx: CtxDep, _admin: Admin
) -> WriteOut:
    def fn(session: Session) -> tuple[None, dict[admin.DivisionKey, int]]:
        if _exists(session, BoutRow, body.bout_id):
            raise Conflict(f"bout {body.bout_id!r} already exists; PUT to change it")
        return None, _bout_write(session, tournament_id, division_id, body)

    _, versions = await _write(ctx, fn)
    return WriteOut(status="created", divisions=versions)


@router.put(
    "/v1/tournaments/{tournament_id}/divisions/{division_id}/bouts/{bout_id}",
    response_model=WriteOut,
    summary="Create or replace a bout (its athletes cannot change once it has results)",
    responses=_WRITE_PROBLEMS,
)
async def put_bout(
    tournament_id: TournamentId,
    division_id: DivisionId,
    bout_id: BoutPath,
    body: BoutUpdate,
    ctx: CtxDep,
    _admin: Admin,
) -> WriteOut:
    created = False

    def fn(session: Session) -> tuple[None, dict[admin.DivisionKey, int]]:
        nonlocal created
        created = not _exists(session, BoutRow, bout_id)
        bout = BoutIn(bout_id=bout_id, **body.model_dump())
        return None, _bout_write(session, tournament_id, division_id, bout)

    _, versions = await _write(ctx, fn)
    return WriteOut(status="created" if created else "updated", divisions=versions)


# --- registration import ----------------------------------------------------------------------


@router.post(
    "/v1/registration/import",
    response_model=ImportOut,
    summary="Import a registration file (the `standings import` format), all or nothing",
    description="Validates the whole file against the format and the database first; any problem is a 422 "
    "problem+json whose `problems` lists every one, and nothing is written. Re-importing the same file is a no-op "
    "apart from refreshed versions. A file never moves a tournament backwards in its lifecycle (finalized → anything, "
    "live → scheduled) nor finalizes one: such a status is kept and listed in `kept_statuses`.",
    responses={
        **_WRITE_PROBLEMS,
        422: {
            **problems(422)[422],
            "content": {
                "application/problem+json": {
                    "example": {
                        "type": "https://standings.example/problems/validation",
                        "title": "Unprocessable content",
                        "status": 422,
                        "detail": "2 problem(s) in the registration data",
                        "problems": [
                            "athlete xx-1: country 'XXX' is not an ISO 3166-1 alpha-3 code",
                            "tournament t1 division m-73kg: unknown athlete ghost",
                        ],
                    }
                }
            },
        },
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _inline_refs(RegistrationFile.model_json_schema())}},
        }
    },
)
async def import_registration(request: Request, ctx: CtxDep, _admin: Admin) -> ImportOut:
    require_json_media_type(request.headers.get("content-type"))
    raw = await request.body()
    parse_json_body(raw)  # 400 for a body that cannot be parsed; the file model's 422 is for the rest

    def fn(session: Session) -> tuple[ImportSummary, dict[admin.DivisionKey, int]]:
        summary = admin.import_file(session, raw)
        return summary, summary.refreshed

    summary, versions = await _write(ctx, fn)
    return ImportOut(
        tournaments=summary.tournaments,
        divisions=summary.divisions,
        athletes=summary.athletes,
        bouts=summary.bouts,
        divisions_refreshed=len(versions),
        kept_statuses=_kept(summary),
    )
