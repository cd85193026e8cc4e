"""A tournament's lifecycle: ``scheduled`` → ``live`` → ``finalized``, and what may move it.

Results move a tournament forward (the first result makes it ``live``; ``tournament_finalized``
events finalize it). A registration file or an admin write describes registration data: it may
set the status of a new tournament, and may move an existing one from ``scheduled`` to ``live``,
but never backwards (re-importing a file must not undo a finalized tournament and its counted
points) and never to ``finalized`` (finalizing awards ranking points: that is the finalize
action, through the event stream). Re-opening a finalized tournament is an explicit admin action.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["scheduled", "live", "finalized"]
ORDER: dict[str, int] = {"scheduled": 0, "live": 1, "finalized": 2}


@dataclass(frozen=True, slots=True)
class KeptStatus:
    """A status the registration data asked for and did not get."""

    tournament_id: str
    status: str  # what the tournament keeps
    requested: str  # what the file or write asked for
    reason: str


def registration_status(tournament_id: str, stored: str | None, requested: str) -> tuple[str, KeptStatus | None]:
    """The status a registration write leaves, and the kept-status note when it refuses ``requested``."""
    if stored is None or stored == requested:
        return requested, None
    if ORDER[requested] < ORDER[stored]:
        reason = (
            "a registration file never moves a tournament backwards; re-open it with the admin API's "
            f"POST /v1/tournaments/{tournament_id}/reopen"
            if stored == "finalized"
            else "a registration file never moves a tournament backwards"
        )
        return stored, KeptStatus(tournament_id, stored, requested, reason)
    if requested == "finalized":
        reason = f"finalize with the intake's POST /v1/tournaments/{tournament_id}/finalize (it awards the points)"
        return stored, KeptStatus(tournament_id, stored, requested, reason)
    return requested, None
