"""Admin routes of the registration lifecycle: the file import, re-opening a finalized tournament
and its audit trail. The rules live in ``services.registration``; these routes map them to HTTP."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from services.api import registration_admin as admin
from services.api.admin_common import (
    STRICT,
    WRITE_PROBLEMS,
    Admin,
    DivisionVersion,
    KeptStatusOut,
    admin_router,
    exists,
    kept_statuses,
    write,
)
from services.api.context import CtxDep
from services.api.paths import TournamentId
from services.api.schemas import examples, problems
from services.core.db.schema import Tournament
from services.core.errors import NotFound
from services.core.http.problems import parse_json_body, require_json_media_type
from services.registration import reopen
from services.registration.loader import ImportSummary
from services.registration.model import TEXT_PATTERN, RegistrationFile
from services.registration.reopen import Reopened

router = admin_router()


class ImportOut(BaseModel):
    model_config = examples(
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
    )
    tournaments: int
    divisions: int
    athletes: int
    bouts: int
    divisions_refreshed: int
    kept_statuses: list[KeptStatusOut] = Field(
        default_factory=list, description="Statuses the file asked for that the tournaments' lifecycle refused"
    )


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


class ReopenIn(BaseModel):
    model_config = STRICT
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

    done, versions = await write(ctx, fn)
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
    def read(session: Session) -> list[AdminActionOut]:
        if not exists(session, Tournament, tournament_id):
            raise NotFound(f"tournament {tournament_id!r} does not exist")
        return [
            AdminActionOut.model_validate(a, from_attributes=True) for a in reopen.admin_actions(session, tournament_id)
        ]

    return await ctx.read(read)


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
        **WRITE_PROBLEMS,
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

    summary, versions = await write(ctx, fn)
    return ImportOut(
        tournaments=summary.tournaments,
        divisions=summary.divisions,
        athletes=summary.athletes,
        bouts=summary.bouts,
        divisions_refreshed=len(versions),
        kept_statuses=kept_statuses(summary),
    )
