"""The public tournament page's live part per division, as server-rendered HTML: a round-robin
table, or the bracket (services/api/page_bracket.py) with its pools first. Rendered from the same
cached bodies the JSON endpoints serve, escaped, no script; the page's script swaps a fresh copy
in (``GET /t/{t}/divisions/{d}/section``) when the division's stream announces a newer version."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import orjson

from services.api.context import ApiContext
from services.api.page_bracket import bracket_html, esc
from services.core.db.standings_read import DivisionMeta
from services.core.errors import Conflict

ROUND_ROBIN = "round_robin"
FORMAT_LABELS = {
    ROUND_ROBIN: "Round robin",
    "elimination": "Elimination",
    "pools_then_elimination": "Pools, then elimination",
}


@dataclass(frozen=True, slots=True)
class Section:
    """A division's live part now: its HTML, the version it shows and the freshness of that version."""

    html: str
    version: int
    freshness_s: int


def name_cell(athlete: dict[str, Any]) -> str:
    """An athlete's name in its own direction (any script), the club beneath when known."""
    club = athlete.get("club")
    club_html = f'<span class="club" dir="auto">{esc(club)}</span>' if club else ""
    return f'<span class="name" dir="auto">{esc(athlete["name"])}</span>{club_html}'


def _movement(row: dict[str, Any]) -> str:
    moved = int(row.get("movement") or 0)
    if moved == 0:
        return ""
    arrow, word = ("▲", "up") if moved > 0 else ("▼", "down")
    return (
        f' <span class="move move-{word}" aria-hidden="true">{arrow}{abs(moved)}</span>'
        f'<span class="visually-hidden"> ({word} {abs(moved)})</span>'
    )


def standings_table(rows: list[dict[str, Any]], label: str, *, draws: bool = True) -> str:
    """Rank, athlete, country, W/L(/D), points; tied ranks shown as ``=2``. Scrolls in its own box."""
    head = "".join(
        f'<th scope="col"{cls}>{text}</th>'
        for text, cls in [
            ('<abbr title="Rank">#</abbr>', ' class="num"'),
            ("Athlete", ""),
            ('<abbr title="Country">Nat.</abbr>', ""),
            ('<abbr title="Wins">W</abbr>', ' class="num"'),
            ('<abbr title="Losses">L</abbr>', ' class="num"'),
            *([('<abbr title="Draws">D</abbr>', ' class="num"')] if draws else []),
            ('<abbr title="Classification points">Pts</abbr>', ' class="num"'),
        ]
    )
    body = "".join(
        f'<tr data-athlete-id="{esc(r["athlete_id"])}">'
        f'<td class="num rank">{"=" if r["tie_unresolved"] else ""}{int(r["rank"])}{_movement(r)}</td>'
        f'<td class="athlete">{name_cell(r)}</td><td class="nat">{esc(r["country"])}</td>'
        f'<td class="num">{int(r["wins"])}</td><td class="num">{int(r["losses"])}</td>'
        + (f'<td class="num">{int(r["draws"])}</td>' if draws else "")
        + f'<td class="num pts">{int(r["points"])}</td></tr>'
        for r in rows
    )
    if not rows:
        body = f'<tr><td colspan="{7 if draws else 6}">No athletes entered yet.</td></tr>'
    return (
        f'<div class="table-box" role="region" aria-label="{esc(label)}" tabindex="0">'
        f'<table class="standings"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
    )


def last_result(doc: dict[str, Any]) -> str:
    at = (doc.get("as_of") or {}).get("event_time")
    if not at:
        return '<p class="as-of">No results yet.</p>'
    when = dt.datetime.fromisoformat(at).astimezone(dt.UTC)
    return (
        f'<p class="as-of">Last result <time datetime="{esc(when.isoformat())}">'
        f"{when:%H:%M:%S} UTC</time>{' · ' + esc(when.strftime('%d %b')) if when.date() != dt.datetime.now(dt.UTC).date() else ''}</p>"
    )


def _content(doc: dict[str, Any], inner: str) -> str:
    return f'<div class="division-content" data-version="{int(doc["version"])}">{inner}{last_result(doc)}</div>'


def round_robin_html(doc: dict[str, Any]) -> str:
    label = f"Standings, {doc['division']['name']}"
    conflicts = int(doc.get("conflicts") or 0)
    note = f'<p class="note">{conflicts} conflicting submission(s) recorded.</p>' if conflicts else ""
    return _content(doc, standings_table(doc["rows"], label) + note)


def pools_html(doc: dict[str, Any]) -> str:
    parts = []
    for pool in doc.get("pools") or []:
        state = "complete" if pool["complete"] else "in progress"
        title = f"Pool {esc(pool['pool_id'])}"
        parts.append(
            f'<section class="pool" data-pool-id="{esc(pool["pool_id"])}"><h3>{title} '
            f'<span class="pool-state">{state}</span></h3>'
            f"{standings_table(pool['rows'], f'{title} standings', draws=False)}</section>"
        )
    return f'<div class="pools">{"".join(parts)}</div>' if parts else ""


def elimination_html(doc: dict[str, Any]) -> str:
    return _content(doc, pools_html(doc) + bracket_html(doc))


async def division_section(ctx: ApiContext, division: DivisionMeta) -> Section:
    """The division's live part from its cached body (no query when warm)."""
    t, d = division.tournament_id, division.division_id
    if division.format == ROUND_ROBIN:
        entry = await ctx.cache.get(t, d)
        render = round_robin_html
    else:
        try:
            entry = await ctx.brackets.get(t, d)
        except Conflict:  # a bracket division whose bracket is not registered: the page still renders
            return Section('<p class="note">The bracket is not available yet.</p>', division.version, 0)
        render = elimination_html
    freshness = ctx.freshness.freshness_s(entry.partition, entry.last_event_epoch)
    return Section(render(orjson.loads(entry.body_fresh)), entry.version, freshness)
