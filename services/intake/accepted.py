"""The revisions this intake has accepted (202) and is producing, so a second device gets its 409 now.

The ``results`` table only shows what the projector has applied; between a 202 and that commit a
different payload for the same (bout, revision) from a second tablet would be accepted too and only
become a recorded conflict in the projector (first applied wins). This process keeps, per bout, the
revisions it has claimed: a claim is a dictionary lookup on the event loop (no I/O, no lock: the
check and the claim run without an ``await`` between them), bounded by an LRU of bouts.

Another intake process does not see these claims; the projector's conflict record stays the guard
across processes (SPEC §6).
"""

from __future__ import annotations

from collections import OrderedDict

from services.core.domain.results import BoutVoid, Revision, is_same_payload
from services.core.errors import Conflict

DEFAULT_MAX_BOUTS = 50_000
CONFLICTING_REVISION = "conflicting_revision"
STALE_REVISION = "stale_revision"


class AcceptedRevisions:
    """Per bout, the revisions accepted here (at most ``max_bouts`` bouts, least recently posted dropped)."""

    def __init__(self, max_bouts: int = DEFAULT_MAX_BOUTS) -> None:
        self._max_bouts = max_bouts
        self._bouts: OrderedDict[str, dict[int, Revision]] = OrderedDict()

    def claim(self, posted: Revision) -> bool:
        """Claim ``posted``'s (bout, revision); True when it is a new claim, False for an exact repost.

        Raise Conflict (409) when a different payload holds that revision here, or a higher revision
        of the bout was accepted here (the post is stale).
        """
        revisions = self._bouts.get(posted.bout_id)
        if revisions is None:
            revisions = self._bouts[posted.bout_id] = {}
            if len(self._bouts) > self._max_bouts:
                self._bouts.popitem(last=False)
        self._bouts.move_to_end(posted.bout_id)
        held = revisions.get(posted.revision)
        if held is not None:
            if is_same_payload(held, posted):
                return False
            raise Conflict(
                f"revision {posted.revision} of bout {posted.bout_id!r} was already accepted with a different "
                f"{_kind(held)}; post revision {max(revisions) + 1} to correct it",
                applied_revision=max(revisions),
                reason=CONFLICTING_REVISION,
            )
        latest = max(revisions, default=0)
        if latest > posted.revision:
            raise Conflict(
                f"bout {posted.bout_id!r} is already at revision {latest}; "
                f"revision {posted.revision} is stale, post revision {latest + 1} to correct it",
                applied_revision=latest,
                reason=STALE_REVISION,
            )
        revisions[posted.revision] = posted
        return True

    def release(self, posted: Revision) -> None:
        """Drop a claim whose event was not produced (the post failed), so a retry may claim it again."""
        revisions = self._bouts.get(posted.bout_id)
        if revisions is not None and revisions.get(posted.revision) == posted:
            del revisions[posted.revision]

    def latest(self, bout_id: str) -> Revision | None:
        """The highest revision of ``bout_id`` accepted here (None: none, or forgotten)."""
        revisions = self._bouts.get(bout_id)
        return revisions[max(revisions)] if revisions else None


def _kind(revision: Revision) -> str:
    return "void" if isinstance(revision, BoutVoid) else "result"
