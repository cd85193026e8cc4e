"""The whole pipeline with the rankings indexer on the search engine, on both brokers (a module's
``stack`` fixture), and what its tests ask of it: imports, finalize, awards, the index agreeing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from elasticsearch import Elasticsearch

from services.core.search.client import make_search_client
from services.embedded.postgres import EmbeddedPostgres
from services.embedded.search_engine import OsmemEngine
from services.indexer.loop import RankingsIndexer
from services.rankings.audit import run_audit
from tests.e2e.pipeline import Pipeline, running_pipeline
from tests.rankings_support import drain_indexer, drop_indices, index_docs, rankings_settings


@dataclass
class Stack:
    p: Pipeline
    indexer: RankingsIndexer
    client: Elasticsearch
    alias: str


def ranked_stack(
    request: pytest.FixtureRequest,
    pg: EmbeddedPostgres,
    search: OsmemEngine,
    tmp_path_factory: pytest.TempPathFactory,
    broker_name: str | None = None,
) -> Iterator[Stack]:
    """``broker_name`` (``tansu`` or ``mock``) for a fixture on one broker; else the fixture's param."""
    name = broker_name or request.param
    broker = request.getfixturevalue("kafka" if name == "tansu" else "mock_kafka")
    log_dir: Path = tmp_path_factory.mktemp(f"ranked-{name}")
    with running_pipeline(
        pg, broker.bootstrap, mock_broker=name == "mock", log_dir=log_dir, search_url=search.url
    ) as p:
        settings = rankings_settings(p.settings.database.url.get_secret_value(), search.url)
        client = make_search_client(settings.search)
        indexer = RankingsIndexer(settings, p.engine, client)
        indexer.check_alias(force=True)
        try:
            yield Stack(p, indexer, client, settings.search.alias)
        finally:
            drop_indices(client, settings.search.alias)
            client.close()


def admin_headers(p: Pipeline) -> dict[str, str]:
    return {"Authorization": f"Bearer {p.tokens['admin']}", "Content-Type": "application/json"}


def import_file(p: Pipeline, raw: bytes) -> httpx.Response:
    return httpx.post(f"{p.api.url}/v1/registration/import", content=raw, headers=admin_headers(p), timeout=30)


def finalize(p: Pipeline, tournament_id: str) -> None:
    r = httpx.post(
        f"{p.intake.url}/v1/tournaments/{tournament_id}/finalize",
        headers={"Authorization": f"Bearer {p.tokens['ops']}"},
        timeout=10,
    )
    assert r.status_code == 202, r.text
    for e in r.json()["events"]:
        p.accepted.append({"partition": e["partition"], "offset": e["offset"], "bout_id": "", "kind": "finalize"})


def drain(indexer: RankingsIndexer) -> None:
    drain_indexer(indexer)


def awards(p: Pipeline, tournament_id: str) -> dict[str, tuple[int, float, bool]]:
    with p.engine.connect() as conn:
        rows = conn.execute(
            sa.text('SELECT athlete_id, "placing", points, provisional FROM ranking_awards WHERE tournament_id = :t'),
            {"t": tournament_id},
        )
        return {a: (pl, float(pt), prov) for a, pl, pt, prov in rows}


def rankings(p: Pipeline, category: str) -> dict[str, tuple[int, float, float]]:
    with p.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT athlete_id, rank, points, provisional_points FROM rankings WHERE category = :c"),
            {"c": category},
        )
        return {a: (rank, float(points), float(prov)) for a, rank, points, prov in rows}


def index_agrees(s: Stack, category: str) -> None:
    """The index says what PostgreSQL says: the audit is clean and the category's documents match."""
    drain(s.indexer)
    report = run_audit(s.p.engine, s.client, s.alias)
    assert report.clean, report
    docs = {d["athlete_id"]: d for d in index_docs(s.client, s.alias).values() if d["category"] == category}
    stored = rankings(s.p, category)
    assert {a: (d["rank"], d["points"], d["provisional_points"]) for a, d in docs.items()} == {
        a: (rank or None, points, prov) for a, (rank, points, prov) in stored.items()
    }
