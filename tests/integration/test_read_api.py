"""Read API against a real PostgreSQL and a real uvicorn server (no projector: the helpers write what it
would, then NOTIFY). Every wait has a deadline."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session

from services.api.app import create_app
from services.api.notifications import APPLICATION_NAME
from services.core.db.engine import make_engine
from services.core.settings import Settings
from services.embedded.postgres import EmbeddedPostgres
from services.embedded.waiting import wait_until
from tests.read_api_helpers import (
    StoredResult,
    UvicornThread,
    api_rows,
    apply_results,
    bump_version,
    create_database,
    division_bout_list,
    expected_table,
    read_api_settings,
    registration_doc,
    report_lag,
    seed_registration,
)

T = "read-cup"
D = "m-73kg"
D2 = "w-57kg"
HEARTBEAT_S = 1.0


@dataclass
class QueryLog:
    statements: list[str] = field(default_factory=list)

    def count(self) -> int:
        # The lag monitor's periodic read is expected (once per lag_poll_s, never per request).
        return sum(1 for s in self.statements if "consumer_members" not in s)


@dataclass
class Api:
    url: str
    engine: Engine
    queries: QueryLog
    settings: Settings


@pytest.fixture(scope="module")
def api(pg: EmbeddedPostgres) -> Iterator[Api]:
    url = create_database(pg)
    settings = read_api_settings(url, sse_heartbeat_s=HEARTBEAT_S)
    engine = make_engine(settings.database, pool_size=10)
    seed_registration(engine, registration_doc(T, {D: 6, D2: 4}))
    queries = QueryLog()

    @event.listens_for(engine, "before_cursor_execute")
    def _count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        queries.statements.append(statement)

    server = UvicornThread(create_app(settings, engine=engine))
    with server.running():
        yield Api(server.url, engine, queries, settings)
    engine.dispose()


def standings_url(api: Api, d: str = D) -> str:
    return f"{api.url}/v1/tournaments/{T}/divisions/{d}/standings"


def wait_for_etag_change(client: httpx.Client, url: str, old: str, timeout: float = 5.0) -> httpx.Response:
    holder: dict[str, httpx.Response] = {}

    def changed() -> bool:
        r = client.get(url, headers={"If-None-Match": old})
        holder["r"] = r
        return r.status_code == 200

    wait_until(changed, timeout, "new ETag after NOTIFY")
    return holder["r"]


class _Offsets:
    def __init__(self) -> None:
        self.next = 100

    def take(self) -> int:
        self.next += 1
        return self.next


OFFSETS = _Offsets()


def test_304_without_touching_the_database(api: Api) -> None:
    with httpx.Client(timeout=5) as client:
        first = client.get(standings_url(api))
        assert first.status_code == 200
        etag = first.headers["etag"]
        assert etag == f'"{T}:{D}:{first.json()["version"]}"'
        assert first.headers["cache-control"] == "no-cache"
        assert first.headers["content-type"] == "application/json"

        before = api.queries.count()
        for _ in range(50):
            r = client.get(standings_url(api), headers={"If-None-Match": etag})
            assert r.status_code == 304
            assert r.content == b""
            assert r.headers["etag"] == etag
        # weak and list forms match too (RFC 9110 weak comparison)
        assert client.get(standings_url(api), headers={"If-None-Match": f'"x", W/{etag}'}).status_code == 304
        # a cached 200 does not query either
        again = client.get(standings_url(api))
        assert again.status_code == 200 and again.content == first.content
        assert api.queries.count() == before, api.queries.statements[before:]


def test_etag_changes_after_version_bump_and_notify(api: Api) -> None:
    bouts = division_bout_list(api.engine, T, D)
    with httpx.Client(timeout=5) as client:
        old = client.get(standings_url(api))
        old_etag, old_version = old.headers["etag"], old.json()["version"]
        b = bouts[0]
        payload = {"winner": "red", "method": "ko", "score": {"red": 2, "blue": 0}, "duration_s": 61}
        version = apply_results(api.engine, T, D, [StoredResult(b.bout_id, 1, "result", payload, OFFSETS.take())])
        assert version == old_version + 1
        fresh = wait_for_etag_change(client, standings_url(api), old_etag)
        doc = fresh.json()
        assert doc["version"] == version
        assert fresh.headers["etag"] == f'"{T}:{D}:{version}"'
        winner = next(r for r in doc["rows"] if r["athlete_id"] == b.red)
        assert (winner["rank"], winner["wins"], winner["points"], winner["finishes"]) == (1, 1, 5, 1)
        assert doc["as_of"]["offset"] == OFFSETS.next
        assert doc["freshness_s"] == 0
        # the other division's ETag is untouched
        other = client.get(standings_url(api, D2))
        assert client.get(standings_url(api, D2), headers={"If-None-Match": other.headers["etag"]}).status_code == 304


def test_tournament_standings_etag_covers_every_division(api: Api) -> None:
    url = f"{api.url}/v1/tournaments/{T}/standings"
    with httpx.Client(timeout=5) as client:
        first = client.get(url)
        assert first.status_code == 200
        assert [d["division"]["id"] for d in first.json()["divisions"]] == [D, D2]
        assert client.get(url, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
        bump_version(api.engine, T, D2)
        changed = wait_for_etag_change(client, url, first.headers["etag"])
        versions = {d["division"]["id"]: d["version"] for d in changed.json()["divisions"]}
        assert versions[D2] == next(d["version"] for d in first.json()["divisions"] if d["division"]["id"] == D2) + 1


def test_as_of_offset_reproduces_earlier_tables(api: Api) -> None:
    t, d = T, D2
    bouts = division_bout_list(api.engine, t, d)
    rows: list[StoredResult] = []

    def add(bout: int, revision: int, kind: str, payload: dict[str, Any]) -> None:
        r = StoredResult(bouts[bout].bout_id, revision, kind, payload, OFFSETS.take())
        rows.append(r)
        apply_results(api.engine, t, d, [r], partition=2)

    add(0, 1, "result", {"winner": "red", "method": "points", "score": {"red": 5, "blue": 2}})
    add(1, 1, "result", {"winner": "blue", "method": "submission", "score": {"red": 0, "blue": 3}})
    add(2, 1, "result", {"winner": "draw", "method": "draw", "score": {"red": 1, "blue": 1}})
    add(0, 2, "result", {"winner": "blue", "method": "decision", "score": {"red": 2, "blue": 4}})  # correction
    add(1, 2, "void", {})  # void
    add(3, 1, "result", {"winner": "red", "method": "technical_superiority", "score": {"red": 10, "blue": 1}})
    add(1, 3, "result", {"winner": "red", "method": "fall", "score": {"red": 4, "blue": 0}})  # reinstated

    with httpx.Client(timeout=5) as client:
        for cut in [rows[0].offset - 1, *(r.offset for r in rows)]:
            included = [r for r in rows if r.offset <= cut]
            expected = expected_table(api.engine, t, d, included)
            r = client.get(standings_url(api, d), params={"as_of_offset": cut})
            assert r.status_code == 200
            doc = r.json()
            assert api_rows(doc) == expected, f"as_of_offset={cut}"
            assert doc["version"] is None and doc["as_of_offset"] == cut
            assert doc["as_of"]["offset"] == (included[-1].offset if included else None)
            # not served under the live ETag
            assert not r.headers["etag"].startswith(f'"{t}:{d}:{doc["version"]}')
            assert "@" in r.headers["etag"]
        live = client.get(standings_url(api, d)).json()
        assert api_rows(live) == api_rows(
            client.get(standings_url(api, d), params={"as_of_offset": rows[-1].offset}).json()
        )


# --- SSE ----------------------------------------------------------------------------------------


async def sse_events(response: httpx.Response) -> AsyncIterator[dict[str, str]]:
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line == "":
            if fields:
                yield fields
            fields = {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        fields[name] = fields.get(name, "") + value.removeprefix(" ")


async def next_event(events: AsyncIterator[dict[str, str]], kind: str, within_s: float) -> dict[str, str]:
    async with asyncio.timeout(within_s):
        async for ev in events:
            if ev.get("event") == kind:
                return ev
    raise AssertionError("stream ended")


def test_sse_pushes_changes_and_resumes_with_last_event_id(api: Api) -> None:
    url = f"{standings_url(api)}/stream"
    bouts = division_bout_list(api.engine, T, D)

    async def scenario() -> None:
        async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=10)) as client:
            async with client.stream("GET", url) as resp:
                assert resp.status_code == 200
                assert resp.headers["content-type"].startswith("text/event-stream")
                events = sse_events(resp)
                first = await next_event(events, "standings", 5)
                v0 = int(first["id"])
                assert orjson.loads(first["data"])["version"] == v0
                payload = {"winner": "blue", "method": "points", "score": {"red": 1, "blue": 3}}
                v1 = await asyncio.to_thread(
                    apply_results,
                    api.engine,
                    T,
                    D,
                    [StoredResult(bouts[1].bout_id, 1, "result", payload, OFFSETS.take())],
                )
                pushed = await next_event(events, "standings", 5)
                assert int(pushed["id"]) == v1 == v0 + 1
                doc = orjson.loads(pushed["data"])
                assert doc["version"] == v1
                assert next(r for r in doc["rows"] if r["athlete_id"] == bouts[1].blue)["wins"] >= 1
                ping = await next_event(events, "ping", HEARTBEAT_S * 3)
                assert orjson.loads(ping["data"]) == {"version": v1, "freshness_s": 0}

            # resume at the current version: nothing until the next change
            async with client.stream("GET", url, headers={"Last-Event-ID": str(v1)}) as resp:
                events = sse_events(resp)
                ping = await next_event(events, "ping", HEARTBEAT_S * 3)  # a heartbeat comes before any data
                assert orjson.loads(ping["data"])["version"] == v1
                v2 = await asyncio.to_thread(bump_version, api.engine, T, D)
                pushed = await next_event(events, "standings", 5)
                assert int(pushed["id"]) == v2

            # resume from an older id: the current table at once
            async with client.stream("GET", url, headers={"Last-Event-ID": str(v0)}) as resp:
                started = time.monotonic()
                pushed = await next_event(sse_events(resp), "standings", 5)
                assert int(pushed["id"]) == v2
                assert time.monotonic() - started < HEARTBEAT_S

    asyncio.run(scenario())


def test_500_concurrent_subscribers_each_get_exactly_one_update_per_change(api: Api) -> None:
    subscribers, changes = 500, 3
    path = f"/v1/tournaments/{T}/divisions/{D}/standings/stream"
    port = int(api.url.rsplit(":", 1)[1])
    frame = re.compile(rb"id: (\d+)\nevent: standings\ndata: ")

    async def scenario() -> dict[str, float]:
        seen: list[list[int]] = [[] for _ in range(subscribers)]
        writers: list[asyncio.StreamWriter] = []
        progress = asyncio.Condition()

        async def subscriber(i: int) -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writers.append(writer)
            writer.write(f"GET {path} HTTP/1.1\r\nHost: test\r\nAccept: text/event-stream\r\n\r\n".encode())
            buf = b""
            while True:
                chunk = await reader.read(65536)
                if not chunk:
                    return
                buf += chunk
                found = [int(m) for m in frame.findall(buf)]
                if found != seen[i]:
                    seen[i] = found
                    async with progress:
                        progress.notify_all()

        async def all_have(version: int, within_s: float) -> float:
            started = time.monotonic()
            async with asyncio.timeout(within_s), progress:
                await progress.wait_for(lambda: all(s and s[-1] == version for s in seen))
            return time.monotonic() - started

        tasks = [asyncio.create_task(subscriber(i)) for i in range(subscribers)]
        try:
            async with httpx.AsyncClient() as client:
                v0 = (await client.get(api.url + path.removesuffix("/stream"))).json()["version"]
            await all_have(v0, 30)
            fanout: list[float] = []
            versions = [v0]
            for _ in range(changes):
                version = await asyncio.to_thread(bump_version, api.engine, T, D)
                fanout.append(await all_have(version, 10))
                versions.append(version)
            for i, s in enumerate(seen):
                assert s == versions, f"subscriber {i} saw {s}, expected {versions}"
            return {"fanout_max_s": max(fanout)}
        finally:
            for task in tasks:
                task.cancel()
            for w in writers:
                w.close()
            await asyncio.gather(*tasks, return_exceptions=True)

    stats = asyncio.run(scenario())
    print(f"500 subscribers: slowest change fan-out {stats['fanout_max_s'] * 1000:.0f} ms")
    assert stats["fanout_max_s"] < 5

    def all_unsubscribed() -> bool:
        metrics = httpx.get(f"{api.url}/metrics", timeout=5).text
        return "standings_sse_subscribers 0.0" in metrics

    wait_until(all_unsubscribed, 10, "SSE subscriber gauge back to 0")


def test_freshness_reports_projector_lag(api: Api) -> None:
    """A projector member reporting lag on the division's partition makes freshness_s > 0 (and part of the ETag)."""
    with httpx.Client(timeout=5) as client:
        doc = client.get(standings_url(api)).json()
        partition = doc["as_of"]["partition"]
        assert partition is not None
        report_lag(api.engine, T, D, member_id="m1", partition=partition, lag=7)
        version = bump_version(api.engine, T, D)

        def lagging() -> bool:
            r = client.get(standings_url(api))
            return r.json()["version"] == version and r.json()["freshness_s"] >= 42

        wait_until(lagging, 5, "freshness_s from the lag report")
        r = client.get(standings_url(api))
        assert re.fullmatch(rf'"{T}:{D}:{version}:s\d+"', r.headers["etag"])
        with Session(api.engine) as session, session.begin():
            session.execute(text("UPDATE consumer_members SET lag = '{}' WHERE member_id = 'm1'"))

        def caught_up() -> bool:
            return client.get(standings_url(api)).json()["freshness_s"] == 0

        wait_until(caught_up, 5, "freshness back to 0")
        assert client.get(standings_url(api)).headers["etag"] == f'"{T}:{D}:{version}"'
        with Session(api.engine) as session, session.begin():
            session.execute(text("DELETE FROM consumer_members WHERE member_id = 'm1'"))


def test_listen_reconnect_drops_the_cache(api: Api) -> None:
    """A change whose notification was missed shows up once LISTEN reconnects (everything cached is dropped)."""
    with httpx.Client(timeout=5) as client:
        before = client.get(standings_url(api, D2))
        with Session(api.engine) as session, session.begin():
            missed = session.execute(
                text(
                    "UPDATE divisions SET version = version + 1 WHERE tournament_id = :t AND division_id = :d "
                    "RETURNING version"
                ),
                {"t": T, "d": D2},
            ).scalar_one()  # no NOTIFY: as if it was sent while the connection was down
        assert client.get(standings_url(api, D2), headers={"If-None-Match": before.headers["etag"]}).status_code == 304
        with Session(api.engine) as session, session.begin():
            killed = session.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = :name AND datname = current_database()"
                ),
                {"name": APPLICATION_NAME},
            ).scalar_one()
        assert killed == 1

        def current() -> bool:
            return client.get(standings_url(api, D2)).json()["version"] == missed

        wait_until(current, 10, "the missed version after LISTEN reconnected")

        def ready() -> bool:
            return client.get(f"{api.url}/readyz").status_code == 200

        wait_until(ready, 10, "readyz after reconnect")


# --- problems -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"/v1/tournaments/{T}/divisions/nope/standings", 404),
        ("/v1/tournaments/nope/standings", 404),
        ("/v1/tournaments/nope", 404),
        (f"/v1/tournaments/{T}/divisions/nope/conflicts", 404),
        (f"/v1/tournaments/{T}/divisions/nope/standings/stream", 404),
        (f"/v1/tournaments/{T}/divisions/nope/standings?as_of_offset=3", 404),
        (f"/v1/tournaments/{T}/divisions/{D}/standings?as_of_offset=-1", 422),
        (f"/v1/tournaments/{T}/divisions/{D}/standings?as_of_offset=abc", 422),
        ("/v1/tournaments/BAD%20SLUG/divisions/x/standings", 422),
        ("/v1/nothing-here", 404),
    ],
)
def test_problem_json(api: Api, path: str, status: int) -> None:
    r = httpx.get(api.url + path, timeout=5)
    assert r.status_code == status
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"].startswith("https://")
    if status == 422 and "as_of_offset" in path:
        assert body["errors"][0]["loc"] == ["query", "as_of_offset"]


def test_tournament_endpoints_conflicts_pages_and_health(api: Api) -> None:
    with httpx.Client(base_url=api.url, timeout=5) as client:
        assert T in [t["tournament_id"] for t in client.get("/v1/tournaments").json()["tournaments"]]
        t = client.get(f"/v1/tournaments/{T}").json()
        assert [d["division_id"] for d in t["divisions"]] == [D, D2]
        assert t["divisions"][0]["links"]["overlay"] == f"/overlay/{T}/{D}"
        assert client.get(f"/v1/tournaments/{T}/divisions/{D}/conflicts").json()["conflicts"] == []
        page = client.get(f"/t/{T}")
        assert page.status_code == 200 and f'href="/overlay/{T}/{D}"' in page.text
        overlay = client.get(f"/overlay/{T}/{D}")
        assert overlay.status_code == 200 and '"division_id":"m-73kg"' in overlay.text
        assert client.get("/static/overlay.js").status_code == 200
        assert client.get("/livez").json() == {"status": "ok", "checks": {}}
        assert client.get("/readyz").json()["checks"] == {"postgres": "ok", "listen": "ok"}
        assert "standings_read_renders_total" in client.get("/metrics").text
        spec = client.get("/openapi.json").json()
        for path, ops in spec["paths"].items():
            for method, op in ops.items():
                assert op.get("summary"), f"{method} {path} has no summary"
                assert any(code.startswith("2") for code in op["responses"]), f"{method} {path}"


def test_cli_import_reaches_cached_bodies_etags_and_sse_within_a_second(api: Api, tmp_path: Any) -> None:
    """`standings import` (another process, no API call) renames an athlete and changes a club, the
    division's name and the tournament's name: the cached body, its ETag and the SSE stream follow
    within a second of the command's exit, through the import transaction's NOTIFY."""
    url = standings_url(api, D2)
    doc = registration_doc(T, {D: 6, D2: 4})
    first = doc["athletes"][0]
    renamed = next(a for a in doc["athletes"] if a["athlete_id"].startswith(f"{T}-{D2}-"))
    renamed.update(full_name="Renamed Ñandú 改名", club="Club Nuevo")
    doc["tournaments"][0]["name"] = "Cup renamed"
    next(d for d in doc["tournaments"][0]["divisions"] if d["division_id"] == D2)["name"] = "Women −57 kg (renamed)"
    assert first["athlete_id"] != renamed["athlete_id"]
    path = tmp_path / "registration.json"
    path.write_bytes(orjson.dumps(doc))
    env = {
        **os.environ,
        "STANDINGS_DATABASE__URL": api.settings.database.url.get_secret_value(),
        "STANDINGS_LOG_JSON": "false",
    }

    async def scenario() -> None:
        async with httpx.AsyncClient(timeout=httpx.Timeout(10, read=10)) as client:
            warm = await client.get(url)
            assert warm.status_code == 200
            old_etag = warm.headers["etag"]
            assert "Renamed" not in warm.text
            async with client.stream("GET", f"{url}/stream") as resp:
                events = sse_events(resp)
                await next_event(events, "standings", 5)
                done = await asyncio.to_thread(
                    subprocess.run,
                    [sys.executable, "-m", "services.cli.main", "import", str(path)],
                    env=env,
                    capture_output=True,
                    timeout=60,
                )
                assert done.returncode == 0, done.stderr.decode()
                exited = time.monotonic()
                pushed = await next_event(events, "standings", 1.0)
                body = orjson.loads(pushed["data"])
            row = next(r for r in body["rows"] if r["athlete_id"] == renamed["athlete_id"])
            assert (row["name"], row["club"]) == ("Renamed Ñandú 改名", "Club Nuevo")
            assert body["division"]["name"] == "Women −57 kg (renamed)"
            assert body["tournament"]["name"] == "Cup renamed"
            fresh = await client.get(url, headers={"If-None-Match": old_etag})
            assert fresh.status_code == 200 and fresh.headers["etag"] != old_etag
            assert time.monotonic() - exited < 1.0
            assert "Renamed Ñandú 改名" in fresh.text

    asyncio.run(scenario())
