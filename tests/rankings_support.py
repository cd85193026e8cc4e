"""Helpers for the rankings tests and bench: registration and final standings written straight into a
real, migrated PostgreSQL (what the projector leaves behind), bounded waits, search fixtures.

Nothing is mocked: the ranking effects, the indexer, the reindex and the audit run against real
PostgreSQL 18 and a real (osmem) search engine.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import pytest
import sqlalchemy as sa
from elasticsearch import Elasticsearch
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from services.core.db import registration
from services.core.db.schema import StandingsRow
from services.core.settings import DatabaseSettings, IndexerSettings, SearchSettings, Settings
from services.embedded.postgres import EmbeddedPostgres
from tests.databases import create_database, drop_database

T = TypeVar("T")
TODAY = dt.date(2026, 11, 26)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_for(predicate: Callable[[], T | None], timeout: float, what: str, interval: float = 0.05) -> T:
    """Poll ``predicate`` until it returns something truthy; ``TimeoutError`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout} s")
        time.sleep(interval)


def rankings_settings(db_url: str, search_url: str, **search: Any) -> Settings:
    """Settings for one test: its own database, its own alias on the shared engine, short breaker."""
    search_settings = SearchSettings(
        url=search_url,
        plain_json_media_type=True,
        alias=unique("rankings"),
        breaker_failure_threshold=search.pop("breaker_failure_threshold", 2),
        breaker_half_open_after_s=search.pop("breaker_half_open_after_s", 1.0),
        request_timeout_s=search.pop("request_timeout_s", 5.0),
        **search,
    )
    return Settings(
        environment="test",
        log_json=False,
        database=DatabaseSettings(url=db_url),
        search=search_settings,
        indexer=IndexerSettings(poll_interval_s=0.05, http_port=0),
    )


@dataclass
class World:
    """Registration + standings writer for one database."""

    engine: sa.Engine

    def settings(self, search_url: str, **search: Any) -> Settings:
        """:func:`rankings_settings` for this world's database."""
        return rankings_settings(self.engine.url.render_as_string(hide_password=False), search_url, **search)

    def tournament(self, tournament_id: str, tier: str, end_date: dt.date, status: str = "finalized") -> None:
        with Session(self.engine) as session, session.begin():
            registration.upsert_tournaments(
                session,
                [
                    {
                        "tournament_id": tournament_id,
                        "name": tournament_id,
                        "tier": tier,
                        "start_date": end_date - dt.timedelta(days=2),
                        "end_date": end_date,
                        "status": status,
                    }
                ],
            )

    def set_status(self, tournament_id: str, status: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                sa.text("UPDATE tournaments SET status = :s WHERE tournament_id = :t"),
                {"s": status, "t": tournament_id},
            )

    def athletes(self, athletes: Iterable[tuple[str, str, str]]) -> None:
        rows = [{"athlete_id": a, "full_name": n, "country": c, "club": None} for a, n, c in athletes]
        with Session(self.engine) as session, session.begin():
            for i in range(0, len(rows), 5000):
                registration.upsert_athletes(session, rows[i : i + 5000])

    def division(self, tournament_id: str, division_id: str, category: str, athletes: Sequence[str]) -> None:
        with Session(self.engine) as session, session.begin():
            registration.upsert_divisions(
                session,
                [
                    {
                        "tournament_id": tournament_id,
                        "division_id": division_id,
                        "name": division_id,
                        "category": category,
                        "formats": ["round_robin"],
                    }
                ],
            )
            entries = [{"tournament_id": tournament_id, "division_id": division_id, "athlete_id": a} for a in athletes]
            for i in range(0, len(entries), 5000):
                registration.upsert_entries(session, entries[i : i + 5000])

    def standings(self, session: Session, tournament_id: str, division_id: str, ranks: Mapping[str, int]) -> None:
        """Write a division's standings table as the projector would (only ranks matter to awards)."""
        rows = [
            {
                "tournament_id": tournament_id,
                "division_id": division_id,
                "athlete_id": athlete,
                "rank": rank,
                "previous_rank": None,
                "bouts": 1,
                "wins": 0,
                "losses": 0,
                "draws": 0,
                "points": 0,
                "finishes": 0,
                "tp_for": 0,
                "tp_against": 0,
                "tie_unresolved": False,
            }
            for athlete, rank in ranks.items()
        ]
        session.execute(
            sa.delete(StandingsRow).where(
                StandingsRow.tournament_id == tournament_id, StandingsRow.division_id == division_id
            )
        )
        for i in range(0, len(rows), 5000):
            session.execute(insert(StandingsRow), rows[i : i + 5000])

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.text(sql), params))

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()


def drop_indices(client: Elasticsearch, alias: str) -> None:
    """Delete every index of a test's alias (the session engine is shared by all tests)."""
    names = list(client.indices.get(index=f"{alias}*", expand_wildcards="all").body)
    for name in names:
        client.indices.delete(index=name)


def index_docs(client: Elasticsearch, alias: str) -> dict[str, dict[str, Any]]:
    """Every document behind ``alias`` (refreshed first), by id."""
    client.indices.refresh(index=alias)
    hits = client.search(index=alias, size=10_000, query={"match_all": {}}).body["hits"]["hits"]
    return {h["_id"]: h["_source"] for h in hits}


def sole_world_winner(category: str, athlete_id: str, name: str, country: str) -> dict[str, Any]:
    """The ranking document of an athlete whose only award is a world-tier win: rank 1, 200 points."""
    return {
        "category": category,
        "athlete_id": athlete_id,
        "name": name,
        "country": country,
        "rank": 1,
        "points": 200.0,
        "best_award": 200.0,
        "awards": 1,
        "provisional_points": 0.0,
    }


# --- fixtures (import them by name into a test module) --------------------------------------------


@pytest.fixture
def db_url(pg: EmbeddedPostgres) -> Iterator[str]:
    """A fresh database with the real migrations applied, dropped after the test."""
    name = unique("rk").replace("-", "_")
    url = create_database(pg, name)
    yield url
    drop_database(pg, name)


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    engine = sa.create_engine(db_url)
    yield World(engine)
    engine.dispose()


def drain_indexer(indexer: Any, timeout: float = 30.0) -> None:
    """Run indexer steps until nothing is pending: no re-rank request, no feed row after the position.

    A step can find nothing *below the horizon* while rows are pending above it (another transaction on
    the server was running when it looked, e.g. a member heartbeat), so ``step() == 0`` alone is not
    "caught up"; the backlog is.
    """
    from services.rankings import feed

    deadline = time.monotonic() + timeout
    while True:
        done = indexer.step()
        with Session(indexer.engine) as session:
            if not done and feed.backlog(session).pending == 0:
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"indexer not caught up within {timeout} s")
        if not done:
            time.sleep(0.02)  # the horizon moves when the other transaction ends: poll, bounded
