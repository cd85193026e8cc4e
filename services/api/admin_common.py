"""What the admin routes share: the admin role, the write wrapper (one transaction, then the local
cache is told at once; other processes learn from the write's NOTIFY) and the response models."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal, TypeVar

import anyio
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from services.api import registration_admin as admin
from services.api.context import ApiContext
from services.api.notifications import Change
from services.api.schemas import examples, problems
from services.core.auth import Principal, Role
from services.core.errors import Conflict
from services.core.http.auth import require_role
from services.registration.loader import ImportSummary

T = TypeVar("T")
Admin = Annotated[Principal, require_role(Role.ADMIN)]
WRITE_PROBLEMS = problems(400, 401, 403, 404, 409, 413, 415, 422)  # 400: unparsable body; 415: not JSON
# strict, like the registration models: no coercions the schema does not describe.
STRICT = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)


def admin_router() -> APIRouter:
    return APIRouter(tags=["admin"])


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


def kept_statuses(summary: ImportSummary) -> list[KeptStatusOut]:
    return [
        KeptStatusOut(tournament_id=k.tournament_id, status=k.status, requested=k.requested, reason=k.reason)
        for k in summary.kept
    ]


class WriteOut(BaseModel):
    model_config = examples(
        {
            "status": "created",
            "divisions": [{"tournament_id": "paris-open-2026", "division_id": "m-73kg", "version": 1}],
        }
    )
    status: Literal["created", "updated"]
    divisions: list[DivisionVersion] = Field(description="Divisions whose standings were refreshed, new versions")
    kept_statuses: list[KeptStatusOut] = Field(
        default_factory=list, description="A status the write asked for that the tournament's lifecycle refused"
    )


WriteVersions = list[DivisionVersion]


async def write(
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


def exists(session: Session, model: type, *key: str) -> bool:
    return session.get(model, key if len(key) > 1 else key[0]) is not None


async def create(
    ctx: ApiContext, model: type, key: tuple[str, ...], name: str, fn: Callable[[Session], ImportSummary]
) -> WriteOut:
    """A POST: ``fn`` unless the ``model`` row with ``key`` exists (409 naming ``name``); ``created``."""
    conflict = f"{name} already exists; PUT to change it"
    return await _entity_write(ctx, model, key, lambda session, _created: fn(session), conflict=conflict)


async def create_or_replace(
    ctx: ApiContext, model: type, key: tuple[str, ...], fn: Callable[[Session, bool], ImportSummary]
) -> WriteOut:
    """A PUT: ``fn(session, created)``, ``created`` when no ``model`` row with ``key`` existed before it."""
    return await _entity_write(ctx, model, key, fn, conflict=None)


async def _entity_write(
    ctx: ApiContext,
    model: type,
    key: tuple[str, ...],
    fn: Callable[[Session, bool], ImportSummary],
    *,
    conflict: str | None,
) -> WriteOut:
    created = False

    def run(session: Session) -> tuple[ImportSummary, dict[admin.DivisionKey, int]]:
        nonlocal created
        created = not exists(session, model, *key)
        if not created and conflict is not None:
            raise Conflict(conflict)
        summary = fn(session, created)
        return summary, summary.refreshed

    summary, versions = await write(ctx, run)
    return WriteOut(
        status="created" if created else "updated", divisions=versions, kept_statuses=kept_statuses(summary)
    )
