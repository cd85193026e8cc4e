"""What the API's routes share, built once in the lifespan and kept on ``app.state.ctx``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

import anyio
from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from services.api.bracket_bodies import render_bracket
from services.api.freshness import Freshness
from services.api.hub import ChangeHub
from services.api.notifications import Change, NotificationListener
from services.api.standings_cache import RenderedStandings, StandingsCache
from services.core.db import bracket_read, standings_read
from services.core.errors import Conflict, NotFound
from services.core.settings import Settings

T = TypeVar("T")


@dataclass
class ApiContext:
    settings: Settings
    engine: Engine
    cache: StandingsCache[standings_read.DivisionStandings]
    hub: ChangeHub
    freshness: Freshness
    brackets: StandingsCache[bracket_read.BracketView]
    listener: NotificationListener | None = None

    @property
    def caches(
        self,
    ) -> tuple[StandingsCache[standings_read.DivisionStandings], StandingsCache[bracket_read.BracketView]]:
        return self.cache, self.brackets

    async def read(self, fn: Callable[[Session], T]) -> T:
        """Run a blocking repository call in a worker thread with its own short session."""

        def run() -> T:
            with Session(self.engine) as session:
                return fn(session)

        return await anyio.to_thread.run_sync(run)

    async def tournament(
        self, tournament_id: str
    ) -> tuple[standings_read.TournamentMeta, list[standings_read.DivisionMeta]]:
        """The tournament and its divisions, or a 404."""

        def read(session: Session) -> tuple[standings_read.TournamentMeta | None, list[standings_read.DivisionMeta]]:
            return (
                standings_read.get_tournament(session, tournament_id),
                standings_read.tournament_divisions(session, tournament_id),
            )

        tournament, divisions = await self.read(read)
        if tournament is None:
            raise NotFound(f"tournament {tournament_id!r} does not exist")
        return tournament, divisions

    # -- listener callbacks (run on the event loop) ----------------------------------------------

    def on_change(self, change: Change) -> None:
        for cache in self.caches:
            cache.on_change(change.tournament_id, change.division_id, change.version)
        self.hub.publish(change.tournament_id, change.division_id, change.version)

    def on_connected(self) -> None:
        for cache in self.caches:
            cache.set_live(True)
        self.hub.publish_all()

    def on_disconnected(self) -> None:
        for cache in self.caches:
            cache.set_live(False)


def build_context(settings: Settings, engine: Engine) -> ApiContext:
    def load(t: str, d: str) -> standings_read.DivisionStandings | None:
        with Session(engine) as session:
            return standings_read.load_division_standings(session, t, d)

    def load_bracket(t: str, d: str) -> bracket_read.BracketView | None:
        with Session(engine) as session:
            try:
                return bracket_read.load_division_bracket(session, t, d)
            except bracket_read.NotABracket as exc:
                raise Conflict(exc.detail) from None

    def division_ids(t: str) -> list[str] | None:
        with Session(engine) as session:
            if standings_read.get_tournament(session, t) is None:
                return None
            return [m.division_id for m in standings_read.tournament_divisions(session, t)]

    return ApiContext(
        settings=settings,
        engine=engine,
        cache=StandingsCache(load, division_ids, RenderedStandings.render),
        hub=ChangeHub(),
        freshness=Freshness(settings.api.projector_heartbeat_stale_s),
        brackets=StandingsCache(load_bracket, division_ids, render_bracket),
    )


def get_ctx(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


CtxDep = Annotated[ApiContext, Depends(get_ctx)]
