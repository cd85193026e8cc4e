"""Hook for the federation ranking effects of a projector batch (SPEC §4).

Called by the projector inside the batch's transaction, after the standings of the batch were
written and before the consumer positions are saved, so awards, ranking rows and the
``ranking_changes`` outbox commit atomically with the standings they derive from.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.core.db import rankings

DivisionKey = tuple[str, str]


def apply_ranking_effects(session: Session, touched: set[DivisionKey], finalized: set[DivisionKey]) -> None:
    """Awards, ranking rows and outbox rows for this batch (see ``rankings.apply_ranking_effects``).

    ``finalized`` divisions (and touched divisions of a finalized tournament) get final awards from
    their standings and their category is re-ranked; ``touched`` divisions of live tournaments get
    provisional awards (shown apart, not counted). Idempotent: a replayed finalize or an unchanged
    standings table writes nothing. Does not commit or roll back.
    """
    rankings.apply_ranking_effects(session, touched, finalized)
