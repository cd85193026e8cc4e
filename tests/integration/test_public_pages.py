"""The public pages' server-rendered HTML over HTTP (uvicorn + the real app, PostgreSQL, the osmem
search engine): the tournament page with a round-robin, an elimination and a pools_then_elimination
division; the rankings page answering its GET form; problems for bad input; hostile names as text.

Expected tables come from the pure domain (tests/read_api_helpers.expected_table), expected ranking
hits from the seeded placings (tests/public_pages_seed.py), never from the page code."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

import httpx
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from services.api.app import create_app
from services.core.db.engine import make_engine
from services.core.search.client import make_search_client
from services.core.settings import ApiSettings, ProjectorSettings
from services.embedded.postgres import EmbeddedPostgres
from services.embedded.search_engine import OsmemEngine
from services.indexer.loop import RankingsIndexer
from services.rankings import rerank
from tests import public_pages_seed as seed
from tests.bracket_read_helpers import payload, record
from tests.rankings_support import drain_indexer, drop_indices, rankings_settings, wait_for
from tests.read_api_helpers import StoredResult, UvicornThread, create_database, expected_table


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]
    text: str = ""


@dataclass
class Page(HTMLParser):
    """Every element with its attributes and its own text (enough to read a page like a browser would)."""

    elements: list[Element] = field(default_factory=list)
    _open: list[Element] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs))
        self.elements.append(element)
        if tag not in ("meta", "link", "input", "br", "img"):
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            if self._open.pop().tag == tag:
                break

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.text += data

    def having(self, attr: str, value: str | None = None) -> list[Element]:
        return [e for e in self.elements if attr in e.attrs and (value is None or e.attrs[attr] == value)]

    def cells(self, row: Element) -> list[str]:
        """The texts of a table row's cells."""
        out: list[str] = []
        for e in self.elements[self.elements.index(row) + 1 :]:
            if e.tag == "tr":
                break
            if e.tag == "td":
                out.append(e.text.strip())
        return out

    def classed(self, cls: str) -> list[Element]:
        return [e for e in self.elements if cls in (e.attrs.get("class") or "").split()]


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    return page


@dataclass
class Site:
    url: str
    engine: Engine
    fought: list[StoredResult]
    indexer: RankingsIndexer


@pytest.fixture(scope="module")
def served(pg: EmbeddedPostgres, search: OsmemEngine) -> Iterator[Site]:
    url = create_database(pg, "public_pages")
    settings = rankings_settings(url, search.url).model_copy(
        update={
            "api": ApiSettings(sse_heartbeat_s=1.0, lag_poll_s=0.2, projector_heartbeat_stale_s=30),
            "projector": ProjectorSettings(group_id="standings-projector"),
        }
    )
    engine = make_engine(settings.database)
    fought = seed.seed_tournament(engine)
    seed.seed_rankings(engine)
    client = make_search_client(settings.search)
    indexer = RankingsIndexer(settings, engine, client, today=lambda: seed.TODAY)
    indexer.check_alias(force=True)
    drain_indexer(indexer)
    try:
        with UvicornThread(create_app(settings, engine=engine)).running() as server:
            yield Site(server.url, engine, fought, indexer)
    finally:
        drop_indices(client, settings.search.alias)
        client.close()
        engine.dispose()


@pytest.fixture
def site(served: Site) -> str:
    return served.url


def _problem(resp: httpx.Response, status: int) -> dict[str, object]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = resp.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def test_unknown_tournament_or_division_is_a_404_problem_and_a_bad_slug_a_422(site: str) -> None:
    with httpx.Client(base_url=site, timeout=10) as http:
        assert "no-such-cup" in str(_problem(http.get("/t/no-such-cup"), 404)["detail"])
        _problem(http.get(f"/t/{seed.T}/divisions/no-such-division/section"), 404)
        _problem(http.get("/t/Not%20A%20Slug"), 422)


def test_tournament_page_renders_every_division_inline(served: Site) -> None:
    resp = httpx.get(f"{served.url}/t/{seed.T}", timeout=10)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    page = parse(resp.text)
    assert page.elements[0].tag == "html" and page.elements[0].attrs["lang"] == "en"
    sections = {e.attrs["data-division-id"]: e for e in page.having("data-division-id") if e.tag == "section"}
    assert list(sections) == [seed.RR, seed.EL, seed.PT]

    # round robin: the rows in the order and with the figures the pure domain gives
    table = expected_table(served.engine, seed.T, seed.RR, served.fought)
    rows = [
        e for e in page.having("data-athlete-id") if e.tag == "tr" and str(e.attrs["data-athlete-id"]).startswith("rr-")
    ]
    assert [r.attrs["data-athlete-id"] for r in rows] == [row.athlete_id for row in table]
    names = {a: (n, c) for a, n, c in seed.ATHLETES}
    for row, want in zip(rows, table, strict=True):
        rank, name, country, *figures = page.cells(row)
        assert rank.split()[0] == ("=" if want.tie_unresolved else "") + str(want.rank)
        assert (name, country) == names[want.athlete_id]
        assert figures == [str(want.wins), str(want.losses), str(want.draws), str(want.points)]
    assert [str(want.wins) for want in table] != ["0"] * len(table)  # the fought bouts show

    # the bracket: r1-b1 corrected (blue, seed 8, won at revision 2), the semifinal fought before it re-fights
    bouts = {e.attrs["data-bout-id"]: e for e in page.having("data-bout-id")}
    assert bouts[f"{seed.EL}-r1-b1"].attrs["data-status"] == "decided"
    winners = [e.text for e in page.classed("slot-winner")]
    assert any("Bernd Fasching" in w for w in winners) and not any("Nagase Takanori" in w for w in winners)
    semi = bouts[f"{seed.EL}-r2-b1"]
    assert semi.attrs["data-status"] == "invalidated" and "Needs a re-fight" in semi.text
    # pools_then_elimination: the pools first, the bracket waits for them
    pt = sections[seed.PT].text
    assert pt.index("Pool A") < pt.index("Pool B") < pt.index("The bracket is drawn once every pool bout is decided")
    # overlays kept, folded away
    assert page.having("href", f"/overlay/{seed.T}/{seed.EL}/bracket")


def test_division_section_fragment_carries_its_version_and_revalidates(site: str) -> None:
    with httpx.Client(base_url=site, timeout=10) as http:
        version = http.get(f"/v1/tournaments/{seed.T}/divisions/{seed.EL}/bracket").json()["version"]
        resp = http.get(f"/t/{seed.T}/divisions/{seed.EL}/section")
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
        content = parse(resp.text).classed("division-content")
        assert [c.attrs["data-version"] for c in content] == [str(version)]
        again = http.get(f"/t/{seed.T}/divisions/{seed.EL}/section", headers={"If-None-Match": resp.headers["etag"]})
        assert again.status_code == 304 and again.content == b""


def _hits(text: str) -> list[str]:
    return [str(e.attrs["data-athlete-id"]) for e in parse(text).classed("ranking")]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "jose"}, {"jose-a", "jose-s"}),  # accent folding; "Joseph" is another word
        ({"q": "JOSÉ"}, {"jose-a", "jose-s"}),
        ({"q": "jose", "category": "m-90kg"}, {"jose-s"}),
        ({"q": "jose", "country": "esp"}, {"jose-a"}),
        ({"q": "", "category": "", "country": "ESP"}, {"jose-a", "andres-p"}),  # empty fields: no filter
        ({"category": "m-73kg"}, {"jose-a", "zoe-m", "joseph-b", "hostile"}),
        ({"q": "muller lukasz"}, {"zoe-m"}),
        ({"q": "nobody"}, set()),
    ],
)
def test_rankings_page_renders_results_server_side(site: str, params: dict[str, str], expected: set[str]) -> None:
    with httpx.Client(base_url=site, timeout=10) as http:
        page = http.get("/rankings", params=params)
        assert page.status_code == 200, page.text
        assert set(_hits(page.text)) == expected
        fragment = http.get("/rankings/results", params=params)
        assert fragment.status_code == 200 and set(_hits(fragment.text)) == expected
    parsed = parse(page.text)
    assert [e.attrs.get("value") for e in parsed.having("id", "q")] == [params.get("q") or ""]
    freshness = parsed.classed("freshness")
    assert len(freshness) == 1 and freshness[0].attrs["data-state"] == "fresh"
    assert "Ranking index up to date" in freshness[0].text


def test_rankings_page_without_a_query_offers_the_index_choices(site: str) -> None:
    page = parse(httpx.get(f"{site}/rankings", timeout=10).text)
    assert _hits_of(page) == []
    options = {e.attrs["value"] for e in page.elements if e.tag == "option"}
    assert {"", "m-73kg", "m-90kg", "ESP", "BRA", "FRA", "DEU", "JPN", "USA"} == options
    labels = {e.attrs["for"] for e in page.elements if e.tag == "label"}
    assert labels == {"q", "category", "country"}
    assert page.classed("freshness")


def _hits_of(page: Page) -> list[str]:
    return [str(e.attrs["data-athlete-id"]) for e in page.classed("ranking")]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"country": "ES1"}, "country"),
        ({"country": "ESPN"}, "country"),
        ({"category": "bad category"}, "category"),
        ({"category": "x" * 65}, "category"),
        ({"q": "x" * 101}, "q"),
        ({"after": "x" * 513}, "after"),
    ],
)
def test_rankings_bad_query_values_are_422_problems(site: str, params: dict[str, str], field: str) -> None:
    for path in ("/rankings", "/rankings/results"):
        body = _problem(httpx.get(f"{site}{path}", params=params, timeout=10), 422)
        assert [e["loc"] for e in body["errors"]] == [["query", field]]  # type: ignore[attr-defined]


def test_rankings_cursor_not_from_the_page_is_a_400_problem(site: str) -> None:
    _problem(httpx.get(f"{site}/rankings", params={"q": "jose", "after": "not-a-cursor"}, timeout=10), 400)


def test_hostile_names_and_queries_are_shown_as_text(site: str) -> None:
    hostile_escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    with httpx.Client(base_url=site, timeout=10) as http:
        for text in (
            http.get(f"/t/{seed.T}").text,
            http.get(f"/t/{seed.T}/divisions/{seed.RR}/section").text,
            http.get("/rankings", params={"country": "FRA"}).text,
            http.get("/rankings", params={"q": "<script>alert(1)</script>"}).text,
        ):
            assert seed.HOSTILE not in text and hostile_escaped in text
            scripts = [e.attrs.get("src") for e in parse(text).elements if e.tag == "script"]
            assert scripts in ([], ["/static/tournament.js"], ["/static/rankings.js"]), scripts
        names = [e.text for e in parse(http.get("/rankings", params={"country": "FRA"}).text).classed("name")]
        assert names == [seed.HOSTILE]  # shown as its text, exactly


def test_rankings_page_shows_the_index_behind_then_caught_up(served: Site) -> None:
    """A ranking change committed but not yet indexed: the page says how far behind, then up to date."""
    with Session(served.engine) as session, session.begin():
        assert rerank.touch_athletes(session, ["jose-a"]) == 1

    def state() -> tuple[str, str]:
        freshness = parse(httpx.get(f"{served.url}/rankings", params={"q": "jose"}, timeout=10).text).classed(
            "freshness"
        )
        return str(freshness[0].attrs["data-state"]), freshness[0].text

    def in_state(want: str) -> tuple[str, str] | None:
        now = state()
        return now if now[0] == want else None

    behind = wait_for(lambda: in_state("behind"), 10, "the pending change on the page")
    assert " s behind the latest results" in behind[1] and "complete up to" in behind[1]
    drain_indexer(served.indexer)
    fresh = wait_for(lambda: in_state("fresh"), 10, "caught up on the page")
    assert fresh[1].startswith("Ranking index up to date")


def test_pools_then_elimination_shows_the_pools_then_the_bracket_they_drew(served: Site) -> None:
    """Every pool bout won by red (the first-listed athlete): pool A ranks pt-1, pt-2, pt-3 and pool B
    pt-4, pt-5, pt-6; two advance from each, pool winners in opposite halves (SPEC §7). Runs last: it
    completes the module's pools."""
    d = seed.PT
    pool_bouts = [f"{seed.T}-{d}-{pool}-{i:03d}" for pool in "AB" for i in (1, 2, 3)]
    record(served.engine, seed.T, d, [(b, 1, "result", payload("red")) for b in pool_bouts], 900)
    page = parse(httpx.get(f"{served.url}/t/{seed.T}", timeout=10).text)
    section = next(e for e in page.having("data-division-id", d) if e.tag == "section").text
    assert section.index("Pool A complete") < section.index("Pool B complete") < section.index("Semifinals")
    assert "The bracket is drawn once" not in section
    semis = [e for e in page.having("data-bout-id") if str(e.attrs["data-bout-id"]).startswith(f"{d}-r1-")]
    drawn = [{a for a in ("pt-1", "pt-2", "pt-4", "pt-5") if _name(a) in semi.text} for semi in semis]
    assert len(drawn) == 2 and set().union(*drawn) == {"pt-1", "pt-2", "pt-4", "pt-5"}
    assert all(len(pair) == 2 and {"pt-1", "pt-4"} != pair for pair in drawn)  # the pool winners apart
    assert all(_name(a) not in " ".join(s.text for s in semis) for a in ("pt-3", "pt-6"))


def _name(athlete_id: str) -> str:
    return next(n for a, n, _ in seed.ATHLETES if a == athlete_id)
