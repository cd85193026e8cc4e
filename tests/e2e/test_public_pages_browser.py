"""The public pages in a real headless Chromium on the whole pipeline (admin import → HTTP intake →
Kafka → projector → PostgreSQL → read API; finalize → awards → rankings indexer → search engine).

- the tournament page (a round-robin and an elimination division) and the rankings page at 390x844
  (a phone) and 1440x900: screenshots in tests/artifacts/public-pages/, no horizontal page scroll,
  axe-core (tests/vendor/axe-core) finds no serious or critical violation;
- a result posted through the intake appears on the open tournament page without a reload, over SSE
  and, with EventSource removed from the page, by ETag polling;
- the rankings page: typing "jose" finds "José …" (accent folding in the search engine), the category
  and country filters narrow the list, the index's freshness is shown;
- keyboard: Tab from the top reaches the skip link, then the search field, focus visibly drawn.

Expected figures are worked out here from the rules (SPEC §3, §4), not read back from the pages' code.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from services.api.app import create_app
from services.embedded.waiting import wait_until
from tests.cdp import Chromium, Page
from tests.e2e.pipeline import Pipeline
from tests.e2e.ranked_stack import Stack, drain, finalize, import_file
from tests.projector_support import unique
from tests.read_api_helpers import UvicornThread

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "public-pages"
AXE = Path(__file__).resolve().parents[1] / "vendor" / "axe-core" / "axe.min.js"
WIDTHS = [(390, 844, True), (1440, 900, False)]
NO_EVENTSOURCE = "Object.defineProperty(window, 'EventSource', {value: undefined, configurable: true});"


@dataclass
class World:
    """The imported file's ids; athletes ``{prefix}-{key}``."""

    prefix: str
    live: str
    rr: str
    el: str
    ranked: str
    c73: str
    c90: str
    api: str = ""  # the read API reading the stack's rankings alias
    pre_rr: str = ""  # the round-robin bout fought before the tests
    settings: Any = None  # the read API's settings
    many: str = ""  # a tournament of six divisions: more than the page streams

    def a(self, key: str) -> str:
        return f"{self.prefix}-{key}"


RANKED_73 = [("jose-a", "José Álvarez", "ESP"), ("zoe", "Zoë Müller-Łukasz", "DEU"),
             ("joseph", "Joseph Baker", "USA"), ("andres", "Andrés Pérez", "ESP")]  # fmt: skip
RANKED_90 = [("jose-s", "José Silva", "BRA"), ("ono", "Ōno Shōhei", "JPN"), ("hans", "Hans Muller", "AUT")]
LIVE_RR = [("rr1", "Lasha Shavdatuashvili", "GEO"), ("rr2", "안창림", "KOR"), ("rr3", "محمد الشهري", "SAU"),
           ("rr4", "Guillaume Chaîne", "FRA")]  # fmt: skip
LIVE_EL = [("el1", "Nagase Takanori", "JPN"), ("el2", "ლუკა მაისურაძე", "GEO"), ("el3", "Alpha Oumar Djalo", "FRA"),
           ("el4", "סאגי מוקי", "ISR"), ("el5", "이준환", "KOR"), ("el6", "Matthias Casse", "BEL"),
           ("el7", "Αλέξιος Ντανάτσιδης", "GRC"), ("el8", "أنس بوعزة", "MAR")]  # fmt: skip


def _file(w: World) -> bytes:
    end = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2)
    everyone = RANKED_73 + RANKED_90 + LIVE_RR + LIVE_EL
    rr = {"formats": ["round_robin"], "bouts": "round_robin"}
    doc: dict[str, Any] = {
        "athletes": [{"athlete_id": w.a(k), "full_name": n, "country": c} for k, n, c in everyone],
        "tournaments": [
            {
                "tournament_id": w.ranked, "name": "Ranked Worlds", "tier": "world",
                "start_date": (end - dt.timedelta(days=1)).isoformat(), "end_date": end.isoformat(),
                "divisions": [
                    {"division_id": f"{w.prefix}-d73", "name": "Men −73 kg", "category": w.c73,
                     "athletes": [w.a(k) for k, _, _ in RANKED_73], **rr},
                    {"division_id": f"{w.prefix}-d90", "name": "Men −90 kg", "category": w.c90,
                     "athletes": [w.a(k) for k, _, _ in RANKED_90], **rr},
                ],
            },
            {
                "tournament_id": w.live, "name": "Grand Prix · Live", "tier": "continental", "status": "live",
                "start_date": dt.datetime.now(dt.UTC).date().isoformat(),
                "end_date": (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)).isoformat(),
                "divisions": [
                    {"division_id": w.rr, "name": "Men −66 kg", "category": f"{w.prefix}-m-66kg",
                     "athletes": [w.a(k) for k, _, _ in LIVE_RR], **rr},
                    {"division_id": w.el, "name": "Men −81 kg", "category": f"{w.prefix}-m-81kg",
                     "format": "elimination", "repechage": "judo", "seeds": [w.a(k) for k, _, _ in LIVE_EL], "mat": 2},
                ],
            },
        ],
    }  # fmt: skip
    pairs = [[w.a(k) for k, _, _ in (LIVE_RR + LIVE_EL)[i : i + 2]] for i in range(0, 12, 2)]
    doc["tournaments"].append(
        {
            "tournament_id": w.many, "name": "Six Mats Open", "tier": "open", "status": "live",
            "start_date": dt.datetime.now(dt.UTC).date().isoformat(), "end_date": dt.datetime.now(dt.UTC).date().isoformat(),
            "divisions": [
                {"division_id": f"{w.many}-k{i + 1}", "name": f"Kata {i + 1}", "category": f"{w.prefix}-kata-{i + 1}",
                 "athletes": pair, **rr}
                for i, pair in enumerate(pairs)
            ],
        }
    )  # fmt: skip
    return json.dumps(doc).encode()


def _bouts(p: Pipeline, t: str, d: str) -> list[tuple[str, str | None, str | None]]:
    with p.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT bout_id, red_athlete_id, blue_athlete_id FROM bouts "
                "WHERE tournament_id = :t AND division_id = :d ORDER BY mat, bout_order, bout_id"
            ),
            {"t": t, "d": d},
        )
        return [(b, r, bl) for b, r, bl in rows]


def _register(p: Pipeline, t: str, d: str) -> list[tuple[str, str | None, str | None]]:
    bouts = _bouts(p, t, d)
    p.registration.bouts.extend({"bout_id": b, "tournament_id": t, "division_id": d} for b, _, _ in bouts)
    return bouts


def _post(p: Pipeline, bout_id: str, winner: str, score: tuple[int, int] = (3, 1)) -> None:
    body = {"revision": 1, "winner": winner, "method": "points", "score": {"red": score[0], "blue": score[1]}}
    resp = p.post_result(bout_id, body, token=p.tokens["admin"])
    assert resp.status_code == 202, resp.text


@pytest.fixture(scope="module")
def world(tansu_stack: Stack) -> Iterator[World]:
    p = tansu_stack.p
    prefix = unique("pp").replace("_", "-")
    w = World(prefix, f"{prefix}-gp", f"{prefix}-m66", f"{prefix}-m81", f"{prefix}-worlds",
              f"{prefix}-m-73kg", f"{prefix}-m-90kg")  # fmt: skip
    w.many = f"{prefix}-six"
    resp = import_file(p, _file(w))
    assert resp.status_code == 200, resp.text
    # The ranked tournament: red wins every bout; then finalized, its awards indexed.
    for d in (f"{prefix}-d73", f"{prefix}-d90"):
        for bout_id, _, _ in _register(p, w.ranked, d):
            _post(p, bout_id, "red")
    p.wait_applied()
    finalize(p, w.ranked)
    p.wait_applied()
    drain(tansu_stack.indexer)
    # The live tournament, part fought: one round-robin bout away from the first (the tests post
    # that one and another), three first-round bracket bouts won by the upper seed.
    rr = _register(p, w.live, w.rr)
    first = {rr[0][1], rr[0][2]}
    w.pre_rr = next(b for b, red, blue in rr if not first & {red, blue})
    _post(p, w.pre_rr, "red", (5, 0))
    for i in range(6):
        _register(p, w.many, f"{w.many}-k{i + 1}")
    el = _register(p, w.live, w.el)
    for bout_id, _, _ in el:
        if bout_id.endswith(("-r1-b2", "-r1-b3", "-r1-b4")):
            _post(p, bout_id, "red", (5, 0))
    p.wait_applied()
    # The pages are read from an API whose search alias is the stack indexer's.
    # A heartbeat a second and STALE after 3 s: a dropped connection shows within seconds.
    search = p.settings.search.model_copy(update={"alias": tansu_stack.alias})
    api_settings = p.settings.api.model_copy(update={"sse_heartbeat_s": 1.0, "stale_after_s": 3.0})
    settings = p.settings.model_copy(update={"search": search, "api": api_settings})
    w.settings = settings
    with UvicornThread(create_app(settings)).running() as api:
        w.api = api.url
        yield w


async def _axe(page: Page) -> list[dict[str, Any]]:
    source = await asyncio.to_thread(AXE.read_text, encoding="utf-8")
    await page.call("Runtime.evaluate", within_s=30, expression=source)
    result = await page.call(
        "Runtime.evaluate",
        within_s=60,
        awaitPromise=True,
        returnByValue=True,
        expression="axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => ({"
        "id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))})))",
    )
    assert "exceptionDetails" not in result, result
    violations: list[dict[str, Any]] = result["result"]["value"]
    return violations


async def _check_layout_and_axe(page: Page, name: str, width: int, height: int) -> None:
    await page.screenshot_full(ARTIFACTS / f"{name}-{width}x{height}.png")
    scroll = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll[0] <= scroll[1], f"{name} at {width}px scrolls sideways: {scroll}"
    violations = await _axe(page)
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not bad, f"{name} at {width}px: axe violations\n" + json.dumps(violations, ensure_ascii=False, indent=1)


async def _open(page: Page, url: str, width: int, height: int, mobile: bool, ready: str) -> None:
    await page.set_viewport(width, height, mobile=mobile)
    await page.navigate(url)
    loaded = f"location.href === {json.dumps(url)} && document.readyState === 'complete'"
    await page.wait_for(loaded, 15, f"{url} loaded")
    await page.wait_for(ready, 15, f"{url} ready")


def row_cells(athlete_id: str) -> str:
    return f"Array.from(document.querySelector('tr[data-athlete-id=\"{athlete_id}\"]')?.cells ?? []).map(c => c.textContent.trim())"


def test_tournament_page_renders_live_on_phone_and_desktop(chromium: Chromium, world: World) -> None:
    url = f"{world.api}/t/{world.live}"
    ready = "document.body.dataset.transport === 'sse' && document.getElementById('live').dataset.state === 'live'"

    async def scenario() -> None:
        for width, height, mobile in WIDTHS:
            async with chromium.page() as page:
                await _open(page, url, width, height, mobile, ready)
                assert await page.evaluate("document.documentElement.lang") == "en"
                sections = await page.evaluate(
                    "Array.from(document.querySelectorAll('section.division')).map(s => s.dataset.format)"
                )
                assert sections == ["round_robin", "elimination"]
                assert await page.evaluate("document.querySelectorAll('.bout').length") == 11  # 8-draw, judo
                await _check_layout_and_axe(page, "tournament", width, height)

    asyncio.run(scenario())


def test_a_posted_result_appears_without_reload_over_sse_and_by_polling(
    chromium: Chromium, world: World, tansu_stack: Stack
) -> None:
    p = tansu_stack.p
    rr_bouts = _bouts(p, world.live, world.rr)
    el_first = next(b for b in _bouts(p, world.live, world.el) if b[0].endswith("-r1-b1"))
    url = f"{world.api}/t/{world.live}"

    async def scenario() -> None:
        async with chromium.page() as page:
            await _open(page, url, 1440, 900, False, "document.body.dataset.transport === 'sse'")
            await page.evaluate("window.__notReloaded = true")
            bout_id, red, blue = rr_bouts[0]
            assert red and blue
            await asyncio.to_thread(_post, p, bout_id, "red", (3, 1))
            # points win 3:1 with the loser scoring: 3 classification points to the winner, 1 to the loser (§3)
            await page.wait_for(
                f'JSON.stringify({row_cells(red)}.slice(3)) === \'["1","0","0","3"]\'', 15, "the winner's row over SSE"
            )
            assert (await page.evaluate(row_cells(blue)))[3:] == ["0", "1", "0", "1"]
            # rank 2: level on wins with the earlier ko winner (5 points), behind on points (§3 order)
            assert (await page.evaluate(row_cells(red)))[0].split()[0] == "2"
            # the bracket: the seed-1 athlete (red of r1-b1) wins, shown as the winner of the bout
            await asyncio.to_thread(_post, p, el_first[0], "red", (5, 0))
            winner = f"document.querySelector('.bout[data-bout-id=\"{el_first[0]}\"] .slot-winner')?.textContent ?? ''"
            await page.wait_for(f"({winner}).includes('Nagase Takanori')", 15, "the bracket winner over SSE")
            assert await page.evaluate("window.__notReloaded === true")
            assert await page.evaluate("document.body.dataset.transport") == "sse"

        async with chromium.page() as page:
            await page.add_init_script(NO_EVENTSOURCE)
            await _open(page, url, 390, 844, True, "document.body.dataset.transport === 'poll'")
            assert await page.evaluate("typeof window.EventSource") == "undefined"
            await page.wait_for("document.getElementById('live').dataset.state === 'live'", 10, "polling live")
            await page.evaluate("window.__notReloaded = true")
            bout_id, red, blue = next(b for b in rr_bouts[1:] if b[0] != world.pre_rr)
            before = (await page.evaluate(row_cells(str(blue))))[3:]
            await asyncio.to_thread(_post, p, bout_id, "blue", (0, 4))
            # blue wins 4:0 on points, the loser scored nothing: 3 points to blue, 0 to red (§3)
            wins, losses, draws, points = (int(x) for x in before)
            expected = json.dumps([str(wins + 1), str(losses), str(draws), str(points + 3)], separators=(",", ":"))
            await page.wait_for(
                f"JSON.stringify({row_cells(str(blue))}.slice(3)) === '{expected}'", 15, "the row by polling"
            )
            assert await page.evaluate("window.__notReloaded === true")
            assert await page.evaluate("document.body.dataset.transport") == "poll"
            await page.screenshot_full(ARTIFACTS / "tournament-polling-390x844.png")

    asyncio.run(scenario())


def _unfought(p: Pipeline, t: str, d: str) -> tuple[str, str | None, str | None]:
    with p.engine.connect() as conn:
        fought = set(conn.execute(sa.text("SELECT bout_id FROM results")).scalars())
    return next(b for b in _bouts(p, t, d) if b[0] not in fought)


def test_the_live_indicator_tells_a_lost_server_and_recovers(
    chromium: Chromium, world: World, tansu_stack: Stack
) -> None:
    """The read API goes away (its streams end, reconnects are refused) and comes back on the same port."""
    p = tansu_stack.p
    state = "document.getElementById('live').dataset.state"
    text = "document.getElementById('live').textContent"
    server = UvicornThread(create_app(world.settings))
    server.start()

    async def scenario() -> None:
        nonlocal server
        async with chromium.page() as page:
            await _open(page, f"{server.url}/t/{world.live}", 1440, 900, False, f"{state} === 'live'")
            await asyncio.to_thread(server.stop)
            await page.wait_for(f"['reconnecting', 'offline'].includes({state})", 15, "the indicator leaves 'live'")
            assert (await page.evaluate(text)).startswith(("Reconnecting", "Connection lost")), await page.evaluate(
                text
            )
            await page.wait_for(f"{state} === 'offline'", 20, "the connection reported lost")
            server = UvicornThread(create_app(world.settings), port=server.port)
            await asyncio.to_thread(server.start)
            await page.wait_for(f"{state} === 'live'", 30, "live again")
            # and live for real: a result posted now arrives
            bout_id, red, _ = _unfought(p, world.live, world.rr)
            before = await page.evaluate(f"{row_cells(str(red))}[3]")
            await asyncio.to_thread(_post, p, bout_id, "red", (2, 0))
            await page.wait_for(f"{row_cells(str(red))}[3] === '{int(before) + 1}'", 15, "a win after recovery")

    try:
        asyncio.run(scenario())
    finally:
        server.stop()


def test_six_divisions_stream_four_and_poll_two(chromium: Chromium, world: World, tansu_stack: Stack) -> None:
    """Browsers keep about six connections per host: the page streams the first four divisions and polls
    the others; a result in the last (polled) division appears all the same."""
    p = tansu_stack.p
    last = f"{world.many}-k6"
    bout_id, red, _ = _bouts(p, world.many, last)[0]

    async def scenario() -> None:
        async with chromium.page() as page:
            ready = "document.getElementById('live').dataset.state === 'live'"
            await _open(page, f"{world.api}/t/{world.many}", 390, 844, True, ready)
            assert await page.evaluate("document.body.dataset.transport") == "mixed"
            assert await page.evaluate("document.querySelectorAll('section.division').length") == 6
            await asyncio.to_thread(_post, p, bout_id, "red", (5, 0))
            await page.wait_for(f"{row_cells(str(red))}[3] === '1'", 15, "the polled division's win")
            assert await page.evaluate("document.body.dataset.transport") == "mixed"

    asyncio.run(scenario())


def _names(selector: str = ".ranking .name") -> str:
    return f"Array.from(document.querySelectorAll('{selector}')).map(n => n.textContent)"


async def _choose(page: Page, select: str, value: str) -> None:
    await page.evaluate(
        f"(() => {{ const s = document.getElementById('{select}'); s.value = '{value}';"
        " s.dispatchEvent(new Event('input', {bubbles: true})); s.dispatchEvent(new Event('change', {bubbles: true})); })()"
    )


def test_rankings_search_folds_accents_filters_and_shows_freshness(
    chromium: Chromium, world: World, tansu_stack: Stack
) -> None:
    # Every ranking change shipped (the live tournament's provisional points too): the index is up to date.
    tansu_stack.p.wait_applied()
    drain(tansu_stack.indexer)
    wait_until(
        lambda: httpx.get(f"{world.api}/v1/rankings", params={"q": "jose"}, timeout=10).json()["freshness_s"] == 0,
        10,
        "the rankings index caught up",
    )

    async def scenario() -> None:
        async with chromium.page() as page:
            await _open(page, f"{world.api}/rankings", 1440, 900, False, "document.readyState === 'complete'")
            await page.evaluate("document.getElementById('q').focus()")
            await page.type_text("jose")
            both = "JSON.stringify({0}.sort()) === JSON.stringify(['José Silva', 'José Álvarez'].sort())"
            await page.wait_for(both.format(_names()), 10, "'jose' finds both Josés (search as you type)")
            assert "q=jose" in await page.evaluate("location.search")
            await _choose(page, "category", world.c90)
            await page.wait_for(f"JSON.stringify({_names()}) === '[\"José Silva\"]'", 10, "the category narrows")
            await _choose(page, "category", "")
            await _choose(page, "country", "ESP")
            await page.wait_for(f"JSON.stringify({_names()}) === '[\"José Álvarez\"]'", 10, "the country narrows")
            freshness = await page.evaluate("document.querySelector('.freshness').textContent")
            assert freshness.startswith("Ranking index up to date · checked"), freshness
            # the same search answered by the server alone (the form's GET), e.g. with JavaScript off
            await page.navigate(f"{world.api}/rankings?q=jose&category=&country=ESP")
            await page.wait_for("document.readyState === 'complete'", 10, "server-rendered results")
            assert await page.evaluate(_names()) == ["José Álvarez"]

        for width, height, mobile in WIDTHS:
            async with chromium.page() as page:
                await _open(
                    page, f"{world.api}/rankings?q=jose", width, height, mobile, "document.readyState === 'complete'"
                )
                assert sorted(await page.evaluate(_names())) == ["José Silva", "José Álvarez"]
                await _check_layout_and_axe(page, "rankings", width, height)

    asyncio.run(scenario())


def test_keyboard_reaches_the_skip_link_then_the_search_field(chromium: Chromium, world: World) -> None:
    focused = "[document.activeElement.className, document.activeElement.id]"
    outline = "getComputedStyle(document.activeElement).outlineStyle + ' ' + getComputedStyle(document.activeElement).outlineWidth"

    async def scenario() -> None:
        async with chromium.page() as page:
            await _open(page, f"{world.api}/rankings", 390, 844, True, "document.readyState === 'complete'")
            await page.press_key("Tab", "Tab", 9)
            assert await page.evaluate(focused) == ["skip-link", ""]
            assert await page.evaluate("document.activeElement.getBoundingClientRect().top") >= 0  # shown when focused
            assert await page.evaluate(outline) == "solid 3px"
            await page.press_key("Tab", "Tab", 9)
            assert await page.evaluate(focused) == ["", "q"]
            assert await page.evaluate(outline) == "solid 3px"
        async with chromium.page() as page:
            await _open(page, f"{world.api}/t/{world.live}", 390, 844, True, "document.readyState === 'complete'")
            await page.press_key("Tab", "Tab", 9)
            assert await page.evaluate(focused) == ["skip-link", ""]
            # following the skip link, the next Tab lands in the page's content, past the site header's link
            await page.press_key("Enter", "Enter", 13, text="\r")
            await page.wait_for("location.hash === '#main'", 5, "the skip link followed")
            await page.press_key("Tab", "Tab", 9)
            in_main = "document.getElementById('main').contains(document.activeElement)"
            assert await page.evaluate(in_main), await page.evaluate("document.activeElement.outerHTML")
            assert await page.evaluate(outline) == "solid 3px"

    asyncio.run(scenario())


def test_the_accessibility_check_reports_what_it_should(chromium: Chromium) -> None:
    """The axe harness is live: an image without a text alternative is a critical violation."""

    async def scenario() -> None:
        async with chromium.page() as page:
            await page.navigate(
                "data:text/html,<!doctype html><html lang=en><title>t</title><main><img src=x.png></main>"
            )
            await page.wait_for("document.readyState === 'complete' && !!document.querySelector('img')", 10, "loaded")
            found = {v["id"]: v["impact"] for v in await _axe(page)}
            assert found.get("image-alt") == "critical", found

    asyncio.run(scenario())


def test_pages_are_plain_files_of_the_app(world: World) -> None:
    """No CDN, no build step: every stylesheet and script the pages load is a file of the app."""
    with httpx.Client(base_url=world.api, timeout=10) as http:
        for path in (f"/t/{world.live}", "/rankings"):
            text = http.get(path).text
            assert "http://" not in text.split("<body")[0] and "https://" not in text.split("<body")[0]
        for asset in ("/static/public.css", "/static/tournament.js", "/static/rankings.js"):
            assert http.get(asset).status_code == 200
