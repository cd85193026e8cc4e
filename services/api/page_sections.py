"""The public tournament page's inline section per division: its bracket (bracket divisions) or
its standings (round robin), from the same cached bodies the JSON endpoints serve. Plain HTML,
escaped, no script."""

from __future__ import annotations

import html
from typing import Any

import orjson

from services.api.context import ApiContext
from services.core.db.standings_read import DivisionMeta

ROUND_ROBIN = "round_robin"


def _athlete(slot: dict[str, Any]) -> str:
    e = html.escape
    if slot["athlete"]:
        a = slot["athlete"]
        return f'<span dir="auto">{e(a["name"])}</span> <small>{e(a["country"])}</small>'
    return "<i>bye</i>" if slot["bye"] else f"<i>{e(slot['waiting_for'] or '')}</i>"


def _bout(b: dict[str, Any]) -> str:
    e = html.escape
    score = f" {b['result']['score']['red']}:{b['result']['score']['blue']}" if b["result"] else ""
    flag = " · needs a re-fight" if b["invalidated"] else ""
    return (
        f'<li data-bout-id="{e(b["bout_id"])}" data-status="{e(b["status"])}"><code>{e(b["bout_id"])}</code> '
        f"{_athlete(b['red'])} v {_athlete(b['blue'])} — {e(b['status'])}{e(score)}{flag}</li>"
    )


def bracket_section(doc: dict[str, Any]) -> str:
    e = html.escape
    bouts = "\n".join(_bout(b) for b in doc["bouts"])
    placings = "".join(
        f'<li>{p["place"]}. <span dir="auto">{e(p["athlete"]["name"])}</span>{"" if p["decided"] else " (provisional)"}</li>'
        for p in doc["placings"]
    )
    return f'<div class="bracket"><ol class="bouts">{bouts}</ol><ul class="placings">{placings}</ul></div>'


def standings_section(doc: dict[str, Any]) -> str:
    e = html.escape
    rows = "".join(
        f'<tr><td>{r["rank"]}</td><td dir="auto">{e(r["name"])}</td><td>{e(r["country"])}</td>'
        f"<td>{r['wins']}</td><td>{r['losses']}</td><td>{r['points']}</td></tr>"
        for r in doc["rows"]
    )
    return f'<table class="standings"><tr><th>#</th><th>Athlete</th><th>Nat.</th><th>W</th><th>L</th><th>Pts</th></tr>{rows}</table>'


async def division_section(ctx: ApiContext, division: DivisionMeta) -> str:
    """The division's bracket or standings as HTML (its cached body, so no extra query when warm)."""
    t, d = division.tournament_id, division.division_id
    if division.format == ROUND_ROBIN:
        return standings_section(orjson.loads((await ctx.cache.get(t, d)).body_fresh))
    try:
        return bracket_section(orjson.loads((await ctx.brackets.get(t, d)).body_fresh))
    except Exception:  # a bracket not drawn or not registered: the page still renders
        return "<p><i>The bracket is not available yet.</i></p>"
