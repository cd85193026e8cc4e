"""A judo bracket on the whole pipeline (admin import → HTTP intake → Kafka → projector → PostgreSQL
→ read API, rankings stage → search index), on both brokers: a quarterfinal winner corrected after
the semifinal, the repechage, the bronze bouts and the final were fought invalidates every bout
downstream, the re-fights re-route the bracket, and the placings, the awards and the index follow.

Every expected slot, placing and point below was worked out by hand from the draw (seeds A..H in
the standard 8-draw: A-H, D-E, B-G, C-F) and the rule the test plays by: the athlete whose letter
comes first wins every bout.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
import sqlalchemy as sa

from services.embedded.waiting import wait_until
from tests.e2e.pipeline import Pipeline
from tests.e2e.ranked_stack import Stack, awards, drain, finalize, import_file, index_agrees, rankings
from tests.projector_support import unique

LETTERS = "ABCDEFGH"


class Bracket:
    """One judo division of eight, its athletes named ``{prefix}-a`` … ``{prefix}-h``."""

    def __init__(self, p: Pipeline) -> None:
        self.p = p
        self.prefix = unique("bk").replace("_", "-")
        self.tournament = f"{self.prefix}-open"
        self.division = f"{self.prefix}-m81"
        self.category = f"{self.prefix}-m-81kg"

    def athlete(self, letter: str) -> str:
        return f"{self.prefix}-{letter.lower()}"

    def letter(self, athlete_id: str | None) -> str | None:
        return None if athlete_id is None else athlete_id.rsplit("-", 1)[1].upper()

    def file(self) -> bytes:
        end = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2)
        doc: dict[str, Any] = {
            "athletes": [
                {"athlete_id": self.athlete(x), "full_name": f"Judoka {x}", "country": "JPN"} for x in LETTERS
            ],
            "tournaments": [
                {
                    "tournament_id": self.tournament,
                    "name": "Bracket Open",
                    "tier": "world",
                    "start_date": (end - dt.timedelta(days=1)).isoformat(),
                    "end_date": end.isoformat(),
                    "divisions": [
                        {
                            "division_id": self.division,
                            "name": "Men -81 kg",
                            "category": self.category,
                            "format": "elimination",
                            "repechage": "judo",
                            "seeds": [self.athlete(x) for x in LETTERS],
                            "mat": 2,
                        }
                    ],
                }
            ],
        }
        return json.dumps(doc).encode()

    def bout(self, short: str) -> str:
        return f"{self.division}-{short}"

    def get(self) -> dict[str, Any]:
        url = f"{self.p.api.url}/v1/tournaments/{self.tournament}/divisions/{self.division}/bracket"
        resp = httpx.get(url, timeout=10)
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        return body

    def slots(self) -> dict[str, tuple[str | None, str | None, str]]:
        """short bout id -> (red letter, blue letter, status)."""
        out = {}
        for b in self.get()["bouts"]:
            red, blue = (self.letter((b[side]["athlete"] or {}).get("athlete_id")) for side in ("red", "blue"))
            out[b["bout_id"].removeprefix(f"{self.division}-")] = (red, blue, b["status"])
        return out

    def fight(self, short: str, revision: int, winner: str) -> None:
        """Post ``winner`` (a letter) as the result of ``short`` at ``revision``: the colour is the slot it stands in."""
        red, blue, status = self.slots()[short]
        assert winner in (red, blue), (short, red, blue, status)
        colour = "red" if winner == red else "blue"
        body = {
            "revision": revision,
            "winner": colour,
            "method": "points",
            "score": {"red": 10, "blue": 0} if colour == "red" else {"red": 0, "blue": 10},
        }
        resp = self.p.post_result(self.bout(short), body, token=self.p.tokens["admin"])
        assert resp.status_code == 202, resp.text
        self.settle()

    def settle(self) -> None:
        """The projector applied every accepted event and the read API saw the new version."""
        self.p.wait_applied()
        version = self._db_version()
        wait_until(lambda: self.get()["version"] == version, 30, "the read API at the division's version")

    def _db_version(self) -> int:
        with self.p.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.text("SELECT version FROM divisions WHERE tournament_id = :t AND division_id = :d"),
                    {"t": self.tournament, "d": self.division},
                ).scalar_one()
            )

    def placings(self) -> dict[int, str]:
        """place -> the letters sharing it, sorted."""
        out: dict[int, list[str]] = {}
        for row in self.get()["placings"]:
            out.setdefault(row["place"], []).append(str(self.letter(row["athlete"]["athlete_id"])))
        return {place: " ".join(sorted(letters)) for place, letters in sorted(out.items())}

    def points(self) -> dict[str, tuple[int, float, bool]]:
        return {str(self.letter(a)): v for a, v in awards(self.p, self.tournament).items()}


def test_a_corrected_quarterfinal_invalidates_downstream_and_the_refights_move_placings_and_rankings(
    stack: Stack,
) -> None:
    p = stack.p
    b = Bracket(p)
    resp = import_file(p, b.file())
    assert resp.status_code == 200, resp.text
    shorts = ["r1-b1", "r1-b2", "r1-b3", "r1-b4", "r2-b1", "r2-b2", "final"]
    shorts += ["rep-top-1", "rep-bottom-1", "bronze-top", "bronze-bottom"]
    p.registration.bouts.extend(
        {"bout_id": b.bout(s), "tournament_id": b.tournament, "division_id": b.division} for s in shorts
    )
    assert b.slots() == {
        "r1-b1": ("A", "H", "open"),
        "r1-b2": ("D", "E", "open"),
        "r1-b3": ("B", "G", "open"),
        "r1-b4": ("C", "F", "open"),
        "r2-b1": (None, None, "waiting"),
        "r2-b2": (None, None, "waiting"),
        "final": (None, None, "waiting"),
        "rep-top-1": (None, None, "waiting"),
        "rep-bottom-1": (None, None, "waiting"),
        "bronze-top": (None, None, "waiting"),
        "bronze-bottom": (None, None, "waiting"),
    }
    # A semifinal whose slots are not known yet: the intake says which slot is open.
    body = {"revision": 1, "winner": "red", "method": "points", "score": {"red": 1, "blue": 0}}
    early = p.post_result(b.bout("r2-b1"), body, token=p.tokens["admin"])
    assert early.status_code == 409, early.text
    assert "waits for the winner of" in early.json()["detail"]

    for short, winner in [("r1-b1", "A"), ("r1-b2", "D"), ("r1-b3", "B"), ("r1-b4", "C")]:
        b.fight(short, 1, winner)
    # semifinals A-D, B-C; repechage: the quarterfinal losers of each half, H-E (top) and G-F (bottom)
    for short, winner in [("r2-b1", "A"), ("r2-b2", "B"), ("rep-top-1", "E"), ("rep-bottom-1", "F")]:
        b.fight(short, 1, winner)
    # bronze: each repechage winner against the other half's semifinal loser: E-C and F-D
    for short, winner in [("final", "A"), ("bronze-top", "C"), ("bronze-bottom", "D")]:
        b.fight(short, 1, winner)
    assert b.slots()["bronze-top"] == ("E", "C", "decided")
    assert b.slots()["bronze-bottom"] == ("F", "D", "decided")
    # 1 A, 2 B, 3 the bronze winners C and D, 5 the bronze losers E and F, 7 the repechage losers G and H
    assert b.placings() == {1: "A", 2: "B", 3: "C D", 5: "E F", 7: "G H"}
    live = b.points()
    assert live["D"] == (3, 100.0, True) and live["E"] == (5, 60.0, True)  # provisional while live

    # The table corrects r1-b2: E won (revision 2).
    b.fight("r1-b2", 2, "E")
    slots = b.slots()
    # r2-b1 was fought A-D and now holds A-E; rep-top-1 was H-E and now holds H-D: both invalidated.
    assert slots["r2-b1"] == ("A", "E", "invalidated")
    assert slots["rep-top-1"] == ("H", "D", "invalidated")
    # the final, and both bronze bouts, lost a slot they were fought with: invalidated, waiting for the re-fights
    for short in ("final", "bronze-top", "bronze-bottom"):
        assert slots[short][2] == "invalidated", (short, slots[short])
    assert slots["r2-b2"] == ("B", "C", "decided") and slots["rep-bottom-1"] == ("G", "F", "decided")
    bracket = b.get()
    assert bracket["invalidated_bouts"] == 5
    assert {x["bout_id"] for x in bracket["bouts"] if x["invalidated"]} == {
        b.bout(s) for s in ("r2-b1", "rep-top-1", "final", "bronze-top", "bronze-bottom")
    }

    # The re-fights, each the bout's next revision, between the athletes now in its slots.
    refights = [("r2-b1", "A"), ("rep-top-1", "D"), ("final", "A"), ("bronze-top", "C"), ("bronze-bottom", "E")]
    for short, winner in refights:
        b.fight(short, 2, winner)
    slots = b.slots()
    assert slots["final"] == ("A", "B", "decided")
    assert slots["bronze-top"] == ("D", "C", "decided")
    assert slots["bronze-bottom"] == ("F", "E", "decided")
    assert b.get()["invalidated_bouts"] == 0
    # E is now a bronze medallist and D a bronze loser.
    assert b.placings() == {1: "A", 2: "B", 3: "C E", 5: "D F", 7: "G H"}

    finalize(p, b.tournament)
    b.settle()
    # world tier 2.0: 1st 200, 2nd 140, 3rd 100, 5th 60, 7th 40
    assert b.points() == {
        "A": (1, 200.0, False),
        "B": (2, 140.0, False),
        "C": (3, 100.0, False),
        "E": (3, 100.0, False),
        "D": (5, 60.0, False),
        "F": (5, 60.0, False),
        "G": (7, 40.0, False),
        "H": (7, 40.0, False),
    }
    drain(stack.indexer)
    ranked = {str(b.letter(a)): (points, prov) for a, (_, points, prov) in rankings(p, b.category).items()}
    assert ranked == {
        "A": (200.0, 0.0),
        "B": (140.0, 0.0),
        "C": (100.0, 0.0),
        "E": (100.0, 0.0),
        "D": (60.0, 0.0),
        "F": (60.0, 0.0),
        "G": (40.0, 0.0),
        "H": (40.0, 0.0),
    }
    index_agrees(stack, b.category)
