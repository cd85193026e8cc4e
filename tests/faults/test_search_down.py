"""The search engine goes away while ranking changes keep coming, then comes back EMPTY on the same
port. The indexer must notice (breaker opens, freshness grows, readiness degraded), never advance
its position past unwritten changes, and recover by itself - half-open probe, alias missing ->
rebuild from PostgreSQL, closed - without being restarted. The article's 8-hour outage, inverted."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy.orm import Session

from services.core.search import indices
from services.core.search.breaker import BreakerState
from services.core.search.client import make_search_client
from services.embedded.search_engine import OsmemEngine
from services.indexer.health import HealthServer
from services.indexer.loop import RankingsIndexer
from services.rankings import feed
from services.rankings import rerank as repo
from services.rankings.audit import run_audit
from tests.rankings_support import TODAY, World, db_url, wait_for, world

__all__ = ["db_url", "world"]


@pytest.fixture
def own_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OsmemEngine]:
    engine = OsmemEngine.start(log_dir=tmp_path_factory.mktemp("osmem-down"))
    yield engine
    engine.stop()


def _transitions(to: str) -> float:
    return REGISTRY.get_sample_value("standings_search_breaker_transitions_total", {"to": to}) or 0.0


def _finalize(world: World, tournament: str, athletes: list[str]) -> None:
    world.tournament(tournament, "open", dt.date(2026, 6, 1))
    world.division(tournament, "m", "m-73kg", athletes)
    with Session(world.engine) as session, session.begin():
        world.standings(session, tournament, "m", {a: i + 1 for i, a in enumerate(athletes)})
        repo.apply_ranking_effects(session, set(), {(tournament, "m")}, today=TODAY)


def test_engine_down_then_back_empty_recovers_without_restart(world: World, own_engine: OsmemEngine) -> None:
    settings = world.settings(
        own_engine.url,
        breaker_failure_threshold=2,
        breaker_half_open_after_s=1.0,
        request_timeout_s=2.0,
    )
    ids = [f"a{i}" for i in range(40)]
    world.athletes([(a, f"Athlete {a}", "GER") for a in ids])
    client = make_search_client(settings.search)
    indexer = RankingsIndexer(settings, world.engine, client, today=lambda: TODAY)
    health = HealthServer("127.0.0.1", 0, indexer.status, slo_s=1.0).start()
    readyz = f"http://127.0.0.1:{health.port}/readyz"
    stop = threading.Event()
    thread = threading.Thread(target=indexer.run, args=(stop,), name="indexer", daemon=True)
    thread.start()
    try:
        _finalize(world, "t0", ids[:10])
        wait_for(lambda: indexer.status().pending == 0 and indexer.status().alias_ok, 20, "first changes indexed")
        assert httpx.get(readyz, timeout=5).status_code == 200
        opened, half_opened, closed = _transitions("open"), _transitions("half_open"), _transitions("closed")

        own_engine.stop()
        down_at = time.monotonic()
        # changes keep flowing while the engine is away
        for n in range(1, 4):
            _finalize(world, f"t{n}", ids[n * 10 : n * 10 + 10])
        wait_for(lambda: indexer.breaker.state is BreakerState.OPEN, 20, "breaker open")
        assert REGISTRY.get_sample_value("standings_search_breaker_state") == 2
        first = wait_for(lambda: indexer.status().freshness_s or None, 10, "freshness measured")
        with Session(world.engine) as session:
            position_while_down = feed.get_position(session)
            assert feed.backlog(session).pending > 0
        # down longer than the breaker's half-open delay: at least one failed probe reopens it
        wait_for(
            lambda: _transitions("half_open") > half_opened and indexer.breaker.state is BreakerState.OPEN,
            20,
            "a failed probe",
        )
        later = wait_for(lambda: (f := indexer.status().freshness_s) > first + 1.0 and f, 20, "freshness growing")
        assert later > first
        assert REGISTRY.get_sample_value("standings_rankings_index_freshness_seconds") >= first
        response = httpx.get(readyz, timeout=5)
        assert response.status_code == 503 and response.json()["status"] == "degraded"
        assert response.json()["breaker"] in ("open", "half_open")
        with Session(world.engine) as session:
            assert feed.get_position(session) == position_while_down  # nothing advanced without the engine
        assert _transitions("open") > opened
        assert time.monotonic() - down_at > settings.search.breaker_half_open_after_s

        own_engine.restart()  # same port, no indices at all
        assert indices.alias_targets(client, settings.search.alias) == []
        wait_for(
            lambda: (
                indexer.breaker.state is BreakerState.CLOSED
                and indexer.status().pending == 0
                and indexer.status().alias_ok
            ),
            30,
            "recovered after the engine came back",
        )
        assert _transitions("closed") > closed
        assert thread.is_alive()  # the same indexer, never restarted
        assert wait_for(lambda: httpx.get(readyz, timeout=5).status_code == 200, 10, "ready again")
        assert REGISTRY.get_sample_value("standings_rankings_index_freshness_seconds") == 0

        report = run_audit(world.engine, client, settings.search.alias)
        assert report.clean, report.to_dict()
        assert report.checked == 40
    finally:
        stop.set()
        thread.join(15)
        health.stop()
        client.close()
    assert not thread.is_alive()
