"""What a projector member remembers of each round-robin division it projected: the standings
inputs (entries, bouts, effective results) and the published rows, as of the division's version.

A batch then reads and decodes only its own revisions instead of every stored revision of each
division it touches. PostgreSQL stays the system of record: an entry is used only while
``divisions.version``, which the batch reads under its row lock, is still the version this member
left; every other writer bumps it (another member after a rebalance, a registration refresh, a
replay repair), and the division is read again. Entries are replaced only once their batch has
committed; a failed batch forgets everything.
"""

from __future__ import annotations

from collections.abc import KeysView, Mapping
from dataclasses import dataclass

from services.core.db.projection import DivisionInput, Known
from services.core.domain.codec import decode_revision
from services.core.domain.projection import DivisionKey
from services.core.domain.results import BoutResult
from services.core.domain.standings import StandingsChange, StoredStanding
from services.core.planning.batch import BatchPlan, StoredState


@dataclass(slots=True)
class _Entry:
    version: int
    inputs: DivisionInput
    published: dict[str, StoredStanding]
    bout_ids: frozenset[str]


class DivisionMemory:
    """Per process; not shared between threads (the DB worker thread alone uses it)."""

    def __init__(self, max_divisions: int = 20_000) -> None:
        self._entries: dict[DivisionKey, _Entry] = {}
        self._pending: dict[DivisionKey, tuple[DivisionInput, dict[str, StoredStanding]]] = {}
        self._max = max_divisions

    def known(self, plan: BatchPlan, state: StoredState) -> Known:
        """Inputs and published rows of the batch's divisions still at the remembered version,
        with the batch's effective results applied."""
        self._pending = {}
        usable: dict[DivisionKey, _Entry] = {}
        for key in {(r.tournament_id, r.division_id) for r in plan.new_revisions}:
            entry = self._entries.get(key)
            info = state.divisions.get(key)
            if entry is not None and info is not None and info.version == entry.version and key not in state.brackets:
                usable[key] = entry
        if not usable:
            return {}
        # Decode only the changed bouts of divisions served from memory (the others are read again).
        owner = {bout: key for key, entry in usable.items() for bout in entry.bout_ids}
        results = {key: dict(entry.inputs.results) for key, entry in usable.items()}
        for bout, result in _effective_after(plan, state, owner.keys()).items():
            if result is None:
                results[owner[bout]].pop(bout, None)
            else:
                results[owner[bout]][bout] = result
        return {
            key: (DivisionInput(entry.inputs.entries, entry.inputs.bouts, results[key]), entry.published)
            for key, entry in usable.items()
        }

    def remember(
        self,
        key: DivisionKey,
        inputs: DivisionInput,
        published: dict[str, StoredStanding],
        change: StandingsChange | None,
    ) -> None:
        """A division's inputs and rows as this batch leaves them (kept once it commits)."""
        if inputs.bracket is not None:
            return
        rows = dict(published)
        if change:
            for athlete in change.deletes:
                rows.pop(athlete, None)
            rows.update({s.row.athlete_id: s for s in change.upserts})
        self._pending[key] = (inputs, rows)

    def committed(self, versions: Mapping[DivisionKey, int]) -> None:
        """The batch committed: its divisions are at ``versions`` now."""
        if len(self._entries) + len(self._pending) > self._max:
            self._entries.clear()
        for key, (inputs, rows) in self._pending.items():
            version = versions.get(key)
            if version is None:
                self._entries.pop(key, None)
                continue
            self._entries[key] = _Entry(version, inputs, rows, frozenset(b.bout_id for b in inputs.bouts))
        self._pending = {}

    def forget(self) -> None:
        """After a failed batch (or when told to): read every division again."""
        self._entries.clear()
        self._pending = {}

    def __len__(self) -> int:
        return len(self._entries)


def _effective_after(plan: BatchPlan, state: StoredState, bouts: KeysView[str]) -> dict[str, BoutResult | None]:
    """Each of ``bouts`` whose effective result the batch changes -> its effective result after it."""
    new = {(r.bout_id, r.revision): r for r in plan.new_revisions if r.bout_id in bouts}
    after: dict[str, BoutResult | None] = dict.fromkeys(plan.changed_bouts & bouts)
    for bout, revision in plan.effective_new:
        if bout not in bouts:
            continue
        r = new[(bout, revision)]
        after[bout] = _result(decode_revision(bout, revision, r.kind, r.payload))
    for bout, revision, effective in plan.flips:
        if effective and bout in bouts:
            stored = state.revisions[(bout, revision)]
            after[bout] = _result(decode_revision(bout, revision, stored.kind, stored.payload))
    return after


def _result(revision: object) -> BoutResult | None:
    return revision if isinstance(revision, BoutResult) else None
