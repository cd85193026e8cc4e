"""The bracket endpoint against a real PostgreSQL and a real uvicorn server (SPEC §7).

Bracket divisions are seeded as registration and the projector leave them (tests/bracket_read_helpers.py):
every body validates against the served OpenAPI schema with no undocumented field; results fill
the bracket in, a correction upstream invalidates a fought bout downstream; ETag/304 without the
database, ``as_of_offset`` reproduces an earlier bracket, SSE pushes a version bump, errors are
problem+json, and a pools_then_elimination division shows its pools, then its drawn bracket.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import Engine, event

from services.api.app import create_app
from services.core.db.engine import make_engine
from services.embedded.postgres import EmbeddedPostgres
from services.embedded.waiting import wait_until
from tests.bracket_read_helpers import division_athletes, payload, pool_bouts, record, seed_bracket_division, win
from tests.bracket_support import bracket_description
from tests.integration.test_read_api import QueryLog, next_event, sse_events, wait_for_etag_change
from tests.integration.test_read_api_openapi import assert_valid, response_validator
from tests.read_api_helpers import (
    UvicornThread,
    bump_version,
    create_database,
    read_api_settings,
    registration_doc,
    seed_registration,
)

T, RR = "bracket-cup", "m-73kg"
BRACKET_PATH = "/v1/tournaments/{tournament_id}/divisions/{division_id}/bracket"
HEARTBEAT_S = 0.5
_divisions = itertools.count(1)
_offsets = itertools.count(1000, 10)


@dataclass
class Served:
    url: str
    engine: Engine
    queries: QueryLog
    athletes: list[str]

    def bracket_url(self, d: str) -> str:
        return f"{self.url}/v1/tournaments/{T}/divisions/{d}/bracket"


@pytest.fixture(scope="module")
def served(pg: EmbeddedPostgres) -> Iterator[Served]:
    url = create_database(pg, prefix="bracket_read")
    settings = read_api_settings(url, sse_heartbeat_s=HEARTBEAT_S)
    engine = make_engine(settings.database, pool_size=4)
    seed_registration(engine, registration_doc(T, {RR: 8}))
    queries = QueryLog()

    @event.listens_for(engine, "before_cursor_execute")
    def _count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        queries.statements.append(statement)

    with UvicornThread(create_app(settings, engine=engine)).running() as server:
        yield Served(server.url, engine, queries, division_athletes(engine, T, RR))
    engine.dispose()


@pytest.fixture(scope="module")
def validator(served: Served) -> Any:
    openapi = httpx.get(f"{served.url}/openapi.json", timeout=5).raise_for_status().json()
    return response_validator(openapi, BRACKET_PATH)


def elimination(served: Served, repechage: str = "judo") -> str:
    """A new 8-athlete elimination division (seeds in athlete order); returns its id."""
    d = f"e{next(_divisions)}-81kg"
    doc = {
        "format": "elimination",
        "repechage": repechage,
        "third_place": "bronze_bout",
        "advance": 2,
        "seeds": served.athletes,
        "draw": None,
        "pools": None,
    }
    seed_bracket_division(served.engine, T, d, served.athletes, doc)
    return d


def get(client: httpx.Client, served: Served, d: str, validator: Any, **params: Any) -> dict[str, Any]:
    return assert_valid(validator, client.get(served.bracket_url(d), params=params).raise_for_status().content)


def at_version(client: httpx.Client, served: Served, d: str, validator: Any, version: int) -> dict[str, Any]:
    """The live bracket once the API has heard of ``version`` (the cache follows NOTIFY, asynchronously)."""
    holder: dict[str, dict[str, Any]] = {}

    def arrived() -> bool:
        holder["doc"] = get(client, served, d, validator)
        return bool(holder["doc"]["version"] >= version)

    wait_until(arrived, 5, f"bracket version {version}")
    return holder["doc"]


def bout(doc: dict[str, Any], bout_id: str) -> dict[str, Any]:
    return next(b for b in doc["bouts"] if b["bout_id"] == bout_id)


def test_results_fill_the_bracket_in(served: Served, validator: Any) -> None:
    d = elimination(served)
    a = served.athletes
    with httpx.Client(timeout=5) as client:
        doc = get(client, served, d, validator)
        assert doc["format"] == {
            "format": "elimination",
            "repechage": "judo",
            "third_place": "bronze_bout",
            "advance": None,
        }
        assert doc["size"] == 8 and doc["complete"] is False and doc["pools"] is None
        assert [b["bout_id"] for b in doc["bouts"][:4]] == [f"{d}-r1-b{i}" for i in range(1, 5)]
        first = bout(doc, f"{d}-r1-b1")
        assert first["status"] == "open" and first["red"]["athlete"]["athlete_id"] == a[0]  # seed 1 v seed 8
        assert first["blue"]["athlete"]["athlete_id"] == a[7] and first["red"]["athlete"]["name"] == "Ōno Shōhei"
        semi = bout(doc, f"{d}-r2-b1")
        assert semi["status"] == "waiting" and semi["red"]["waiting_for"] == f"the winner of {d}-r1-b1"
        assert doc["current_bout_id"] == f"{d}-r1-b1"
        assert {b["phase"] for b in doc["bouts"]} == {"main", "final", "repechage", "bronze"}
        assert len(doc["placings"]) == 8 and not any(p["decided"] for p in doc["placings"])

        version = win(served.engine, T, d, f"{d}-r1-b1", "blue", next(_offsets))
        doc = at_version(client, served, d, validator, version)
        decided = bout(doc, f"{d}-r1-b1")
        assert decided["status"] == "decided" and decided["winner_athlete_id"] == a[7]
        assert decided["result"] == {"revision": 1, "method": "ko", "score": {"red": 0, "blue": 5}}
        assert bout(doc, f"{d}-r2-b1")["red"]["athlete"]["athlete_id"] == a[7]
        assert doc["current_bout_id"] == f"{d}-r1-b2"


def test_a_correction_upstream_invalidates_the_fought_bout_downstream(served: Served, validator: Any) -> None:
    d = elimination(served, repechage="none")
    with httpx.Client(timeout=5) as client:
        for b in (1, 2):
            win(served.engine, T, d, f"{d}-r1-b{b}", "red", next(_offsets))
        version = win(served.engine, T, d, f"{d}-r2-b1", "red", next(_offsets))
        before = at_version(client, served, d, validator, version)
        assert bout(before, f"{d}-r2-b1")["status"] == "decided"

        version = win(served.engine, T, d, f"{d}-r1-b1", "blue", next(_offsets), revision=2)  # the correction
        doc = at_version(client, served, d, validator, version)
        semi = bout(doc, f"{d}-r2-b1")
        assert semi["status"] == "invalidated" and semi["invalidated"] is True
        assert semi["invalidated_revision"] == 1 and semi["result"] is None and semi["winner_athlete_id"] is None
        assert doc["invalidated_bouts"] == 1
        assert bout(doc, f"{d}-final")["red"]["waiting_for"] == f"the winner of {d}-r2-b1"
        assert doc["current_bout_id"] == f"{d}-r1-b3"  # the first bout still to fight in mat order


def test_etag_304_without_the_database_and_a_new_etag_after_a_change(served: Served) -> None:
    d = elimination(served)
    url = served.bracket_url(d)
    with httpx.Client(timeout=5) as client:
        first = client.get(url)
        etag = first.headers["etag"]
        assert etag == f'"{T}:{d}:bracket:{first.json()["version"]}"'
        assert first.headers["cache-control"] == "no-cache" and first.headers["content-type"] == "application/json"
        before = served.queries.count()
        for inm in (etag, f"W/{etag}", f'"x", {etag}'):
            r = client.get(url, headers={"If-None-Match": inm})
            assert r.status_code == 304 and r.content == b"" and r.headers["etag"] == etag
        assert client.get(url).content == first.content
        assert served.queries.count() == before, served.queries.statements[-5:]

        version = win(served.engine, T, d, f"{d}-r1-b1", "red", next(_offsets))
        changed = wait_for_etag_change(client, url, etag)
        assert changed.headers["etag"] == f'"{T}:{d}:bracket:{version}"'


def test_as_of_offset_reproduces_an_earlier_bracket(served: Served, validator: Any) -> None:
    d = elimination(served, repechage="wrestling")
    first_offset = next(_offsets)
    with httpx.Client(timeout=5) as client:
        version = win(served.engine, T, d, f"{d}-r1-b1", "red", first_offset)
        earlier = at_version(client, served, d, validator, version)
        win(served.engine, T, d, f"{d}-r1-b1", "blue", next(_offsets), revision=2)
        version = win(served.engine, T, d, f"{d}-r1-b2", "blue", next(_offsets))
        r = client.get(served.bracket_url(d), params={"as_of_offset": first_offset})
        historical = assert_valid(validator, r.raise_for_status().content)
        assert historical["version"] is None and historical["as_of_offset"] == first_offset
        assert historical["as_of"]["offset"] == first_offset
        assert r.headers["etag"].startswith(f'"{T}:{d}:bracket:@{first_offset}:')
        assert historical["bouts"] == earlier["bouts"] and historical["placings"] == earlier["placings"]
        assert (
            client.get(
                served.bracket_url(d),
                params={"as_of_offset": first_offset},
                headers={"If-None-Match": r.headers["etag"]},
            ).status_code
            == 304
        )
        before_any = client.get(served.bracket_url(d), params={"as_of_offset": 0}).json()
        assert all(b["status"] in ("open", "waiting", "bye") for b in before_any["bouts"])
        live = at_version(client, served, d, validator, version)
        everything = get(client, served, d, validator, as_of_offset=2**63 - 1)
        assert (everything["bouts"], everything["placings"]) == (live["bouts"], live["placings"])


def test_sse_pushes_the_bracket_on_a_version_bump(served: Served, validator: Any) -> None:
    d = elimination(served)
    url = served.bracket_url(d) + "/stream"

    async def scenario() -> None:
        async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=10)) as client:
            async with client.stream("GET", url) as resp:
                assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
                events = sse_events(resp)
                first = await next_event(events, "bracket", 5)
                v0 = int(first["id"])
                assert_valid(validator, first["data"].encode())
                v1 = await asyncio.to_thread(win, served.engine, T, d, f"{d}-r1-b3", "blue", next(_offsets))
                pushed = await next_event(events, "bracket", 5)
                assert int(pushed["id"]) == v1 > v0
                doc = assert_valid(validator, pushed["data"].encode())
                assert bout(doc, f"{d}-r1-b3")["status"] == "decided"
                ping = await next_event(events, "ping", HEARTBEAT_S * 4)
                assert orjson.loads(ping["data"]) == {"version": v1, "freshness_s": 0}
                v2 = await asyncio.to_thread(bump_version, served.engine, T, d)
                assert int((await next_event(events, "bracket", 5))["id"]) == v2
            async with client.stream("GET", url, headers={"Last-Event-ID": str(v2)}) as resp:
                assert (await next_event(sse_events(resp), "ping", HEARTBEAT_S * 4))["data"]

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("path", "status", "detail"),
    [
        (f"/v1/tournaments/{T}/divisions/nope/bracket", 404, "does not exist"),
        ("/v1/tournaments/nope/divisions/x/bracket", 404, "does not exist"),
        (f"/v1/tournaments/{T}/divisions/nope/bracket/stream", 404, "does not exist"),
        (f"/v1/tournaments/{T}/divisions/nope/bracket?as_of_offset=3", 404, "does not exist"),
        (f"/v1/tournaments/{T}/divisions/{RR}/bracket", 409, "round robin"),
        (f"/v1/tournaments/{T}/divisions/{RR}/bracket?as_of_offset=3", 409, "round robin"),
        (f"/v1/tournaments/{T}/divisions/{RR}/bracket/stream", 409, "round robin"),
        (f"/v1/tournaments/{T}/divisions/{RR}/bracket?as_of_offset=-1", 422, ""),
        (f"/v1/tournaments/{T}/divisions/{RR}/bracket?as_of_offset=9223372036854775808", 422, ""),
        (f"/v1/tournaments/{T}/divisions/{RR}/bracket?as_of_offset=abc", 422, ""),
        ("/v1/tournaments/BAD%20SLUG/divisions/x/bracket", 422, ""),
    ],
)
def test_problem_json(served: Served, path: str, status: int, detail: str) -> None:
    r = httpx.get(served.url + path, timeout=5)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and body["title"] and detail in body["detail"]


def test_pools_stage_then_the_bracket_drawn_from_the_pools(served: Served, validator: Any) -> None:
    d = f"p{next(_divisions)}-90kg"
    a = served.athletes
    doc = bracket_description("pools_then_elimination", pools=[a[:4], a[4:]])
    pools = doc["pools"]
    seed_bracket_division(served.engine, T, d, a, doc)
    with httpx.Client(timeout=5) as client:
        body = get(client, served, d, validator)
        assert body["format"]["advance"] == 2 and body["size"] == 4
        assert [(p["pool_id"], p["complete"], len(p["rows"])) for p in body["pools"]] == [
            ("A", False, 4),
            ("B", False, 4),
        ]
        assert all(b["status"] == "waiting" and b["red"]["waiting_for"] for b in body["bouts"])
        assert body["current_bout_id"] is None and not any(p["decided"] for p in body["placings"])

        # Every pool bout: the lower athlete id wins, so a[0], a[1] and a[4], a[5] leave their pools.
        fixed = [(f"{d}-{b}", 1, "result", payload("red")) for b, _, _ in pool_bouts(pools)]
        version = record(served.engine, T, d, fixed, next(_offsets))
        body = at_version(client, served, d, validator, version)
        assert [p["complete"] for p in body["pools"]] == [True, True]
        assert [r["athlete_id"] for r in body["pools"][0]["rows"]] == a[:4]
        first = bout(body, f"{d}-r1-b1")
        assert (first["red"]["athlete"]["athlete_id"], first["blue"]["athlete"]["athlete_id"]) == (a[0], a[5])
        assert body["current_bout_id"] == f"{d}-r1-b1"
        stages = {p["athlete"]["athlete_id"]: (p["stage"], p["place"]) for p in body["placings"]}
        assert stages[a[2]] == ("pool", 5) and stages[a[0]][0] == "bracket"


def test_tournament_page_shows_each_division_inline(served: Served) -> None:
    d = elimination(served)
    win(served.engine, T, d, f"{d}-r1-b1", "red", next(_offsets))
    with httpx.Client(base_url=served.url, timeout=5) as client:
        page = client.get(f"/t/{T}")
        assert page.status_code == 200
        assert f'data-bout-id="{d}-r1-b1"' in page.text and f'href="/overlay/{T}/{d}/bracket"' in page.text
        assert '<table class="standings">' in page.text  # the round-robin division: its table
        overlay = client.get(f"/overlay/{T}/{d}/bracket")
        assert overlay.status_code == 200 and f'"division_id":"{d}"' in overlay.text
        assert client.get(f"/overlay/{T}/{RR}/bracket").status_code == 409
        assert client.get(f"/overlay/{T}/nope/bracket").status_code == 404
        summary = {x["division_id"]: x for x in client.get(f"/v1/tournaments/{T}").json()["divisions"]}
        assert summary[d]["format"] == "elimination" and summary[d]["links"]["bracket"].endswith(f"/{d}/bracket")
        assert summary[RR]["format"] == "round_robin" and summary[RR]["links"]["bracket"] is None
