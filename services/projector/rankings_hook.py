"""Hook for the federation ranking effects of a projector batch (SPEC §4).

Called by the projector inside the batch's transaction, after the standings of the batch were
written and before the consumer positions are saved, so the awards and the re-rank requests commit
atomically with the standings they derive from. The category re-rank itself runs in the rankings
stage (the indexer process), off the post → visible path and without a lock members share.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.rankings.awards import record_awards

DivisionKey = tuple[str, str]


def apply_ranking_effects(session: Session, touched: set[DivisionKey], finalized: set[DivisionKey]) -> None:
    """Awards of this batch's divisions and a re-rank request per changed category.

    ``finalized`` divisions (and touched divisions of a finalized tournament) get final awards from
    their standings; ``touched`` divisions of live tournaments get provisional awards (shown apart,
    not counted). Idempotent: a replayed finalize or an unchanged standings table writes nothing.
    Does not commit or roll back.
    """
    record_awards(session, touched, finalized)
