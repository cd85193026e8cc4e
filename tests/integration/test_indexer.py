"""The rankings-indexer on real PostgreSQL + osmem: changes reach the index, versions protect
against out-of-order writes, per-item bulk errors are reported and keep the position."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa
from elasticsearch import Elasticsearch
from prometheus_client import REGISTRY
from sqlalchemy.orm import Session

from services.core.search import indices
from services.core.search.bulk import BulkItemErrors, BulkWriter
from services.core.search.client import make_search_client
from services.core.settings import Settings
from services.embedded.search_engine import OsmemEngine
from services.indexer.health import HealthServer
from services.indexer.loop import RankingsIndexer
from services.rankings import feed, records
from services.rankings import rerank as repo
from services.rankings.audit import run_audit
from services.rankings.documents import doc_id, index_action
from services.rankings.model import START
from tests.fakes import FakeSearchWriter
from tests.rankings_support import (
    TODAY,
    World,
    db_url,
    drain_indexer,
    drop_indices,
    index_docs,
    sole_world_winner,
    world,
)

__all__ = ["db_url", "world"]


@pytest.fixture
def settings(world: World, search: OsmemEngine) -> Settings:
    return world.settings(search.url)


@pytest.fixture
def client(settings: Settings) -> Iterator[Elasticsearch]:
    es = make_search_client(settings.search)
    yield es
    drop_indices(es, settings.search.alias)
    es.close()


@pytest.fixture
def indexer(settings: Settings, world: World, client: Elasticsearch) -> RankingsIndexer:
    return RankingsIndexer(settings, world.engine, client, today=lambda: TODAY)


def _finalize(world: World, tournament: str, ranks: dict[str, int], *, tier: str = "world") -> None:
    world.tournament(tournament, tier, dt.date(2026, 6, 1))
    world.division(tournament, "m", "m-73kg", list(ranks))
    with Session(world.engine) as session, session.begin():
        world.standings(session, tournament, "m", ranks)
        repo.apply_ranking_effects(session, set(), {(tournament, "m")}, today=TODAY)


def _drain(indexer: RankingsIndexer) -> None:
    """Run steps until the feed is caught up (bounded)."""
    drain_indexer(indexer)


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_changes_reach_the_index_and_the_position_follows(
    world: World, indexer: RankingsIndexer, client: Elasticsearch
) -> None:
    world.athletes([("a", "Zoë Müller-Łukasz", "GER"), ("b", "Ōno Shōhei", "JPN"), ("c", "Hans Muller", "AUT")])
    indexer.check_alias(force=True)  # startup: creates the first versioned index + alias
    targets = indices.alias_targets(client, indexer.alias)
    assert len(targets) == 1 and targets[0].startswith(f"{indexer.alias}-v")

    _finalize(world, "worlds", {"a": 1, "b": 2, "c": 3})
    assert indexer.refresh_freshness().pending == 3
    _drain(indexer)
    docs = index_docs(client, indexer.alias)
    assert docs[doc_id("m-73kg", "a")] == {
        **sole_world_winner("m-73kg", "a", "Zoë Müller-Łukasz", "GER"),
        "version": world.scalar("SELECT version FROM rankings WHERE athlete_id = 'a'"),
    }
    assert len(docs) == 3
    with Session(world.engine) as session:
        assert feed.get_position(session) == feed.head(session)
    assert indexer.status().freshness_s == 0 and indexer.status().pending == 0
    assert _metric("standings_rankings_index_freshness_seconds") == 0

    # folding analyzer: "muller" finds both Müller and Muller
    hits = client.search(index=indexer.alias, query={"match": {"name": "muller"}}).body["hits"]["hits"]
    assert {h["_source"]["athlete_id"] for h in hits} == {"a", "c"}

    # the daily recompute a year later: everything expires -> documents deleted (versioned deletes)
    with Session(world.engine) as session, session.begin():
        assert repo.recompute_all_rankings(session, TODAY + dt.timedelta(days=400)) == 3
    _drain(indexer)
    assert index_docs(client, indexer.alias) == {}
    assert run_audit(world.engine, client, indexer.alias).clean


def test_an_older_write_never_replaces_a_newer_one(
    world: World, indexer: RankingsIndexer, client: Elasticsearch
) -> None:
    world.athletes([("a", "A", "GER"), ("b", "B", "JPN")])
    indexer.check_alias(force=True)
    _finalize(world, "t1", {"a": 1, "b": 2})
    with Session(world.engine) as session:
        old = records.load_records(session, [("m-73kg", "a"), ("m-73kg", "b")])
    _finalize(world, "t2", {"b": 1, "a": 2})  # b overtakes a: both documents change
    _drain(indexer)
    with Session(world.engine) as session:
        new = records.load_records(session, [("m-73kg", "a"), ("m-73kg", "b")])
    assert all(new[k].version > old[k].version for k in new)

    # a slow writer delivering the old state late (e.g. a reindex catch-up racing the live indexer)
    conflicts_before = _metric("standings_rankings_index_docs_total", outcome="conflict")
    stats = BulkWriter(client).write(indexer.alias, [index_action(r) for r in old.values()], require_alias=True)
    assert stats.conflicts == 2 and stats.indexed == 0
    assert _metric("standings_rankings_index_docs_total", outcome="conflict") == conflicts_before + 2
    docs = index_docs(client, indexer.alias)
    assert (
        docs[doc_id("m-73kg", "b")]["rank"] == 1
        and docs[doc_id("m-73kg", "b")]["version"] == new[("m-73kg", "b")].version
    )

    # replaying the whole outbox from the start is harmless: every write is a conflict, nothing changes
    with Session(world.engine) as session, session.begin():
        session.execute(
            sa.text("UPDATE consumer_positions SET next_offset = 0 WHERE consumer_group = 'rankings-indexer'")
        )
    _drain(indexer)
    assert index_docs(client, indexer.alias) == docs
    assert run_audit(world.engine, client, indexer.alias).clean


def test_per_item_bulk_errors_are_reported_and_keep_the_position(
    world: World, indexer: RankingsIndexer, client: Elasticsearch, settings: Settings
) -> None:
    world.athletes([("a", "A", "GER"), ("b", "B", "JPN")])
    # an index with a conflicting mapping behind the alias: country must be a number there
    broken = f"{settings.search.alias}-broken"
    client.indices.create(index=broken, mappings={"dynamic": "strict", "properties": {"country": {"type": "integer"}}})
    client.indices.update_aliases(actions=[{"add": {"index": broken, "alias": settings.search.alias}}])
    _finalize(world, "t1", {"a": 1, "b": 2})
    errors_before = _metric("standings_rankings_index_docs_total", outcome="error")

    with pytest.raises(BulkItemErrors) as caught:
        indexer.step()
    assert len(caught.value.errors) == 2
    assert {e.status for e in caught.value.errors} == {400}
    assert _metric("standings_rankings_index_docs_total", outcome="error") == errors_before + 2
    with Session(world.engine) as session:
        assert feed.get_position(session) == START  # nothing advanced: the changes will be retried
        assert feed.backlog(session).pending == 2
    assert indexer.breaker.state.name == "CLOSED"  # the engine answered: not an outage

    # fix the alias (a reindex builds a correct index and swaps); the same changes then go through
    indexer.reindexer.run()
    _drain(indexer)
    assert len(index_docs(client, indexer.alias)) == 2
    assert broken not in indices.alias_targets(client, indexer.alias)


def test_readiness_endpoint_reports_freshness_and_breaker(
    world: World, indexer: RankingsIndexer, settings: Settings
) -> None:
    world.athletes([("a", "A", "GER")])
    indexer.check_alias(force=True)
    server = HealthServer("127.0.0.1", 0, indexer.status, slo_s=0.5).start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        assert httpx.get(f"{base}/readyz", timeout=5).status_code == 200
        _finalize(world, "t1", {"a": 1})
        with Session(world.engine) as session, session.begin():
            session.execute(sa.text("UPDATE ranking_changes SET created_at = now() - interval '5 seconds'"))
        indexer.refresh_freshness()
        response = httpx.get(f"{base}/readyz", timeout=5)
        assert response.status_code == 503 and response.json()["status"] == "degraded"
        assert response.json()["pending_changes"] == 1 and response.json()["freshness_s"] >= 5
        _drain(indexer)
        assert httpx.get(f"{base}/readyz", timeout=5).json()["status"] == "ok"
        assert httpx.get(f"{base}/livez", timeout=5).status_code == 200
        assert "standings_rankings_index_freshness_seconds" in httpx.get(f"{base}/metrics", timeout=5).text
    finally:
        server.stop()


def _step_on_fake_writer(settings: Settings, world: World, tournament: str) -> FakeSearchWriter:
    """One indexer step over a finalized two-athlete tournament, written to the fake writer."""
    fake = FakeSearchWriter()
    indexer = RankingsIndexer(settings, world.engine, make_search_client(settings.search), writer=fake)
    world.athletes([("a", "A", "GER"), ("b", "B", "JPN")])
    _finalize(world, tournament, {"a": 1, "b": 2})
    indexer._alias_ok = True  # no engine behind the fake: skip the alias probe
    indexer._alias_checked_at = float("inf")
    assert indexer.step() == 2
    return fake


def test_the_indexer_writes_through_its_search_writer_port(settings: Settings, world: World) -> None:
    """Wired with the fake writer (held to the real one's contract in test_contracts.py): the documents
    and versions it receives are PostgreSQL's, and the feed position follows."""
    fake = _step_on_fake_writer(settings, world, "ported")
    with Session(world.engine) as session:
        rows = records.load_records(session, [("m-73kg", "a"), ("m-73kg", "b")])
        assert feed.get_position(session) == feed.head(session)
    written = {doc_id: (version, body["points"]) for (_, doc_id), (version, body) in fake.docs.items()}
    assert written == {doc_id(*key): (record.version, record.points) for key, record in rows.items()}


def test_a_bulk_write_of_ranking_changes_is_a_span(settings: Settings, world: World) -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from services.core import tracing
    from services.core.settings import TracingSettings

    spans = InMemorySpanExporter()
    tracing.install(tracing.build_provider(TracingSettings(), "indexer", exporter=spans))
    try:
        fake = _step_on_fake_writer(settings, world, "traced")
    finally:
        tracing.install(tracing.build_provider(TracingSettings(), "indexer"))
    (span,) = [s for s in spans.get_finished_spans() if s.name == "rankings bulk write"]
    assert span.attributes == {"documents": len(fake.docs)} and len(fake.docs) == 2
