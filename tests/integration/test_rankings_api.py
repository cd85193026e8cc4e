"""The ranking list and ops endpoints over HTTP (uvicorn + the real app, PostgreSQL, osmem)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from elasticsearch import Elasticsearch
from sqlalchemy.orm import Session

from services.api.app import create_app
from services.core.db.engine import make_engine
from services.core.db.tokens import create_token
from services.core.search.client import make_search_client
from services.core.settings import Settings
from services.embedded.search_engine import OsmemEngine
from services.indexer.loop import RankingsIndexer
from services.rankings import rerank as repo
from services.rankings.reindex import Reindexer
from tests.rankings_support import TODAY, World, db_url, drain_indexer, drop_indices, sole_world_winner, wait_for, world
from tests.read_api_helpers import UvicornThread

__all__ = ["db_url", "world"]

NAMES = [
    ("zoe", "Zoë Müller-Łukasz", "GER"),
    ("ono", "Ōno Shōhei", "JPN"),
    ("hans", "Hans Muller", "AUT"),
    ("chaine", "Guillaume Chaîne", "FRA"),
    ("joao", "João Pedro Macedo", "BRA"),
]


@dataclass
class Env:
    url: str
    settings: Settings
    world: World
    client: Elasticsearch
    indexer: RankingsIndexer
    ops: dict[str, str]
    referee: dict[str, str]


@pytest.fixture
def env(world: World, search: OsmemEngine) -> Iterator[Env]:
    settings = world.settings(search.url)
    world.athletes(NAMES + [(f"x{i:02d}", f"Filler {i}", "GER") for i in range(30)])
    world.tournament("worlds", "world", dt.date(2026, 6, 1))
    world.tournament("euros", "continental", dt.date(2026, 4, 1))
    ranked = [a for a, _, _ in NAMES] + [f"x{i:02d}" for i in range(30)]
    world.division("worlds", "m73", "m-73kg", ranked)
    world.division("euros", "m81", "m-81kg", ["zoe", "hans"])
    with Session(world.engine) as session, session.begin():
        world.standings(session, "worlds", "m73", {a: i + 1 for i, a in enumerate(ranked)})
        world.standings(session, "euros", "m81", {"hans": 1, "zoe": 2})
        repo.apply_ranking_effects(session, set(), {("worlds", "m73"), ("euros", "m81")}, today=TODAY)
        _, ops = create_token(session, "ops", "ops", pepper=settings.token_pepper.get_secret_value())
        _, referee = create_token(
            session, "ref", "referee", ["worlds"], pepper=settings.token_pepper.get_secret_value()
        )
    client = make_search_client(settings.search)
    indexer = RankingsIndexer(settings, world.engine, client, today=lambda: TODAY)
    indexer.check_alias(force=True)
    drain_indexer(indexer)
    engine = make_engine(settings.database)
    server = UvicornThread(create_app(settings, engine=engine))
    with server.running():
        yield Env(
            server.url,
            settings,
            world,
            client,
            indexer,
            {"Authorization": f"Bearer {ops}"},
            {"Authorization": f"Bearer {referee}"},
        )
    engine.dispose()
    drop_indices(client, settings.search.alias)
    client.close()


def test_search_filters_folding_order_and_cursor(env: Env) -> None:
    with httpx.Client(base_url=env.url, timeout=10) as http:
        page = http.get("/v1/rankings", params={"category": "m-73kg", "size": 3}).json()
        assert [i["athlete_id"] for i in page["items"]] == ["zoe", "ono", "hans"]
        assert page["items"][0] == sole_world_winner("m-73kg", "zoe", "Zoë Müller-Łukasz", "GER")
        assert page["total"] == 35 and page["freshness_s"] == 0
        assert dt.datetime.fromisoformat(page["as_of"]).tzinfo is not None

        # paging with the opaque cursor walks the whole list once, in order, with no duplicates
        seen, cursor = [], None
        while True:
            params: dict[str, str | int] = {"category": "m-73kg", "size": 7}
            if cursor:
                params["search_after"] = cursor
            body = http.get("/v1/rankings", params=params).json()
            seen += [(i["points"], i["athlete_id"]) for i in body["items"]]
            cursor = body["next"]
            if cursor is None:
                break
        assert len(seen) == 35 and len(set(seen)) == 35
        assert seen == sorted(seen, key=lambda p: (-p[0], p[1]))

        # accent folding both ways; filters combine
        muller = http.get("/v1/rankings", params={"q": "muller"}).json()["items"]
        assert {(i["athlete_id"], i["category"]) for i in muller} == {
            ("zoe", "m-73kg"),
            ("hans", "m-73kg"),
            ("zoe", "m-81kg"),
            ("hans", "m-81kg"),
        }
        assert [i["athlete_id"] for i in muller[:2]] == ["zoe", "hans"]  # order: points desc across categories
        assert [i["athlete_id"] for i in http.get("/v1/rankings", params={"q": "Shohei Ono"}).json()["items"]] == [
            "ono"
        ]
        assert [i["athlete_id"] for i in http.get("/v1/rankings", params={"q": "chaine"}).json()["items"]] == ["chaine"]
        filtered = http.get("/v1/rankings", params={"category": "m-81kg", "country": "aut"}).json()["items"]
        assert [i["athlete_id"] for i in filtered] == ["hans"]

        one = http.get("/v1/rankings/m-81kg/zoe")
        assert one.status_code == 200 and one.json()["rank"] == 2 and one.json()["points"] == 105.0
        assert "as_of" in one.json() and one.json()["freshness_s"] == 0

        missing = http.get("/v1/rankings/m-81kg/ono")
        assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
        for bad in ({}, {"category": "m-73kg", "search_after": "not-a-cursor"}, {"category": "m-73kg", "size": 1000}):
            response = http.get("/v1/rankings", params=bad)
            assert response.status_code in (400, 422) and response.headers["content-type"] == "application/problem+json"


def test_freshness_reports_unindexed_changes(env: Env) -> None:
    with Session(env.world.engine) as session, session.begin():
        assert repo.touch_athletes(session, ["zoe"]) == 2
    with httpx.Client(base_url=env.url, timeout=10) as http:
        body = wait_for(
            lambda: (
                (b := http.get("/v1/rankings", params={"category": "m-73kg", "size": 1}).json())["freshness_s"] > 0
                and b
            ),
            10,
            "pending change visible in freshness",
        )
        assert dt.datetime.fromisoformat(body["as_of"]) <= dt.datetime.now(dt.UTC)
        drain_indexer(env.indexer)
        wait_for(
            lambda: http.get("/v1/rankings", params={"category": "m-73kg", "size": 1}).json()["freshness_s"] == 0,
            10,
            "caught up",
        )


def test_ops_reindex_job_conflict_and_audit(env: Env) -> None:
    with httpx.Client(base_url=env.url, timeout=30) as http:
        assert http.post("/v1/ops/reindex").status_code == 401
        assert http.post("/v1/ops/reindex", headers=env.referee).status_code == 403

        held = Reindexer(env.world.engine, env.client, env.settings.search).begin()  # another process runs one
        try:
            conflict = http.post("/v1/ops/reindex", headers=env.ops)
            assert conflict.status_code == 409 and conflict.headers["content-type"] == "application/problem+json"
        finally:
            held.release()

        accepted = http.post("/v1/ops/reindex", headers=env.ops)
        assert accepted.status_code == 202
        job_url = accepted.headers["location"]
        assert job_url == f"/v1/ops/reindex/{accepted.json()['job_id']}"
        job = wait_for(
            lambda: (j := http.get(job_url, headers=env.ops).json())["state"] == "done" and j, 30, "reindex job done"
        )
        assert job["total"] == 37 and job["done"] == 37 and job["progress"] == 1.0
        assert http.get("/v1/ops/reindex/nope", headers=env.ops).status_code == 404

        audit = http.get("/v1/ops/audit", params={"full": "true"}, headers=env.ops).json()
        assert audit["clean"] and audit["checked"] == 37
        # drift: a document deleted behind the indexer's back is found and repaired
        env.client.delete(index=env.settings.search.alias, id="m-73kg:ono", refresh=True)
        sample = http.get("/v1/ops/audit", params={"sample": 100}, headers=env.ops).json()
        assert sample["missing"] == 1 and sample["drifts"][0]["athlete_id"] == "ono"
        repaired = http.get("/v1/ops/audit", params={"sample": 100, "repair": "true"}, headers=env.ops).json()
        assert repaired["repaired"] == 1
        assert http.get("/v1/ops/audit", params={"full": "true"}, headers=env.ops).json()["clean"]


def test_search_engine_down_is_503_with_retry_after(world: World, tmp_path_factory: pytest.TempPathFactory) -> None:
    engine_proc = OsmemEngine.start(log_dir=tmp_path_factory.mktemp("osmem-api"))
    settings = world.settings(
        engine_proc.url,
        breaker_failure_threshold=2,
        breaker_half_open_after_s=2.0,
        request_timeout_s=2.0,
    )
    world.athletes([("a", "A", "GER")])
    client = make_search_client(settings.search)
    Reindexer(world.engine, client, settings.search).run()
    engine = make_engine(settings.database)
    server = UvicornThread(create_app(settings, engine=engine))
    try:
        with server.running(), httpx.Client(base_url=server.url, timeout=10) as http:
            assert http.get("/v1/rankings", params={"category": "m-73kg"}).status_code == 200
            engine_proc.stop()
            for _ in range(4):  # connection errors, then the open breaker answers at once
                response = http.get("/v1/rankings", params={"category": "m-73kg"})
                assert response.status_code == 503
                assert response.headers["content-type"] == "application/problem+json"
                assert int(response.headers["retry-after"]) >= 1
            assert http.get("/v1/rankings/m-73kg/a").status_code == 503
            engine_proc.restart()  # back, empty: the alias is missing until the indexer rebuilds
            wait_for(
                lambda: (
                    http.get("/v1/rankings", params={"category": "m-73kg"}).status_code == 503
                    and engine_proc.is_running()
                ),
                10,
                "still 503 without an index",
            )
            Reindexer(world.engine, client, settings.search).run()
            wait_for(
                lambda: http.get("/v1/rankings", params={"category": "m-73kg"}).status_code == 200, 15, "reads back"
            )
    finally:
        engine.dispose()
        client.close()
        engine_proc.stop()
