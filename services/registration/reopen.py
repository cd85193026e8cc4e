"""Re-opening a finalized tournament: an explicit, audited admin action with its ranking effects.

A registration file never un-finalizes a tournament (see ``services.core.domain.lifecycle``). When
an organiser truly must (a result was wrong after the medals), this is the one way: in one
transaction the tournament goes back to ``live``, its divisions forget ``finalized_at`` (so a new
``tournament_finalized`` applies again), their awards turn provisional and their categories are
re-ranked (which reaches the index through the ranking change feed), the standings bodies are
refreshed (version + NOTIFY), and the action is recorded in ``admin_actions`` with who and why.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from services.core.db.schema import AdminAction, Division, Tournament
from services.core.errors import Conflict, NotFound
from services.core.logging import get_logger
from services.rankings.rerank import apply_ranking_effects
from services.registration.refresh import DivisionKey, divisions_of_tournament, lock_divisions, refresh_divisions

log = get_logger(__name__)
REOPEN = "reopen"


@dataclass(frozen=True, slots=True)
class Reopened:
    tournament_id: str
    action_id: int
    versions: dict[DivisionKey, int]
    ranking_documents: int


def reopen_tournament(session: Session, tournament_id: str, *, token_id: str, reason: str) -> Reopened:
    """Finalized → live with every effect, in the caller's transaction. 404 unknown, 409 not finalized."""
    keys = divisions_of_tournament(session, tournament_id)
    lock_divisions(session, keys)  # the projector's order: divisions first, then the tournament
    status = session.scalar(
        select(Tournament.status).where(Tournament.tournament_id == tournament_id).with_for_update()
    )
    if status is None:
        raise NotFound(f"tournament {tournament_id!r} does not exist")
    if status != "finalized":
        raise Conflict(f"tournament {tournament_id!r} is {status}; only a finalized tournament can be re-opened")
    session.execute(
        update(Tournament).where(Tournament.tournament_id == tournament_id).values(status="live", finalized_at=None)
    )
    session.execute(update(Division).where(Division.tournament_id == tournament_id).values(finalized_at=None))
    documents = apply_ranking_effects(session, set(keys), set())
    versions = refresh_divisions(session, keys)
    action = AdminAction(
        action=REOPEN,
        tournament_id=tournament_id,
        token_id=token_id,
        reason=reason,
        details={"divisions": sorted(d for _, d in keys), "ranking_documents": documents},
    )
    session.add(action)
    session.flush()
    log.warning(
        "tournament_reopened",
        tournament_id=tournament_id,
        token_id=token_id,
        reason=reason,
        divisions=len(keys),
        ranking_documents=documents,
        action_id=action.action_id,
    )
    return Reopened(tournament_id, action.action_id, versions, documents)


def admin_actions(session: Session, tournament_id: str) -> list[AdminAction]:
    """The tournament's audit trail, oldest first."""
    return list(
        session.scalars(
            select(AdminAction).where(AdminAction.tournament_id == tournament_id).order_by(AdminAction.action_id)
        )
    )
