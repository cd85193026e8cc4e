"""The public tournament page as HTML: the head, a jump list of divisions and, per division, its
live part (services/api/page_sections.py) with the overlay and JSON links folded away beneath it.

Each division's ``<section>`` carries what the page's script needs to keep it live: the version it
shows, its SSE stream and event name, its JSON (polled with ``If-None-Match`` when EventSource
fails) and the URL of a fresh copy of its live part.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path

from services.api.page_sections import FORMAT_LABELS, ROUND_ROBIN, Section, esc
from services.core.db import standings_read

STATIC_DIR = Path(__file__).with_name("static")
POLL_MS = 2000
TIER_LABELS = {"world": "World tier", "continental": "Continental tier", "national": "National tier", "open": "Open"}
STATUS_LABELS = {"scheduled": "Scheduled", "live": "Live", "finalized": "Final results"}


@cache
def template(name: str) -> str:
    return (STATIC_DIR / name).read_text(encoding="utf-8")


def section_url(tournament_id: str, division_id: str) -> str:
    return f"/t/{tournament_id}/divisions/{division_id}/section"


def _links(t: str, d: standings_read.DivisionMeta) -> str:
    overlay = f"/overlay/{t}/{d.division_id}"
    base = f"/v1/tournaments/{t}/divisions/{d.division_id}"
    links = [(overlay, "Standings overlay"), (f"{overlay}?transparent=1", "Standings overlay (transparent)")]
    if d.format != ROUND_ROBIN:
        links += [
            (f"{overlay}/bracket", "Bracket overlay"),
            (f"{overlay}/bracket?transparent=1", "Bracket overlay (transparent)"),
        ]
        links.append((f"{base}/bracket", "Bracket (JSON)"))
    links += [(f"{base}/standings", "Standings (JSON)"), (f"{base}/conflicts", "Conflicts (JSON)")]
    items = "".join(f'<li><a href="{esc(href)}">{esc(text)}</a></li>' for href, text in links)
    return f'<details class="links"><summary>Overlays and data</summary><ul>{items}</ul></details>'


def division_html(t: str, d: standings_read.DivisionMeta, section: Section) -> str:
    kind = "standings" if d.format == ROUND_ROBIN else "bracket"
    base = f"/v1/tournaments/{t}/divisions/{d.division_id}/{kind}"
    did = esc(d.division_id)
    behind = f"{section.freshness_s} s behind" if section.freshness_s else ""
    return (
        f'<section class="division" id="d-{did}" aria-labelledby="h-{did}" data-division-id="{did}" '
        f'data-format="{esc(d.format)}" data-kind="{kind}" data-version="{section.version}" '
        f'data-freshness-s="{section.freshness_s}" data-json-url="{esc(base)}" data-stream-url="{esc(base)}/stream" '
        f'data-section-url="{esc(section_url(t, d.division_id))}">'
        f'<div class="division-head"><h2 id="h-{did}" dir="auto">{esc(d.name)}</h2>'
        f'<p class="division-meta"><span class="cat">{esc(d.category)}</span> · {esc(FORMAT_LABELS.get(d.format, d.format))}'
        f'<span class="fresh" data-role="fresh">{esc(behind)}</span></p></div>'
        f'<div class="division-body" data-role="body">{section.html}</div>{_links(t, d)}</section>'
    )


def _nav(divisions: list[standings_read.DivisionMeta]) -> str:
    if len(divisions) < 2:
        return ""
    items = "".join(f'<li><a href="#d-{esc(d.division_id)}" dir="auto">{esc(d.name)}</a></li>' for d in divisions)
    return f'<nav class="division-nav" aria-label="Divisions"><ul>{items}</ul></nav>'


def _dates(t: standings_read.TournamentMeta) -> str:
    start, end = t.start_date, t.end_date
    if start == end:
        return f'<time datetime="{start.isoformat()}">{start:%d %b %Y}</time>'
    return (
        f'<time datetime="{start.isoformat()}">{start:%d %b}</time> – '
        f'<time datetime="{end.isoformat()}">{end:%d %b %Y}</time>'
    )


def tournament_html(
    t: standings_read.TournamentMeta,
    divisions: list[standings_read.DivisionMeta],
    sections: list[Section],
    stale_after_s: float,
    heartbeat_s: float,
) -> str:
    tid = t.tournament_id
    body = "\n".join(division_html(tid, d, s) for d, s in zip(divisions, sections, strict=True))
    return template("tournament.html").format(
        name=esc(t.name),
        tournament_id=esc(tid),
        poll_ms=POLL_MS,
        stale_after_s=f"{stale_after_s:g}",
        heartbeat_s=f"{heartbeat_s:g}",
        status=esc(t.status),
        status_label=esc(STATUS_LABELS.get(t.status, t.status)),
        tier_label=esc(TIER_LABELS.get(t.tier, t.tier)),
        dates=_dates(t),
        loaded_at=f"{dt.datetime.now(dt.UTC):%H:%M:%S}",
        division_nav=_nav(divisions),
        sections=body or '<p class="note">No divisions yet.</p>',
        json_link=f"/v1/tournaments/{esc(tid)}",
        all_link=f"/v1/tournaments/{esc(tid)}/standings",
    )
