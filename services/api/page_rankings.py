"""The rankings page's HTML: the search form (its choices from the index) and the results with the
index's freshness. Everything from the index or the query string is escaped."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import iso3166

from services.api.page_bracket import esc
from services.api.page_tournament import template

if TYPE_CHECKING:
    from services.api.rankings_routes import FreshnessSnapshot


@dataclass(frozen=True, slots=True)
class SearchForm:
    q: str | None = None
    category: str | None = None
    country: str | None = None
    after: str | None = None

    def any(self) -> bool:
        return bool(self.q or self.category or self.country)

    def query(self, **extra: str) -> str:
        params = {"q": self.q, "category": self.category, "country": self.country, **extra}
        return urlencode({k: v for k, v in params.items() if v})


@dataclass(frozen=True, slots=True)
class Facets:
    categories: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)


def country_name(code: str) -> str:
    country = iso3166.countries_by_alpha3.get(code.upper())
    return country.name if country is not None else code


def _options(values: list[str], selected: str | None, everything: str, label: Any = None) -> str:
    if selected and selected not in values:
        values = [selected, *values]
    opts = [f'<option value="">{esc(everything)}</option>']
    for v in values:
        text = label(v) if label else v
        opts.append(f'<option value="{esc(v)}"{" selected" if v == selected else ""}>{esc(text)}</option>')
    return "".join(opts)


def _points(value: Any) -> str:
    return f"{float(value or 0):g}"


def freshness_html(freshness: FreshnessSnapshot) -> str:
    as_of = freshness.as_of.astimezone(dt.UTC)
    when = f'<time datetime="{esc(as_of.isoformat())}">{as_of:%d %b %Y, %H:%M:%S} UTC</time>'
    if freshness.freshness_s > 0:
        state, text = (
            "behind",
            f"Ranking index {freshness.freshness_s:.0f} s behind the latest results · complete up to {when}",
        )
    else:
        state, text = "fresh", f"Ranking index up to date · checked {when}"
    return (
        f'<p class="freshness" data-state="{state}" data-freshness-s="{freshness.freshness_s:.3f}">'
        f'<span class="dot" aria-hidden="true"></span><span>{text}</span></p>'
    )


def _item(item: dict[str, Any]) -> str:
    rank = item.get("rank")
    rank_html = (
        f'<span class="rank" title="Rank in {esc(item["category"])}">{int(rank)}</span>'
        if rank
        else ('<span class="rank rank-none" title="Provisional points only">–</span>')
    )
    provisional = float(item.get("provisional_points") or 0)
    prov_html = f'<span class="prov">+{_points(provisional)} provisional</span>' if provisional else ""
    awards = int(item.get("awards") or 0)
    return (
        f'<li class="ranking" data-athlete-id="{esc(item["athlete_id"])}" data-category="{esc(item["category"])}" '
        f'data-country="{esc(item["country"])}">{rank_html}'
        f'<span class="who"><span class="name" dir="auto">{esc(item["name"])}</span>'
        f'<span class="sub"><abbr title="{esc(country_name(item["country"]))}">{esc(item["country"])}</abbr>'
        f" · {esc(item['category'])}</span></span>"
        f'<span class="pts"><span><strong>{_points(item.get("points"))}</strong> pts</span>'
        f'<span class="sub">{awards} award{"s" if awards != 1 else ""} · best {_points(item.get("best_award"))}</span>'
        f"{prov_html}</span></li>"
    )


def _count(form: SearchForm, total: int) -> str:
    what = f"{total} athlete{'s' if total != 1 else ''}" if total else "No athletes"
    filters = []
    if form.q:
        filters.append(f"named “{esc(form.q)}”")
    if form.category:
        filters.append(f"in {esc(form.category)}")
    if form.country:
        filters.append(f"from {esc(country_name(form.country))}")
    return f'<p class="count" role="status">{what} {" ".join(filters)}</p>'


def results_html(form: SearchForm, page: dict[str, Any] | None, freshness: FreshnessSnapshot) -> str:
    """The results block (also the fragment search-as-you-type swaps in)."""
    if page is None:
        body = '<p class="count" role="status">Type a name, or choose a weight category or a country.</p>'
    else:
        items = "".join(_item(i) for i in page["items"])
        body = _count(form, int(page["total"])) + (f'<ol class="ranking-list">{items}</ol>' if items else "")
        if page.get("next"):
            body += (
                f'<p class="pager"><a rel="next" href="/rankings?{esc(form.query(after=page["next"]))}">'
                "More results</a></p>"
            )
    return f'<div id="results" class="results">{freshness_html(freshness)}{body}</div>'


def rankings_html(form: SearchForm, facets: Facets, results: str) -> str:
    json_query = form.query() or "category="
    return template("rankings.html").format(
        q=esc(form.q or ""),
        category_options=_options(facets.categories, form.category, "All categories"),
        country_options=_options(facets.countries, form.country, "All countries", lambda c: f"{c} · {country_name(c)}"),
        results=results,
        json_link=esc(f"/v1/rankings?{json_query}"),
    )
