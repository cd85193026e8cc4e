"""Hook for the federation ranking effects of a projector batch (SPEC §4).

Called by the projector inside the batch's transaction, after the standings of the batch were
written and before the consumer positions are saved, so awards, ranking rows and the
``ranking_changes`` outbox commit atomically with the standings they derive from.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

DivisionKey = tuple[str, str]


def apply_ranking_effects(session: Session, touched: set[DivisionKey], finalized: set[DivisionKey]) -> None:
    """Apply ranking effects for this batch. A no-op until the rankings engineer fills it in.

    ``touched``: (tournament_id, division_id) whose standings were recomputed in this transaction
    (provisional awards of live tournaments change). ``finalized``: divisions whose
    ``tournament_finalized`` event was applied in this transaction (awards become final; a replayed
    finalize can arrive again, so the effects must be idempotent). Must not commit or roll back.
    """
    return None
