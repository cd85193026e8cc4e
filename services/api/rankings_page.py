"""The public rankings page: a GET form the server answers with results (works without JavaScript),
enhanced by ``static/rankings.js`` into search-as-you-type over ``/rankings/results`` (the same
results as an HTML fragment).

Results come through the ranking search API's own read path (services/api/rankings_routes.py:
the search index behind the ``rankings`` alias, accent-folded names, the read breaker, the
index's freshness from the outbox). The category and country choices are the index's own values
(a terms aggregation), kept for a minute per process.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import HTMLResponse

from services.api.page_rankings import Facets, SearchForm, rankings_html, results_html
from services.api.rankings_routes import RankingsReader, index_freshness, search_page
from services.api.schemas import problems
from services.core.errors import BadRequest
from services.core.search.queries import InvalidCursor, decode_cursor

PAGE_SIZE = 25
FACETS_TTL_S = 60.0
FACET_SIZE = 500

router = APIRouter(tags=["pages"])

# Empty values are what a GET form sends for an untouched field: they mean "no filter".
QueryText = Annotated[str, Query(max_length=100, description="Words of the athlete's name (accents optional)")]
CategoryParam = Annotated[
    str, Query(max_length=64, pattern=r"^([A-Za-z0-9][A-Za-z0-9_.+-]*)?$", description="Weight category")
]
CountryParam = Annotated[str, Query(pattern=r"^([A-Za-z]{3})?$", description="ISO 3166-1 alpha-3")]
AfterParam = Annotated[str, Query(max_length=512, description="Cursor of the next results (from the page)")]


# alias -> (taken, facets): one process may serve several aliases (tests, a reindex's new alias).
_facet_cache: dict[str, tuple[float, Facets]] = {}


def _reader(request: Request) -> RankingsReader:
    reader: RankingsReader = request.app.state.rankings
    return reader


async def _facets(reader: RankingsReader) -> Facets:
    now = time.monotonic()
    cached = _facet_cache.get(reader.alias)
    if cached is not None and now - cached[0] < FACETS_TTL_S:
        return cached[1]
    aggs = {
        "category": {"terms": {"field": "category", "size": FACET_SIZE}},
        "country": {"terms": {"field": "country", "size": FACET_SIZE}},
    }
    response = await reader.guarded(lambda: reader.client.search(index=reader.alias, size=0, aggs=aggs))
    buckets = response.body.get("aggregations", {})
    facets = Facets(
        categories=sorted(str(b["key"]) for b in buckets.get("category", {}).get("buckets", [])),
        countries=sorted(str(b["key"]) for b in buckets.get("country", {}).get("buckets", [])),
    )
    _facet_cache[reader.alias] = (now, facets)
    return facets


async def _results(reader: RankingsReader, form: SearchForm) -> str:
    if not form.any():
        return results_html(form, None, await index_freshness(reader))
    try:
        after = decode_cursor(form.after) if form.after else None
    except InvalidCursor as exc:
        raise BadRequest(str(exc)) from None
    page, freshness = await search_page(
        reader, category=form.category, country=form.country, q=form.q, size=PAGE_SIZE, after=after
    )
    return results_html(form, page, freshness)


def _form(
    q: QueryText = "", category: CategoryParam = "", country: CountryParam = "", after: AfterParam = ""
) -> SearchForm:
    """The form's query parameters (a dependency of both routes)."""
    return SearchForm(
        q=q.strip() or None, category=category or None, country=country.upper() or None, after=after or None
    )


FormDep = Annotated[SearchForm, Depends(_form)]


_HTML_200: dict[int | str, dict[str, Any]] = {200: {"content": {"text/html": {}}, "description": "HTML"}}


@router.get(
    "/rankings",
    response_class=HTMLResponse,
    summary="Public rankings page: search by name, filter by category and country",
    description="A GET form answered server-side (no JavaScript needed): `q` (name words, accent-insensitive: "
    "'jose' finds 'José'), `category`, `country` (alpha-3), `after` (the cursor of the 'more results' link). "
    "Empty values mean no filter. Shows how far the ranking index is behind the results (freshness).",
    responses={**_HTML_200, **problems(400, 422, 503)},
)
async def rankings(request: Request, form: FormDep) -> HTMLResponse:
    reader = _reader(request)
    results = await _results(reader, form)
    return HTMLResponse(rankings_html(form, await _facets(reader), results), headers={"cache-control": "no-cache"})


@router.get(
    "/rankings/results",
    response_class=HTMLResponse,
    summary="The rankings page's results (HTML fragment, for search-as-you-type)",
    responses={**_HTML_200, **problems(400, 422, 503)},
)
async def rankings_results(request: Request, form: FormDep) -> HTMLResponse:
    html = await _results(_reader(request), form)
    return HTMLResponse(html, headers={"cache-control": "no-cache"})
