"""The revision log of each bracket division of a batch, as it stands at each point of the batch.

A bracket result can be applied only if both of its bout's slots are known *at its place in the
log* (SPEC §7): the stored revisions of the division's bouts plus the ones the batch accepted before
it. ``rejects`` answers that from the pure domain (``bracket_division.rejected``: the reason is
``slot_not_determined`` or ``no_bout``); ``add`` appends an accepted revision. A division's state is
recomputed only when a check follows a change. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping

from services.core import events
from services.core.domain.bracket_division import AnyRevision, BracketDivision, BracketProjection, project, rejected
from services.core.domain.brackets import FoughtResult
from services.core.domain.codec import StoredRevision, decode_bracket_revision
from services.core.domain.first_applied import RevisionKey
from services.core.domain.projection import DivisionKey
from services.core.domain.ruleset import Ruleset


def bracket_revision(event: events.ResultRecorded | events.ResultVoided) -> AnyRevision:
    """The event as a bracket revision: a result with the athletes it was fought between, a void,
    or a bare result (no athletes: it cannot be placed in the bracket)."""
    if isinstance(event, events.ResultVoided):
        return event.to_domain()
    athletes = event.athletes
    return event.to_domain() if athletes is None else FoughtResult(event.to_domain(), *athletes)


class BracketLogs:
    """The logs of the batch's bracket divisions, started from the stored revisions."""

    __slots__ = ("_divisions", "_logs", "_projections", "_stored")

    def __init__(
        self, divisions: Mapping[DivisionKey, BracketDivision], stored: Mapping[RevisionKey, StoredRevision]
    ) -> None:
        self._divisions = divisions
        self._stored = stored
        self._logs: dict[DivisionKey, list[AnyRevision]] = {}
        self._projections: dict[DivisionKey, BracketProjection] = {}

    def __contains__(self, key: object) -> bool:
        return key in self._divisions

    def _log(self, key: DivisionKey) -> list[AnyRevision]:
        log = self._logs.get(key)
        if log is None:
            ids = self._divisions[key].bout_ids
            log = self._logs[key] = [
                decode_bracket_revision(bout, revision, stored.kind, stored.payload)
                for (bout, revision), stored in self._stored.items()
                if bout in ids
            ]
        return log

    def rejects(self, key: DivisionKey, rev: AnyRevision, ruleset: Ruleset) -> tuple[str, str] | None:
        """(reason, detail) when ``rev`` cannot be applied at this point of the log, else None."""
        projection = self._projections.get(key)
        if projection is None:
            division = self._divisions[key]
            projection = project(division.spec, division.pool_bouts, self._log(key), ruleset)
            self._projections[key] = projection
        return rejected(projection, rev)

    def add(self, key: DivisionKey, rev: AnyRevision) -> None:
        """An accepted revision of the division (its state is recomputed at the next check)."""
        self._log(key).append(rev)
        self._projections.pop(key, None)
