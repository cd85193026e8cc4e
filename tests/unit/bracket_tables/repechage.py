"""Judo and wrestling repechage, 8 and 16 athletes (seeded draws as in ``single``).

judo: rep-top-1 is the loser of r1-b1 v the loser of r1-b2 in an 8-bracket (r2-b1 v r2-b2 in a
16-bracket), rep-bottom-1 the same for the bottom half; bronze-top is rep-top-1's winner v the
bottom semifinal's loser, bronze-bottom rep-bottom-1's winner v the top semifinal's loser.
wrestling: the athletes each finalist beat before the semifinal, earliest round first; once both
finalists are known (and not before) the ladder fills. 8-bracket: one victim per half, who goes
straight to the bronze bout; 16-bracket: rep-{half}-1 is the round-1 victim v the round-2 victim.
"""

from __future__ import annotations

from services.core.domain.brackets import BracketFormat, Repechage
from tests.unit.bracket_tables.single import FIRST_8, FIRST_16, LATER_8, LATER_16
from tests.unit.bracket_tables.table import WAIT, Case

JUDO = BracketFormat(repechage=Repechage.JUDO)
WRESTLING = BracketFormat(repechage=Repechage.WRESTLING)
TWO_BRONZE = {"bronze-top": WAIT, "bronze-bottom": WAIT}
LADDERS = {"rep-top-1": WAIT, "rep-bottom-1": WAIT}

JUDO_8 = Case(
    name="judo-8",
    format=JUDO,
    seeds="ABCDEFGH",
    draw="A H D E B G C F",
    initial=FIRST_8 | LATER_8 | LADDERS | TWO_BRONZE,
    steps=[
        ("r1-b1", "A", {"r2-b1": "A ?", "rep-top-1": "H ?"}),
        ("r1-b2", "E", {"r2-b1": "A E", "rep-top-1": "H D"}),
        ("r1-b3", "B", {"r2-b2": "B ?", "rep-bottom-1": "G ?"}),
        ("r1-b4", "C", {"r2-b2": "B C", "rep-bottom-1": "G F"}),
        ("rep-top-1", "D", {"bronze-top": "D ?"}),
        ("rep-bottom-1", "G", {"bronze-bottom": "G ?"}),
        # correction of r1-b1: H beat A. A is now the top repechage's red; its result (H v D)
        # was fought by H, so it is invalidated and D no longer stands in bronze-top.
        ("r1-b1", "H", {"r2-b1": "H E", "rep-top-1": "A D !", "bronze-top": WAIT}),
        ("rep-top-1", "A", {"bronze-top": "A ?"}),
        # the top semifinal's loser E meets the bottom repechage winner G
        ("r2-b1", "H", {"final": "H ?", "bronze-bottom": "G E"}),
        ("r2-b2", "C", {"final": "H C", "bronze-top": "A B"}),
        ("bronze-top", "A", {}),
        ("bronze-bottom", "G", {}),
        ("final", "C", {}),
    ],
    # bronze winners A, G share 3; bronze losers B, E share 5; repechage losers D, F share 7
    placings={1: "C", 2: "H", 3: "A G", 5: "B E", 7: "D F"},
)

JUDO_16 = Case(
    name="judo-16",
    format=JUDO,
    seeds="ABCDEFGHIJKLMNOP",
    draw="A P H I D M E L B O G J C N F K",
    initial=FIRST_16 | LATER_16 | LADDERS | TWO_BRONZE,
    steps=[
        ("r1-b1", "A", {"r2-b1": "A ?"}),
        ("r1-b2", "H", {"r2-b1": "A H"}),
        ("r1-b3", "D", {"r2-b2": "D ?"}),
        ("r1-b4", "E", {"r2-b2": "D E"}),
        ("r1-b5", "B", {"r2-b3": "B ?"}),
        ("r1-b6", "G", {"r2-b3": "B G"}),
        ("r1-b7", "C", {"r2-b4": "C ?"}),
        ("r1-b8", "F", {"r2-b4": "C F"}),
        # quarterfinals (round 2): their losers go to the repechage of their half
        ("r2-b1", "A", {"r3-b1": "A ?", "rep-top-1": "H ?"}),
        ("r2-b2", "E", {"r3-b1": "A E", "rep-top-1": "H D"}),
        ("r2-b3", "G", {"r3-b2": "G ?", "rep-bottom-1": "B ?"}),
        ("r2-b4", "C", {"r3-b2": "G C", "rep-bottom-1": "B F"}),
        ("rep-top-1", "H", {"bronze-top": "H ?"}),
        ("rep-bottom-1", "B", {"bronze-bottom": "B ?"}),
        ("r3-b1", "E", {"final": "E ?", "bronze-bottom": "B A"}),
        ("r3-b2", "C", {"final": "E C", "bronze-top": "H G"}),
        ("bronze-top", "G", {}),
        ("bronze-bottom", "B", {}),
        ("final", "E", {}),
    ],
    # round-1 losers (no repechage for them in judo) share 9
    placings={1: "E", 2: "C", 3: "B G", 5: "A H", 7: "D F", 9: "I J K L M N O P"},
)

WRESTLING_8 = Case(
    name="wrestling-8",
    format=WRESTLING,
    seeds="ABCDEFGH",
    draw="A H D E B G C F",
    initial=FIRST_8 | LATER_8 | TWO_BRONZE,
    steps=[
        ("r1-b1", "A", {"r2-b1": "A ?"}),
        ("r1-b2", "D", {"r2-b1": "A D"}),
        ("r1-b3", "G", {"r2-b2": "G ?"}),
        ("r1-b4", "C", {"r2-b2": "G C"}),
        # one finalist known: bronze-bottom gets the top semifinal's loser, its ladder waits
        ("r2-b1", "D", {"final": "D ?", "bronze-bottom": "? A"}),
        # both finalists known: D beat E in round 1, G beat B in round 1
        ("r2-b2", "G", {"final": "D G", "bronze-top": "E C", "bronze-bottom": "B A"}),
        ("bronze-top", "E", {}),
        # correction of r2-b1: A beat D. The top finalist is A, whose round-1 victim is H:
        # bronze-top's result (E v C) is invalidated; D, the new top semifinal loser, meets B.
        ("r2-b1", "A", {"final": "A G", "bronze-top": "H C !", "bronze-bottom": "B D"}),
        ("bronze-top", "H", {}),
        ("bronze-bottom", "B", {}),
        ("final", "A", {}),
    ],
    # E lost to D and F to C, neither a finalist: quarterfinal losers outside a bronze bout, 7
    placings={1: "A", 2: "G", 3: "B H", 5: "C D", 7: "E F"},
)

WRESTLING_16 = Case(
    name="wrestling-16",
    format=WRESTLING,
    seeds="ABCDEFGHIJKLMNOP",
    draw="A P H I D M E L B O G J C N F K",
    initial=FIRST_16 | LATER_16 | LADDERS | TWO_BRONZE,
    steps=[
        ("r1-b1", "A", {"r2-b1": "A ?"}),
        ("r1-b2", "H", {"r2-b1": "A H"}),
        ("r1-b3", "D", {"r2-b2": "D ?"}),
        ("r1-b4", "L", {"r2-b2": "D L"}),
        ("r1-b5", "B", {"r2-b3": "B ?"}),
        ("r1-b6", "J", {"r2-b3": "B J"}),
        ("r1-b7", "C", {"r2-b4": "C ?"}),
        ("r1-b8", "F", {"r2-b4": "C F"}),
        ("r2-b1", "A", {"r3-b1": "A ?"}),
        ("r2-b2", "D", {"r3-b1": "A D"}),
        ("r2-b3", "B", {"r3-b2": "B ?"}),
        ("r2-b4", "F", {"r3-b2": "B F"}),
        ("r3-b1", "A", {"final": "A ?", "bronze-bottom": "? D"}),
        # finalists A and F. A beat P (round 1) then H (round 2); F beat K then C.
        ("r3-b2", "F", {"final": "A F", "rep-top-1": "P H", "rep-bottom-1": "K C", "bronze-top": "? B"}),
        ("rep-top-1", "H", {"bronze-top": "H B"}),
        ("rep-bottom-1", "K", {"bronze-bottom": "K D"}),
        # correction of r3-b2: B beat F. B beat O then J: the bottom ladder is O v J and its result
        # (K v C) is invalidated; the top ladder is unchanged; F now meets H in bronze-top.
        ("r3-b2", "B", {"final": "A B", "rep-bottom-1": "O J !", "bronze-top": "H F", "bronze-bottom": "? D"}),
        ("rep-bottom-1", "J", {"bronze-bottom": "J D"}),
        ("bronze-top", "F", {}),
        ("bronze-bottom", "D", {}),
        ("final", "A", {}),
    ],
    # 7: repechage losers P, O and the quarterfinal losers who lost to a non-finalist, L (to D)
    # and C (to F). 9: the other round-1 losers, K included (F is no longer a finalist).
    placings={1: "A", 2: "B", 3: "D F", 5: "H J", 7: "C L O P", 9: "E G I K M N"},
)

CASES = [JUDO_8, JUDO_16, WRESTLING_8, WRESTLING_16]
