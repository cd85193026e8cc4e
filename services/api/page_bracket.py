"""A bracket as compact, server-rendered HTML for the public tournament page (SPEC §7).

Main rounds in order up to the final (columns on a wide screen, stacked on a phone), then the
repechage and bronze bouts, then the placings. Each bout shows its two slots (athlete, bye or
what the slot waits for), the winner marked in words and weight, not by colour alone, the score
of the counted result, the bout to fight now, and a bout whose stored result no longer counts as
needing a re-fight.
"""

from __future__ import annotations

import html
from typing import Any

STATUS_LABELS = {
    "waiting": "Waiting",
    "open": "To fight",
    "decided": "Decided",
    "bye": "Bye",
    "invalidated": "Needs a re-fight",
}
PROVISIONAL = '<span class="prov">so far</span>'
REPECHAGE_LABELS = {"none": "", "judo": "judo repechage", "wrestling": "wrestling repechage"}


def esc(value: object) -> str:
    """Text or an attribute value, escaped for HTML (the one escape of every public page)."""
    return html.escape(str(value), quote=True)


def round_title(round_: int, rounds: int, size: int) -> str:
    left = rounds - round_
    if left == 0:
        return "Final"
    if left == 1:
        return "Semifinals"
    if left == 2:
        return "Quarterfinals"
    return f"Round of {size >> (round_ - 1)}"


def _slot(bout: dict[str, Any], side: str, division: str) -> str:
    slot = bout[side]
    athlete = slot["athlete"]
    score = ""
    if bout["result"] and bout["status"] == "decided":
        score = f'<span class="score">{int(bout["result"]["score"][side])}</span>'
    if athlete is None:
        text = "bye" if slot["bye"] else (slot["waiting_for"] or "to be decided").replace(f"{division}-", "")
        return f'<div class="slot slot-empty" data-side="{side}"><span class="name">{esc(text)}</span></div>'
    won = bout["winner_athlete_id"] == athlete["athlete_id"]
    mark = '<span class="win-mark" aria-hidden="true">✓</span><span class="visually-hidden">winner: </span>'
    return (
        f'<div class="slot{" slot-winner" if won else ""}" data-side="{side}">'
        f'{mark if won else ""}<span class="name" dir="auto">{esc(athlete["name"])}</span>'
        f'<span class="nat">{esc(athlete["country"])}</span>{score}</div>'
    )


def _bout(bout: dict[str, Any], current: str | None, division: str) -> str:
    status = bout["status"]
    flags = []
    if bout["invalidated"]:
        rev = bout.get("invalidated_revision")
        title = f' title="Revision {int(rev)} was fought between other athletes: it no longer counts"' if rev else ""
        flags.append(f'<span class="flag flag-refight"{title}>Needs a re-fight</span>')
    if bout["bout_id"] == current:
        flags.append('<span class="flag flag-now">Up next</span>')
    if status == "decided" and bout["result"]:
        flags.append(f'<span class="method">{esc(bout["result"]["method"].replace("_", " "))}</span>')
    elif not bout["invalidated"]:
        flags.append(f'<span class="bout-status">{esc(STATUS_LABELS.get(status, status))}</span>')
    mat = (
        f"Mat {int(bout['mat'])}" + (f" · #{int(bout['order'])}" if bout.get("order") else "")
        if bout.get("mat")
        else ""
    )
    attrs = (
        f'data-bout-id="{esc(bout["bout_id"])}" data-status="{esc(status)}"'
        f"{' data-invalidated' if bout['invalidated'] else ''}{' data-current' if bout['bout_id'] == current else ''}"
    )
    return (
        f'<li class="bout" {attrs}>{_slot(bout, "red", division)}{_slot(bout, "blue", division)}'
        f'<div class="bout-foot">{"".join(flags)}<span class="mat">{esc(mat)}</span></div></li>'
    )


def _group(title: str, bouts: list[dict[str, Any]], current: str | None, division: str, cls: str = "round") -> str:
    items = "".join(_bout(b, current, division) for b in bouts)
    return f'<section class="{cls}"><h3>{esc(title)}</h3><ol class="bouts">{items}</ol></section>'


def _placings(doc: dict[str, Any]) -> str:
    placings = doc["placings"]
    if not placings or not any(b["status"] == "decided" for b in doc["bouts"]):
        return ""  # before the first bracket bout every placing is "1 so far": nothing to show yet
    items = "".join(
        f'<li class="placing place-{int(p["place"])}{"" if p["decided"] else " provisional"}">'
        f'<span class="place">{int(p["place"])}</span><span class="name" dir="auto">{esc(p["athlete"]["name"])}</span>'
        f'<span class="nat">{esc(p["athlete"]["country"])}</span>'
        f"{'' if p['decided'] else PROVISIONAL}</li>"
        for p in placings
    )
    title = "Placings" if doc["complete"] else "Placings (provisional)"
    return f'<section class="placings"><h3>{title}</h3><ol>{items}</ol></section>'


def _summary(doc: dict[str, Any]) -> str:
    fmt = doc["format"]
    parts = [f"{int(doc['size'])}-draw"]
    if REPECHAGE_LABELS.get(fmt["repechage"]):
        parts.append(REPECHAGE_LABELS[fmt["repechage"]])
    elif fmt["third_place"] == "bronze_bout":
        parts.append("bronze bout")
    parts.append("complete" if doc["complete"] else "in progress")
    refights = int(doc["invalidated_bouts"])
    if refights:
        parts.append(
            f'<strong class="flag flag-refight">{refights} bout{"s" if refights != 1 else ""} to re-fight</strong>'
        )
    return f'<p class="bracket-summary">{" · ".join(parts)}</p>'


def bracket_html(doc: dict[str, Any]) -> str:
    """The bracket part of a bracket division's section (pools are rendered before it)."""
    pools = doc.get("pools") or []
    if not doc["bouts"] or not all(p["complete"] for p in pools):
        return '<p class="note">The bracket is drawn once every pool bout is decided.</p>'
    size = int(doc["size"])
    rounds = max(1, size.bit_length() - 1)
    current = doc.get("current_bout_id")
    division = str(doc["division"]["id"])
    main = [b for b in doc["bouts"] if b["phase"] in ("main", "final")]
    columns = "".join(
        _group(
            round_title(r, rounds, size),
            sorted((b for b in main if b["round"] == r), key=lambda b: b["index"]),
            current,
            division,
        )
        for r in range(1, rounds + 1)
    )
    side = [
        _group(title, [b for b in doc["bouts"] if b["phase"] == phase], current, division, "round side")
        for phase, title in (("repechage", "Repechage"), ("bronze", "Bronze"))
        if any(b["phase"] == phase for b in doc["bouts"])
    ]
    return (
        f'<div class="bracket">{_summary(doc)}'
        f'<div class="rounds" role="region" aria-label="Bracket, {esc(doc["division"]["name"])}" tabindex="0">'
        f"{columns}{''.join(side)}</div>{_placings(doc)}</div>"
    )
