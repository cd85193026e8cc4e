"""Single elimination (repechage none), 8 and 16 athletes, with a bronze bout or a shared 3rd.

Seeds are letters in seed order (A = seed 1). The standard 8-draw puts the seeds at positions
1 8 4 5 2 7 3 6, so the first round is A-H, D-E, B-G, C-F; the 16-draw puts them at
1 16 8 9 4 13 5 12 2 15 7 10 3 14 6 11 (A-P, H-I, D-M, E-L, B-O, G-J, C-N, F-K).
"""

from __future__ import annotations

from services.core.domain.brackets import BracketFormat, Repechage, ThirdPlace
from tests.unit.bracket_tables.table import WAIT, Case

BRONZE = BracketFormat(repechage=Repechage.NONE, third_place=ThirdPlace.BRONZE_BOUT)
SHARED = BracketFormat(repechage=Repechage.NONE, third_place=ThirdPlace.SHARED)

FIRST_8 = {"r1-b1": "A H", "r1-b2": "D E", "r1-b3": "B G", "r1-b4": "C F"}
LATER_8 = {"r2-b1": WAIT, "r2-b2": WAIT, "final": WAIT}
FIRST_16 = {
    "r1-b1": "A P",
    "r1-b2": "H I",
    "r1-b3": "D M",
    "r1-b4": "E L",
    "r1-b5": "B O",
    "r1-b6": "G J",
    "r1-b7": "C N",
    "r1-b8": "F K",
}
SEMIFINALS_16 = {"r3-b1": WAIT, "r3-b2": WAIT, "final": WAIT}
LATER_16 = {f"r2-b{i}": WAIT for i in range(1, 5)} | SEMIFINALS_16

NONE_BRONZE_8 = Case(
    name="none-bronze-8",
    format=BRONZE,
    seeds="ABCDEFGH",
    draw="A H D E B G C F",
    initial=FIRST_8 | LATER_8 | {"bronze": WAIT},
    steps=[
        ("r1-b1", "A", {"r2-b1": "A ?"}),
        # a draw decides nothing: r1-b2 stays open and nobody advances
        ("r1-b2", "draw", {}),
        ("r1-b2", "E", {"r2-b1": "A E"}),
        ("r1-b3", "G", {"r2-b2": "G ?"}),
        ("r1-b4", "C", {"r2-b2": "G C"}),
        # semifinal: A beats E; E is the semifinal loser of the top half and goes to the bronze bout
        ("r2-b1", "A", {"final": "A ?", "bronze": "E ?"}),
        # correction of r1-b2 (revision 3): D won. r2-b1 now holds A and D, its result was fought
        # A v E: invalidated, counts nowhere; the final and the bronze bout lose their top slot.
        ("r1-b2", "D", {"r2-b1": "A D !", "final": WAIT, "bronze": WAIT}),
        # re-fight of r2-b1 (revision 2) between A and D: D wins
        ("r2-b1", "D", {"final": "D ?", "bronze": "A ?"}),
        ("r2-b2", "C", {"final": "D C", "bronze": "A G"}),
        ("bronze", "G", {}),
        ("final", "D", {}),
    ],
    # 1 final winner, 2 its loser, 3 bronze winner, 4 bronze loser, 5 the four first-round
    # (quarterfinal) losers: H (to A), E (to D after the correction), B (to G), F (to C)
    placings={1: "D", 2: "C", 3: "G", 4: "A", 5: "B E F H"},
)

NONE_SHARED_8 = Case(
    name="none-shared-8",
    format=SHARED,
    seeds="ABCDEFGH",
    draw="A H D E B G C F",
    initial=FIRST_8 | LATER_8,
    steps=[
        ("r1-b1", "H", {"r2-b1": "H ?"}),
        ("r1-b2", "D", {"r2-b1": "H D"}),
        ("r1-b3", "B", {"r2-b2": "B ?"}),
        ("r1-b4", "F", {"r2-b2": "B F"}),
        ("r2-b2", "B", {"final": "? B"}),
        # void of r1-b4: F is no longer in r2-b2, whose result (B v F) no longer counts
        ("r1-b4", "void", {"r1-b4": "C F", "r2-b2": "B ? !", "final": WAIT}),
        # revision 3 reinstates F: r2-b2's stored result fits its slots again and counts
        ("r1-b4", "F", {"r2-b2": "B F >B", "final": "? B"}),
        ("r2-b1", "D", {"final": "D B"}),
        ("final", "B", {}),
    ],
    # both semifinal losers (H, F) share 3; quarterfinal losers A, E, G, C share 5
    placings={1: "B", 2: "D", 3: "F H", 5: "A C E G"},
)

NONE_BRONZE_16 = Case(
    name="none-bronze-16",
    format=BRONZE,
    seeds="ABCDEFGHIJKLMNOP",
    draw="A P H I D M E L B O G J C N F K",
    initial=FIRST_16 | LATER_16 | {"bronze": WAIT},
    steps=[
        ("r1-b1", "A", {"r2-b1": "A ?"}),
        ("r1-b2", "I", {"r2-b1": "A I"}),
        ("r1-b3", "D", {"r2-b2": "D ?"}),
        ("r1-b4", "L", {"r2-b2": "D L"}),
        ("r1-b5", "B", {"r2-b3": "B ?"}),
        ("r1-b6", "G", {"r2-b3": "B G"}),
        ("r1-b7", "N", {"r2-b4": "N ?"}),
        ("r1-b8", "F", {"r2-b4": "N F"}),
        ("r2-b1", "A", {"r3-b1": "A ?"}),
        ("r2-b2", "L", {"r3-b1": "A L"}),
        ("r2-b3", "G", {"r3-b2": "G ?"}),
        ("r2-b4", "F", {"r3-b2": "G F"}),
        ("r3-b1", "A", {"final": "A ?", "bronze": "L ?"}),
        ("r3-b2", "F", {"final": "A F", "bronze": "L G"}),
        ("bronze", "L", {}),
        ("final", "A", {}),
    ],
    # quarterfinal (round 2) losers I, D, B, N share 5; round-of-16 losers share 9
    placings={1: "A", 2: "F", 3: "L", 4: "G", 5: "B D I N", 9: "C E H J K M O P"},
)

NONE_SHARED_16 = Case(
    name="none-shared-16",
    format=SHARED,
    seeds="ABCDEFGHIJKLMNOP",
    draw="A P H I D M E L B O G J C N F K",
    initial=FIRST_16 | LATER_16,
    steps=[
        ("r1-b1", "P", {"r2-b1": "P ?"}),
        ("r1-b2", "H", {"r2-b1": "P H"}),
        ("r1-b3", "M", {"r2-b2": "M ?"}),
        ("r1-b4", "E", {"r2-b2": "M E"}),
        ("r1-b5", "B", {"r2-b3": "B ?"}),
        ("r1-b6", "J", {"r2-b3": "B J"}),
        ("r1-b7", "C", {"r2-b4": "C ?"}),
        ("r1-b8", "K", {"r2-b4": "C K"}),
        ("r2-b1", "draw", {}),
        ("r2-b1", "H", {"r3-b1": "H ?"}),
        ("r2-b2", "E", {"r3-b1": "H E"}),
        ("r2-b3", "B", {"r3-b2": "B ?"}),
        ("r2-b4", "K", {"r3-b2": "B K"}),
        ("r3-b1", "E", {"final": "E ?"}),
        ("r3-b2", "B", {"final": "E B"}),
        ("final", "B", {}),
    ],
    placings={1: "B", 2: "E", 3: "H K", 5: "C J M P", 9: "A D F G I L N O"},
)

CASES = [NONE_BRONZE_8, NONE_SHARED_8, NONE_BRONZE_16, NONE_SHARED_16]
