"""The standings bytes the read API serves from its cache are what its served OpenAPI document says.

Against a real PostgreSQL and a real uvicorn server: every cached body — division standings
(fast path and route, caught up and stale), tournament standings, a historical ``as_of_offset``
table and the SSE ``standings`` data — validates against the schema ``/openapi.json`` documents
for its operation, with no undocumented field (``additionalProperties`` closed for the check) and
formats checked. The fast path and the route answer with the same bytes and headers, and the
metrics label fast-path answers with the route template.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import jsonschema_rs
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from services.api.app import create_app
from services.core.db.engine import make_engine
from services.embedded.postgres import EmbeddedPostgres
from services.embedded.waiting import wait_until
from tests.read_api_helpers import (
    StoredResult,
    UvicornThread,
    apply_results,
    bump_version,
    create_database,
    division_bout_list,
    read_api_settings,
    registration_doc,
    report_lag,
    seed_registration,
)

T, D, D2 = "schema-cup", "m-66kg", "w-52kg"
PARTITION = 1
DIVISION_PATH = "/v1/tournaments/{tournament_id}/divisions/{division_id}/standings"
TOURNAMENT_PATH = "/v1/tournaments/{tournament_id}/standings"
STREAM_PATH = DIVISION_PATH + "/stream"


@dataclass
class Served:
    url: str
    engine: Engine

    def standings(self, d: str = D) -> str:
        return f"{self.url}/v1/tournaments/{T}/divisions/{d}/standings"


@pytest.fixture(scope="module")
def served(pg: EmbeddedPostgres) -> Iterator[Served]:
    url = create_database(pg, prefix="readapi_schema")
    settings = read_api_settings(url, sse_heartbeat_s=1.0)
    engine = make_engine(settings.database, pool_size=4)
    seed_registration(engine, registration_doc(T, {D: 4, D2: 3}))
    bouts = division_bout_list(engine, T, D)
    results = [
        StoredResult(
            bouts[0].bout_id, 1, "result", {"winner": "red", "method": "ko", "score": {"red": 2, "blue": 0}}, 11
        ),
        StoredResult(
            bouts[1].bout_id, 1, "result", {"winner": "draw", "method": "draw", "score": {"red": 1, "blue": 1}}, 12
        ),
    ]
    apply_results(engine, T, D, results, partition=PARTITION)
    server = UvicornThread(create_app(settings, engine=engine))
    with server.running():
        yield Served(server.url, engine)
    engine.dispose()


def response_validator(openapi: dict[str, Any], path: str, media_type: str = "application/json") -> Any:
    """The served 200 schema of ``GET path``, with every documented object closed to other fields."""
    schema = openapi["paths"][path]["get"]["responses"]["200"]["content"][media_type]["schema"]
    components = copy.deepcopy(openapi["components"])
    for component in components["schemas"].values():
        if component.get("type") == "object" and "properties" in component:
            component.setdefault("additionalProperties", False)
    return jsonschema_rs.Draft202012Validator({**schema, "components": components}, validate_formats=True)


def assert_valid(validator: Any, body: bytes) -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads(body)
    errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(doc)]
    assert not errors, errors
    return doc


def first_sse_data(url: str) -> bytes:
    async def read() -> bytes:
        async with httpx.AsyncClient(timeout=10) as client, client.stream("GET", url) as resp:
            assert resp.status_code == 200
            event = ""
            async for line in resp.aiter_lines():
                if line.startswith("event: "):
                    event = line.removeprefix("event: ")
                elif line.startswith("data: ") and event == "standings":
                    return line.removeprefix("data: ").encode()
        raise AssertionError("stream ended without a standings event")

    return asyncio.run(asyncio.wait_for(read(), 10))


def test_every_cached_body_validates_against_the_served_openapi(served: Served) -> None:
    with httpx.Client(timeout=5) as client:
        openapi = client.get(f"{served.url}/openapi.json").raise_for_status().json()
        division = response_validator(openapi, DIVISION_PATH)
        tournament = response_validator(openapi, TOURNAMENT_PATH)

        for _ in range(2):  # the miss (rendered by the route), then the cached bytes (fast path)
            doc = assert_valid(division, client.get(served.standings()).raise_for_status().content)
            assert "as_of_offset" not in doc and doc["version"] is not None and doc["rows"]
        routed = client.get(served.standings(), params={"via": "router"}).raise_for_status()
        assert_valid(division, routed.content)

        historical = client.get(served.standings(), params={"as_of_offset": 11}).raise_for_status()
        doc = assert_valid(division, historical.content)
        assert doc["as_of_offset"] == 11 and doc["version"] is None

        doc = assert_valid(tournament, client.get(f"{served.url}/v1/tournaments/{T}/standings").content)
        assert [d["division"]["id"] for d in doc["divisions"]] == [D, D2]

    assert_valid(division, first_sse_data(served.standings() + "/stream"))


def test_stale_bodies_validate_too(served: Served) -> None:
    """While the projector is behind, freshness_s is spliced into the cached bytes: still the schema."""
    report_lag(served.engine, T, D, member_id="schema-m", partition=PARTITION, lag=3)
    try:
        version = bump_version(served.engine, T, D)
        with httpx.Client(timeout=5) as client:
            openapi = client.get(f"{served.url}/openapi.json").json()
            division = response_validator(openapi, DIVISION_PATH)

            def stale() -> bool:
                doc = orjson.loads(client.get(served.standings()).content)
                return bool(doc["version"] == version and doc["freshness_s"] >= 42)

            wait_until(stale, 5, "freshness_s from the lag report")
            assert_valid(division, client.get(served.standings()).content)
            tournament = client.get(f"{served.url}/v1/tournaments/{T}/standings").content
            assert_valid(response_validator(openapi, TOURNAMENT_PATH), tournament)
        assert orjson.loads(first_sse_data(served.standings() + "/stream"))["freshness_s"] >= 42
    finally:
        with Session(served.engine) as session, session.begin():
            session.execute(text("DELETE FROM consumer_members WHERE member_id = 'schema-m'"))


def _count(metrics: str, route: str, status: str) -> float:
    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            labels = sample.labels
            if sample.name.endswith("_count") and labels.get("route") == route and labels.get("status") == status:
                return float(sample.value)
    return 0.0


def test_fast_path_and_route_answer_alike(served: Served) -> None:
    """Same status, bytes and headers, 200 and 304, whether the fast path or FastAPI answers."""
    url = served.standings(D2)
    headers = ("content-type", "content-length", "etag", "cache-control")
    with httpx.Client(timeout=5) as client:
        client.get(url).raise_for_status()  # cached from now on: the fast path answers
        fast, routed = client.get(url), client.get(url, params={"via": "router"})
        assert fast.content == routed.content
        assert [fast.headers.get(h) for h in headers] == [routed.headers.get(h) for h in headers]
        etag = fast.headers["etag"]
        for inm in (etag, f"W/{etag}", f'"nope", {etag}', "*"):
            a = client.get(url, headers={"If-None-Match": inm})
            b = client.get(url, params={"via": "router"}, headers={"If-None-Match": inm})
            assert (a.status_code, b.status_code) == (304, 304), inm
            assert a.content == b.content == b""
            assert a.headers["etag"] == b.headers["etag"] == etag
            assert a.headers["cache-control"] == b.headers["cache-control"] == "no-cache"
        assert client.get(url, headers={"If-None-Match": '"t:d:0"'}).status_code == 200

        before = _count(client.get(f"{served.url}/metrics").text, DIVISION_PATH, "304")
        for _ in range(5):
            assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
        after = _count(client.get(f"{served.url}/metrics").text, DIVISION_PATH, "304")
        assert after - before == 5
