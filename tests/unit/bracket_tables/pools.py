"""pools_then_elimination with 8 and 16 athletes (2 and 4 pools of 4, advance 2).

Pool winners take seeds 1..P in pool order, the runners-up the next seeds, each placed where the
athletes of its pool already drawn meet it latest. Athletes who did not leave their pool come after
every bracket athlete (from bracket size + 1) by pool rank, then wins, classification points,
finishes, technical points for, fewer against; tied through those, they share the placing.
"""

from __future__ import annotations

from services.core.domain.brackets import BracketFormat, FormatKind, Repechage, ThirdPlace
from tests.unit.bracket_tables.repechage import LADDERS, TWO_BRONZE
from tests.unit.bracket_tables.single import LATER_8
from tests.unit.bracket_tables.table import WAIT, Case

# athlete, pool rank, wins, points, finishes, tp for, tp against (only the rows past advance matter)
POOLS_8 = Case(
    name="pools-8",
    format=BracketFormat(FormatKind.POOLS_THEN_ELIMINATION, Repechage.NONE, ThirdPlace.BRONZE_BOUT, advance=2),
    pools=[
        [("A1", 1, 3, 15, 3, 9, 0), ("A2", 2, 2, 10, 2, 6, 3), ("A3", 3, 1, 5, 1, 4, 6), ("A4", 4, 0, 0, 0, 2, 9)],
        [("B1", 1, 3, 15, 3, 9, 0), ("B2", 2, 2, 10, 2, 6, 3), ("B3", 3, 1, 3, 0, 3, 5), ("B4", 4, 0, 0, 0, 2, 9)],
    ],
    # 4-draw, seed positions 1 4 2 3: seed 1 A1, seed 2 B1; seed 3 (position 4, beside B1) is A2
    # (meets A1 only in the final; B2 would meet B1 at once); seed 4 (position 2) is B2
    draw="A1 B2 B1 A2",
    initial={"r1-b1": "A1 B2", "r1-b2": "B1 A2", "final": WAIT, "bronze": WAIT},
    steps=[
        ("r1-b1", "B2", {"final": "B2 ?", "bronze": "A1 ?"}),
        ("r1-b2", "B1", {"final": "B2 B1", "bronze": "A1 A2"}),
        ("bronze", "A2", {}),
        ("final", "B1", {}),
    ],
    # pool thirds: A3 (5 points) before B3 (3); pool fourths A4, B4 tie through step 6: share 7
    placings={1: "B1", 2: "B2", 3: "A2", 4: "A1", 5: "A3", 6: "B3", 7: "A4 B4"},
)

POOLS_16 = Case(
    name="pools-16",
    format=BracketFormat(FormatKind.POOLS_THEN_ELIMINATION, Repechage.JUDO, advance=2),
    pools=[
        [("A1", 1, 3, 15, 3, 9, 0), ("A2", 2, 2, 10, 2, 6, 3), ("A3", 3, 1, 3, 0, 5, 5), ("A4", 4, 0, 0, 0, 1, 9)],
        [("B1", 1, 3, 15, 3, 9, 0), ("B2", 2, 2, 10, 2, 6, 3), ("B3", 3, 1, 5, 1, 3, 4), ("B4", 4, 0, 2, 0, 2, 8)],
        [("C1", 1, 3, 15, 3, 9, 0), ("C2", 2, 2, 10, 2, 6, 3), ("C3", 3, 1, 5, 1, 3, 4), ("C4", 4, 0, 0, 0, 1, 7)],
        [("D1", 1, 3, 15, 3, 9, 0), ("D2", 2, 2, 10, 2, 6, 3), ("D3", 3, 0, 1, 0, 2, 6), ("D4", 4, 0, 0, 0, 1, 9)],
    ],
    # 8-draw positions of seeds 1 8 4 5 2 7 3 6. Winners: A1 seed 1 (pos 1), B1 2 (pos 5), C1 3
    # (pos 7), D1 4 (pos 3). Seed 5 (pos 4, beside D1): B2 or C2 meet their winner only in the
    # final, the lower pool wins the tie: B2. Seed 6 (pos 8, beside C1): A2 or D2 (final), A2.
    # Seed 7 (pos 6, beside B1): D2 (final; C2 would meet C1 in the semifinal). Seed 8 (pos 2): C2.
    draw="A1 C2 D1 B2 B1 D2 C1 A2",
    initial={
        "r1-b1": "A1 C2",
        "r1-b2": "D1 B2",
        "r1-b3": "B1 D2",
        "r1-b4": "C1 A2",
    }
    | LATER_8
    | LADDERS
    | TWO_BRONZE,
    steps=[
        ("r1-b1", "A1", {"r2-b1": "A1 ?", "rep-top-1": "C2 ?"}),
        ("r1-b2", "B2", {"r2-b1": "A1 B2", "rep-top-1": "C2 D1"}),
        ("r1-b3", "B1", {"r2-b2": "B1 ?", "rep-bottom-1": "D2 ?"}),
        ("r1-b4", "C1", {"r2-b2": "B1 C1", "rep-bottom-1": "D2 A2"}),
        ("r2-b1", "A1", {"final": "A1 ?", "bronze-bottom": "? B2"}),
        ("r2-b2", "C1", {"final": "A1 C1", "bronze-top": "? B1"}),
        ("rep-top-1", "D1", {"bronze-top": "D1 B1"}),
        ("rep-bottom-1", "A2", {"bronze-bottom": "A2 B2"}),
        ("bronze-top", "D1", {}),
        ("bronze-bottom", "B2", {}),
        ("final", "C1", {}),
    ],
    # from 9: thirds B3 = C3 (1 win, 5 points, 1 finish, 3/4) share 9, A3 (3 points) 11, D3 (no win)
    # 12; fourths B4 (2 points) 13, then 0 points and tp for 1: C4 (7 against) 14, A4 = D4 share 15
    placings={
        1: "C1",
        2: "A1",
        3: "B2 D1",
        5: "A2 B1",
        7: "C2 D2",
        9: "B3 C3",
        11: "A3",
        12: "D3",
        13: "B4",
        14: "C4",
        15: "A4 D4",
    },
)

CASES = [POOLS_8, POOLS_16]
