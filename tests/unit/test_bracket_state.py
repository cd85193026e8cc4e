"""Who fights a bout (the intake's question), what the projector rejects, provisional placings and
per-athlete rows (SPEC §7); expected values written by hand."""

from __future__ import annotations

import pytest

from services.core.domain.brackets import (
    NO_BOUT,
    SLOT_NOT_DETERMINED,
    BracketFormat,
    FoughtResult,
    OpenSlot,
    Participants,
    Placing,
    Repechage,
    ThirdPlace,
    UnknownBout,
    apply_revision,
    bracket_rows,
    bracket_state,
    build_bracket,
    draw_from_seeds,
    final_placings,
    participants,
    placings,
    rejection,
)
from services.core.domain.results import BoutResult, BoutVoid, InvalidResult, Method, Score, Winner
from services.core.domain.ruleset import COMBAT_DEFAULT
from services.core.domain.standings import StandingRow

JUDO = BracketFormat(repechage=Repechage.JUDO)


def won(bout_id: str, revision: int, red: str, blue: str, winner: str, method=Method.KO, score=(0, 0)) -> FoughtResult:
    colour = Winner.RED if winner == red else Winner.BLUE
    return FoughtResult(BoutResult(bout_id, revision, colour, method, Score(*score)), red, blue)


def test_participants_name_the_open_slot() -> None:
    bracket = build_bracket("d", JUDO, draw_from_seeds(list("ABCDEFGH")))
    state = bracket_state(bracket, [won("d-r1-b1", 1, "A", "H", "A")])
    assert participants(state, "d-r1-b2") == Participants("d-r1-b2", "D", "E", False, ())
    assert participants(state, "d-r2-b1") == Participants(
        "d-r2-b1", "A", None, False, (OpenSlot("blue", "the winner of d-r1-b2"),)
    )
    assert participants(state, "d-r2-b1").problem() == "d-r2-b1: blue slot waits for the winner of d-r1-b2"
    assert participants(state, "d-rep-top-1").problem() == "d-rep-top-1: blue slot waits for the loser of d-r1-b2"
    assert participants(state, "d-r1-b2").problem() is None
    with pytest.raises(UnknownBout):
        participants(state, "d-r9-b1")


def test_wrestling_ladder_waits_for_both_finalists() -> None:
    bracket = build_bracket("d", BracketFormat(repechage=Repechage.WRESTLING), draw_from_seeds(list("ABCDEFGH")))
    state = bracket_state(bracket, [])
    assert participants(state, "d-bronze-top").open_slots == (
        OpenSlot("red", "the athlete the top half's finalist beat in round 1 (known once both finalists are)"),
        OpenSlot("blue", "the loser of d-r2-b2"),
    )


def test_a_bye_is_no_bout_and_the_projector_rejects_what_cannot_be_fought() -> None:
    bracket = build_bracket("d", JUDO, draw_from_seeds(list("ABCDE")))  # A - D E B - C -
    state = bracket_state(bracket, [])
    assert participants(state, "d-r1-b1") == Participants("d-r1-b1", "A", None, True, ())
    assert participants(state, "d-r1-b1").problem() == "d-r1-b1 is a bye: there is no bout to record"
    assert rejection(state, won("d-r1-b1", 1, "A", "X", "A")) == NO_BOUT
    assert rejection(state, won("d-final", 1, "A", "C", "A")) == SLOT_NOT_DETERMINED
    assert rejection(state, BoutVoid("d-final", 1)) is None
    assert rejection(state, won("d-r2-b2", 1, "B", "C", "C")) is None
    # fought between others than the slots hold: applied, and shown invalidated
    assert rejection(state, won("d-r2-b2", 1, "B", "X", "B")) is None
    with pytest.raises(UnknownBout):
        rejection(state, won("x-final", 1, "A", "C", "A"))


def test_fought_result_validation() -> None:
    with pytest.raises(InvalidResult, match="two different athletes"):
        won("d-final", 1, "A", "A", "A").validate()
    with pytest.raises(InvalidResult, match="draw"):
        FoughtResult(BoutResult("d-final", 1, Winner.RED, Method.DRAW, Score(1, 1)), "A", "B").validate()


def test_provisional_placings_are_secured_floors() -> None:
    bracket = build_bracket("d", JUDO, draw_from_seeds(list("ABCDEFGH")))  # A-H D-E B-G C-F
    state = bracket_state(bracket, [won("d-r1-b1", 1, "A", "H", "A"), won("d-r1-b2", 1, "D", "E", "E")])
    # A and E meet in the semifinal: losing it still leads to a bronze bout, so 5 is secured;
    # H and D are in the repechage (7 if they lose it); B, G, C, F lose a quarterfinal at worst: 7
    assert placings(state) == (
        Placing(5, "A", False),
        Placing(5, "E", False),
        *(Placing(7, a, False) for a in "BCDFGH"),
    )
    assert final_placings(state) is None


@pytest.mark.parametrize(
    ("repechage", "decided"), [(Repechage.NONE, True), (Repechage.JUDO, True), (Repechage.WRESTLING, False)]
)
def test_a_round_one_loser_is_decided_unless_a_wrestling_ladder_may_take_them(repechage, decided) -> None:
    bracket = build_bracket("d", BracketFormat(repechage=repechage), draw_from_seeds(list("ABCDEFGHIJKLMNOP")))
    state = bracket_state(bracket, [won("d-r1-b1", 1, "A", "P", "A")])
    assert [p for p in placings(state) if p.athlete_id == "P"] == [Placing(9, "P", decided)]


def test_rows_count_the_decided_bouts_with_the_ruleset() -> None:
    bracket = build_bracket("d", BracketFormat(third_place=ThirdPlace.BRONZE_BOUT), draw_from_seeds(list("ABCD")))
    # draw A D B C: r1-b1 A v D, r1-b2 B v C; bronze is r1-b1's loser v r1-b2's loser
    draw_first = FoughtResult(BoutResult("d-r1-b1", 1, Winner.DRAW, Method.DRAW, Score(2, 2)), "A", "D")
    log = [
        draw_first,
        won("d-r1-b1", 2, "A", "D", "A", Method.POINTS, (5, 3)),
        won("d-r1-b2", 1, "B", "C", "C", Method.TECHNICAL_SUPERIORITY, (0, 10)),
        won("d-final", 1, "A", "C", "A", Method.KO, (2, 0)),
        # correction: D won r1-b1 by fall. The final's result (A v C) no longer counts.
        won("d-r1-b1", 3, "A", "D", "D", Method.FALL, (1, 0)),
        won("d-bronze", 1, "A", "B", "B", Method.DECISION, (2, 4)),
    ]
    state = bracket_state(bracket, log)
    rows = bracket_rows(state, placings(state), COMBAT_DEFAULT)
    # A: lost r1-b1 (fall 0, tp 1/0), lost bronze (decision, scored 2 -> 1; tp 2/4) -> 1 point, 3/4
    # B: lost r1-b2 (tech sup, did not score -> 0; tp 0/10), won bronze (decision 3; tp 4/2) -> 3, 4/12
    # C: won r1-b2 (tech sup 4, not a finish; tp 10/0); the final is invalidated -> 1 bout
    # D: won r1-b1 (fall 5, a finish; tp 0/1). C and D are in the final still to fight: 2 secured.
    assert rows == [
        StandingRow("C", 2, 1, 1, 0, 0, 4, 0, 10, 0, False),
        StandingRow("D", 2, 1, 1, 0, 0, 5, 1, 0, 1, False),
        StandingRow("B", 3, 2, 1, 1, 0, 3, 0, 4, 12, False),
        StandingRow("A", 4, 2, 0, 2, 0, 1, 0, 3, 4, False),
    ]
    # while the draw is the revision that counts, r1-b1 counts in no row
    only_draw = bracket_state(bracket, [draw_first])
    assert [r.bouts for r in bracket_rows(only_draw, placings(only_draw), COMBAT_DEFAULT)] == [0, 0, 0, 0]


def test_apply_revision_ignores_other_bouts_and_older_revisions() -> None:
    bracket = build_bracket("d", JUDO, draw_from_seeds(list("ABCDEFGH")))
    state = bracket_state(bracket, [won("d-r1-b1", 2, "A", "H", "A")])
    assert apply_revision(state, won("x-r1-b1", 1, "A", "H", "H")) is state
    assert apply_revision(state, won("d-r1-b1", 1, "A", "H", "H")) is state
    assert apply_revision(state, won("d-r1-b1", 2, "A", "H", "A")) is state
    assert apply_revision(state, BoutVoid("d-r1-b1", 3))["d-r1-b1"].winner != "A"
