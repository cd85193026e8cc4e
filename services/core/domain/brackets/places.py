"""The placing each bout position gives its loser (and the final's and bronze bouts' winners), SPEC §7."""

from __future__ import annotations

from services.core.domain.brackets.formats import BracketFormat, Repechage, ThirdPlace

FINAL_PLACES = (1, 2)
REPECHAGE_LOSER_PLACE = 7


def semifinal_loser_place(fmt: BracketFormat) -> int:
    """Where a semifinal loser ends if the bronze bout they go on to is lost (3 when they share 3rd)."""
    if fmt.repechage is not Repechage.NONE:
        return 5
    return 3 if fmt.third_place is ThirdPlace.SHARED else 4


def main_loser_place(fmt: BracketFormat, rounds: int, round_: int) -> int:
    """The loser's placing of a main round: by the athletes in that round (round of 16 -> 9, of 32
    -> 17, ...); quarterfinal losers 5, or 7 with repechage; the bracket size decides, not the entrants."""
    if round_ == rounds:
        return FINAL_PLACES[1]
    if round_ == rounds - 1:
        return semifinal_loser_place(fmt)
    athletes = 2 ** (rounds - round_ + 1)
    if athletes == 8 and fmt.repechage is not Repechage.NONE:
        return REPECHAGE_LOSER_PLACE
    return athletes // 2 + 1


def bronze_places(fmt: BracketFormat) -> tuple[int, int]:
    """(winner, loser) of a bronze bout: 3 and 4 with one bronze bout, 3 and a shared 5 with two."""
    return (3, 4) if fmt.bronze_bouts == 1 else (3, 5)
