"""Federation ranking list reads, served from the search index behind the ``rankings`` alias.

Every response says how fresh it is: ``freshness_s`` is the age of the oldest ranking change
committed in PostgreSQL but not yet indexed (0 when caught up) and ``as_of`` the instant up to
which the index holds everything (the oldest pending change's time, or the time of the last check
when caught up). Both come from the outbox, polled once a second per process, never per request.

Search engine down or the read breaker open -> 503 problem+json with Retry-After, never a 500.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import orjson
from elasticsearch import AsyncElasticsearch, NotFoundError
from fastapi import APIRouter, FastAPI, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from starlette.responses import Response

from services.api.poller import Poller
from services.api.schemas import problems
from services.core.errors import BadRequest, NotFound, ServiceUnavailable
from services.core.logging import get_logger
from services.core.search.breaker import BreakerOpen, CircuitBreaker, is_unavailable
from services.core.search.client import make_async_search_client
from services.core.search.queries import InvalidCursor, decode_cursor, encode_cursor, ranking_search
from services.core.settings import Settings
from services.rankings import feed as repo
from services.rankings.documents import doc_id

log = get_logger(__name__)
T = TypeVar("T")

MAX_PAGE = 100
READ_TIMEOUT_S = 5.0
FRESHNESS_POLL_S = 1.0
CACHE_CONTROL = "public, max-age=1"

router = APIRouter(prefix="/v1/rankings", tags=["rankings"])


# --- response models (documentation; bodies are serialized with orjson) ---------------------------


class RankingOut(BaseModel):
    category: str = Field(description="Weight category (the ranking list)")
    athlete_id: str
    name: str
    country: str = Field(description="ISO 3166-1 alpha-3")
    rank: int | None = Field(description="Shared by equal points and best award; null: provisional points only")
    points: float = Field(description="Counted points: awards of tournaments ended within 365 days")
    best_award: float
    awards: int = Field(description="Number of counted awards")
    provisional_points: float = Field(description="Points of live tournaments, shown apart and not counted")


class RankingListOut(BaseModel):
    as_of: dt.datetime = Field(description="The index holds every ranking change committed before this instant")
    freshness_s: float = Field(description="Age of the oldest change not yet indexed (0: caught up)")
    total: int
    items: list[RankingOut]
    next: str | None = Field(description="Opaque cursor for the next page (search_after); null on the last page")


class RankingOneOut(RankingOut):
    as_of: dt.datetime
    freshness_s: float


# --- freshness from the outbox -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FreshnessSnapshot:
    as_of: dt.datetime
    freshness_s: float


class OutboxFreshness(Poller[FreshnessSnapshot]):
    """Polls the outbox backlog once a second in the background; requests read the last snapshot."""

    def __init__(self, engine: Engine, interval_s: float = FRESHNESS_POLL_S) -> None:
        super().__init__(interval_s, name="rankings-freshness")
        self._engine = engine
        self.snapshot: FreshnessSnapshot | None = None

    def _read(self) -> FreshnessSnapshot:
        with Session(self._engine) as session:
            backlog = repo.backlog(session)
        now = dt.datetime.now(dt.UTC)
        if backlog.oldest_at is None:
            return FreshnessSnapshot(now, 0.0)
        return FreshnessSnapshot(backlog.oldest_at, round(backlog.age_s(now), 3))

    def _keep(self, value: FreshnessSnapshot) -> None:
        self.snapshot = value

    async def current(self) -> FreshnessSnapshot:
        snap = self.snapshot
        if snap is None:
            return await self.refresh()
        # Between polls the age keeps growing while something is pending.
        now = dt.datetime.now(dt.UTC)
        if snap.freshness_s > 0:
            return FreshnessSnapshot(snap.as_of, round((now - snap.as_of).total_seconds(), 3))
        return snap


# --- the read service ------------------------------------------------------------------------------------


class RankingsReader:
    """Search client + read breaker + freshness, one per API process (``app.state.rankings``)."""

    def __init__(self, settings: Settings, client: AsyncElasticsearch, freshness: OutboxFreshness) -> None:
        self.alias = settings.search.alias
        self.client = client.options(request_timeout=min(READ_TIMEOUT_S, settings.search.request_timeout_s))
        self.freshness = freshness
        # Not exported: BREAKER_STATE is the indexer's (write path) breaker.
        self.breaker = CircuitBreaker(
            settings.search.breaker_failure_threshold,
            settings.search.breaker_half_open_after_s,
            name="search-read",
            export_metrics=False,
        )

    async def guarded(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run a search call through the breaker; unavailability becomes 503 + Retry-After."""
        try:
            self.breaker.before_call()
        except BreakerOpen as exc:
            raise ServiceUnavailable(
                "the ranking search is temporarily unavailable", retry_after_s=max(1.0, exc.retry_after_s)
            ) from None
        try:
            result = await call()
        except NotFoundError as exc:
            self.breaker.record_success()
            if _index_missing(exc):
                raise ServiceUnavailable("the rankings index is being rebuilt", retry_after_s=5.0) from None
            raise
        except Exception as exc:
            if not is_unavailable(exc):
                self.breaker.record_success()
                raise
            self.breaker.record_failure(exc)
            log.warning("rankings_search_unavailable", error=str(exc)[:300])
            raise ServiceUnavailable(
                "the ranking search is temporarily unavailable", retry_after_s=max(1.0, self.breaker.retry_after_s())
            ) from None
        self.breaker.record_success()
        return result


def _index_missing(exc: NotFoundError) -> bool:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error")
    return isinstance(error, dict) and error.get("type") == "index_not_found_exception"


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Owns the async search client and the freshness poller (run inside the app's lifespan)."""
    settings: Settings = app.state.settings
    engine: Engine = app.state.engine
    client = make_async_search_client(settings.search)
    freshness = OutboxFreshness(engine)
    freshness.start()
    app.state.rankings = RankingsReader(settings, client, freshness)
    try:
        yield
    finally:
        await freshness.stop()
        await client.close()


def _reader(request: Request) -> RankingsReader:
    reader: RankingsReader = request.app.state.rankings
    return reader


def _item(source: dict[str, Any]) -> dict[str, Any]:
    return {
        "category": source.get("category"),
        "athlete_id": source.get("athlete_id"),
        "name": source.get("name"),
        "country": source.get("country"),
        "rank": source.get("rank"),
        "points": source.get("points"),
        "best_award": source.get("best_award"),
        "awards": source.get("awards"),
        "provisional_points": source.get("provisional_points"),
    }


def _json(body: dict[str, Any], freshness: FreshnessSnapshot) -> Response:
    body["as_of"] = freshness.as_of.isoformat()
    body["freshness_s"] = freshness.freshness_s
    return Response(
        orjson.dumps(body),
        media_type="application/json",
        headers={"Cache-Control": CACHE_CONTROL, "X-Index-Freshness-S": f"{freshness.freshness_s:.3f}"},
    )


async def _freshness(reader: RankingsReader) -> FreshnessSnapshot:
    try:
        return await reader.freshness.current()
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        raise ServiceUnavailable("PostgreSQL is unreachable; freshness unknown", retry_after_s=2.0) from exc


Category = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")]
AthleteId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:+-]*$")]


@router.get(
    "",
    response_model=RankingListOut,
    summary="Search the ranking list",
    description="Filters by weight category and country, full-text on the athlete name (accent-insensitive: "
    "'Muller' finds 'Müller'). Order: points desc, best single award desc, athlete id asc (then category). "
    "Give at least one of category, country or q. Page with the opaque `next` cursor as `search_after`.",
    responses=problems(400, 422, 503),
)
async def search_rankings(
    request: Request,
    category: Annotated[str | None, Query(max_length=64, description="Weight category, e.g. m-73kg")] = None,
    country: Annotated[str | None, Query(pattern=r"^[A-Za-z]{3}$", description="ISO 3166-1 alpha-3")] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=100, description="Words of the athlete's name")] = None,
    size: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    search_after: Annotated[str | None, Query(max_length=512, description="`next` of the previous page")] = None,
) -> Response:
    reader = _reader(request)
    q = q.strip() if q else None
    if not (category or country or q):
        raise BadRequest("give a category, a country or a name query (q): whole-list reads are not served")
    try:
        after = decode_cursor(search_after) if search_after else None
    except InvalidCursor as exc:
        raise BadRequest(str(exc)) from None
    page, freshness = await search_page(reader, category=category, country=country, q=q, size=size, after=after)
    return _json(page, freshness)


async def search_page(
    reader: RankingsReader,
    *,
    category: str | None,
    country: str | None,
    q: str | None,
    size: int,
    after: list[Any] | None,
) -> tuple[dict[str, Any], FreshnessSnapshot]:
    """One page of the ranking list (``total``, ``items``, ``next``) and the index's freshness; the
    search route and the public rankings page both read through it."""
    params = ranking_search(category=category, country=country, q=q, size=size, search_after=after)
    freshness = await _freshness(reader)
    response = await reader.guarded(lambda: reader.client.search(index=reader.alias, **params))
    hits = response.body["hits"]["hits"]
    total = response.body["hits"].get("total", {}).get("value", len(hits))
    next_cursor = encode_cursor(hits[-1]["sort"]) if len(hits) == size else None
    return {"total": total, "items": [_item(h["_source"]) for h in hits], "next": next_cursor}, freshness


async def index_freshness(reader: RankingsReader) -> FreshnessSnapshot:
    """How far the index is behind PostgreSQL (503 problem when PostgreSQL cannot say)."""
    return await _freshness(reader)


@router.get(
    "/{category}/{athlete_id}",
    response_model=RankingOneOut,
    summary="One athlete's entry in a category's ranking list",
    responses=problems(404, 503),
)
async def get_ranking(request: Request, category: Category, athlete_id: AthleteId) -> Response:
    reader = _reader(request)
    freshness = await _freshness(reader)
    try:
        response = await reader.guarded(lambda: reader.client.get(index=reader.alias, id=doc_id(category, athlete_id)))
    except NotFoundError:
        raise NotFound(f"athlete {athlete_id!r} has no ranking in category {category!r}") from None
    return _json(_item(response.body["_source"]), freshness)
