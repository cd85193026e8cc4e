"""Byes: 5, 6, 11 and 13 athletes. Seeds beyond the entrants are byes, so the top seeds get them:
with 5 in an 8-draw seeds 6, 7, 8 are byes (A, B, C advance without a bout); with 11 in a 16-draw
seeds 12-16 (A-E advance); with 13 seeds 14-16 (A, B, C). A bye is no bout: the athlete stands in
the next round before any result, and a repechage or bronze position with a bye is no bout either.
"""

from __future__ import annotations

from services.core.domain.brackets import BracketFormat, Repechage, ThirdPlace
from tests.unit.bracket_tables.repechage import JUDO, LADDERS, TWO_BRONZE, WRESTLING
from tests.unit.bracket_tables.single import SEMIFINALS_16
from tests.unit.bracket_tables.table import WAIT, Case

JUDO_5 = Case(
    name="judo-5",
    format=JUDO,
    seeds="ABCDE",
    draw="A - D E B - C -",
    initial={
        "r1-b1": "A -",
        "r1-b2": "D E",
        "r1-b3": "B -",
        "r1-b4": "C -",
        "r2-b1": "A ?",
        # both bottom quarterfinals are byes: B v C is known before any result
        "r2-b2": "B C",
        "final": WAIT,
        # top repechage: r1-b1 had no loser (bye), the loser of r1-b2 will advance without a bout
        "rep-top-1": "- ?",
        # bottom repechage: no quarterfinal loser at all
        "rep-bottom-1": "- -",
        "bronze-top": WAIT,
        # nobody comes out of the bottom repechage: the top semifinal's loser gets bronze by a bye
        "bronze-bottom": "- ?",
    },
    steps=[
        ("r1-b2", "D", {"r2-b1": "A D", "rep-top-1": "- E", "bronze-top": "E ?"}),
        ("r2-b2", "C", {"final": "? C", "bronze-top": "E B"}),
        ("r2-b1", "A", {"final": "A C", "bronze-bottom": "- D"}),
        ("bronze-top", "E", {}),
        ("final", "C", {}),
    ],
    # D is 3rd through the bye in bronze-bottom; B lost bronze-top: 5
    placings={1: "C", 2: "A", 3: "D E", 5: "B"},
)

WRESTLING_6 = Case(
    name="wrestling-6",
    format=WRESTLING,
    seeds="ABCDEF",
    draw="A - D E B - C F",
    initial={
        "r1-b1": "A -",
        "r1-b2": "D E",
        "r1-b3": "B -",
        "r1-b4": "C F",
        "r2-b1": "A ?",
        "r2-b2": "B ?",
        "final": WAIT,
    }
    | TWO_BRONZE,
    steps=[
        ("r1-b2", "D", {"r2-b1": "A D"}),
        ("r1-b4", "F", {"r2-b2": "B F"}),
        ("r2-b1", "A", {"final": "A ?", "bronze-bottom": "? D"}),
        # finalists A and F. A had a bye in round 1: no victim, so the bottom semifinal's loser B
        # gets bronze-top by a bye. F beat C in round 1: C meets D in bronze-bottom.
        ("r2-b2", "F", {"final": "A F", "bronze-top": "- B", "bronze-bottom": "C D"}),
        ("bronze-bottom", "C", {}),
        ("final", "F", {}),
    ],
    # E lost to D (not a finalist) in the quarterfinal: 7
    placings={1: "F", 2: "A", 3: "B C", 5: "D", 7: "E"},
)

NONE_BRONZE_11 = Case(
    name="none-bronze-11",
    format=BracketFormat(repechage=Repechage.NONE, third_place=ThirdPlace.BRONZE_BOUT),
    seeds="ABCDEFGHIJK",
    draw="A - H I D - E - B - G J C - F K",
    initial={
        "r1-b1": "A -",
        "r1-b2": "H I",
        "r1-b3": "D -",
        "r1-b4": "E -",
        "r1-b5": "B -",
        "r1-b6": "G J",
        "r1-b7": "C -",
        "r1-b8": "F K",
        "r2-b1": "A ?",
        "r2-b2": "D E",
        "r2-b3": "B ?",
        "r2-b4": "C ?",
    }
    | SEMIFINALS_16
    | {"bronze": WAIT},
    steps=[
        ("r1-b2", "I", {"r2-b1": "A I"}),
        ("r1-b6", "G", {"r2-b3": "B G"}),
        ("r1-b8", "K", {"r2-b4": "C K"}),
        ("r2-b1", "A", {"r3-b1": "A ?"}),
        ("r2-b2", "E", {"r3-b1": "A E"}),
        ("r2-b3", "B", {"r3-b2": "B ?"}),
        ("r2-b4", "C", {"r3-b2": "B C"}),
        ("r3-b1", "A", {"final": "A ?", "bronze": "E ?"}),
        ("r3-b2", "C", {"final": "A C", "bronze": "E B"}),
        ("bronze", "E", {}),
        ("final", "C", {}),
    ],
    # placings follow the 16-bracket: quarterfinal losers 5, round-of-16 losers 9
    placings={1: "C", 2: "A", 3: "E", 4: "B", 5: "D G I K", 9: "F H J"},
)

WRESTLING_13 = Case(
    name="wrestling-13",
    format=WRESTLING,
    seeds="ABCDEFGHIJKLM",
    draw="A - H I D M E L B - G J C - F K",
    initial={
        "r1-b1": "A -",
        "r1-b2": "H I",
        "r1-b3": "D M",
        "r1-b4": "E L",
        "r1-b5": "B -",
        "r1-b6": "G J",
        "r1-b7": "C -",
        "r1-b8": "F K",
        "r2-b1": "A ?",
        "r2-b2": WAIT,
        "r2-b3": "B ?",
        "r2-b4": "C ?",
    }
    | SEMIFINALS_16
    | LADDERS
    | TWO_BRONZE,
    steps=[
        ("r1-b2", "H", {"r2-b1": "A H"}),
        ("r1-b3", "D", {"r2-b2": "D ?"}),
        ("r1-b4", "E", {"r2-b2": "D E"}),
        ("r1-b6", "G", {"r2-b3": "B G"}),
        ("r1-b8", "K", {"r2-b4": "C K"}),
        ("r2-b1", "A", {"r3-b1": "A ?"}),
        ("r2-b2", "E", {"r3-b1": "A E"}),
        ("r2-b3", "B", {"r3-b2": "B ?"}),
        ("r2-b4", "C", {"r3-b2": "B C"}),
        ("r3-b1", "A", {"final": "A ?", "bronze-bottom": "? E"}),
        # finalists A and C both had a round-1 bye: each ladder is a bye then their round-2 victim
        # (H for A, K for C), who goes to the bronze bout without a repechage bout
        (
            "r3-b2",
            "C",
            {"final": "A C", "rep-top-1": "- H", "rep-bottom-1": "- K", "bronze-top": "H B", "bronze-bottom": "K E"},
        ),
        ("bronze-top", "B", {}),
        ("bronze-bottom", "K", {}),
        ("final", "A", {}),
    ],
    # 7: quarterfinal losers to non-finalists, D (to E) and G (to B); 9: the round-1 losers
    placings={1: "A", 2: "C", 3: "B K", 5: "E H", 7: "D G", 9: "F I J L M"},
)

CASES = [JUDO_5, WRESTLING_6, NONE_BRONZE_11, WRESTLING_13]
