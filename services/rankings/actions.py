"""Feed rows -> bulk actions: one action per document, for the document's current state."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from services.core.search.bulk import Action
from services.rankings.documents import delete_action, index_action
from services.rankings.model import Change, DocKey
from services.rankings.records import load_records


def coalesce(changes: Sequence[Change]) -> dict[DocKey, int]:
    """Latest change id per document: ten changes of one athlete become one write."""
    latest: dict[DocKey, int] = {}
    for change in changes:
        key = (change.category, change.athlete_id)
        if change.change_id > latest.get(key, 0):
            latest[key] = change.change_id
    return latest


def actions_for(session: Session | Connection, changes: Sequence[Change]) -> list[Action]:
    """Index the current row of every changed document; delete those whose row is gone.

    The current row carries its own version (>= the change's), so reading it later than the change
    was written is safe; a delete is versioned with the change that removed the row.
    """
    latest = coalesce(changes)
    records = load_records(session, list(latest))
    actions: list[Action] = []
    for key, change_id in sorted(latest.items()):
        record = records.get(key)
        actions.append(index_action(record) if record is not None else delete_action(key, change_id))
    return actions
