"""First applied wins (SPEC §6): the rule for two submissions at one (bout, revision).

Revisions are offered in consumption order (the projector: a batch after what is stored; a replay:
the log in offset order). The first payload offered, or already stored, for a (bout, revision) is
the one that stands; the same payload again is a duplicate (absorbed), a different one a conflict
(recorded, never merged). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import NamedTuple

from services.core.domain.codec import StoredRevision

RevisionKey = tuple[str, int]  # (bout_id, revision)


class Verdict(StrEnum):
    NEW = "new"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"


class Outcome(NamedTuple):
    verdict: Verdict
    # The revision that stands at the key: the offered one when new, else the first applied.
    applied: StoredRevision


class FirstAppliedWins:
    """Classifies offered revisions against those applied before and those offered earlier."""

    __slots__ = ("_accepted", "_stored")

    def __init__(self, stored: Mapping[RevisionKey, StoredRevision] | None = None) -> None:
        self._stored: Mapping[RevisionKey, StoredRevision] = stored if stored is not None else {}
        self._accepted: dict[RevisionKey, StoredRevision] = {}

    def offer(self, key: RevisionKey, revision: StoredRevision) -> Outcome:
        """Classify ``revision`` at ``key``; a new one is accepted (it wins against later offers)."""
        prior = self._accepted.get(key)
        if prior is None:
            prior = self._stored.get(key)
        if prior is None:
            self._accepted[key] = revision
            return Outcome(Verdict.NEW, revision)
        return Outcome(Verdict.DUPLICATE if prior == revision else Verdict.CONFLICT, prior)

    @property
    def accepted(self) -> Mapping[RevisionKey, StoredRevision]:
        """The revisions accepted as new, in the order they were offered."""
        return self._accepted

    def standing(self) -> dict[RevisionKey, StoredRevision]:
        """Every (bout, revision) that stands: the stored ones and the accepted ones."""
        return {**self._stored, **self._accepted}
