"""The loop's few reads and writes outside a batch, behind one small port (unit tests use a fake).

The batch itself (and its positions, in the same transaction) is :class:`BatchApplier`'s; these are
the positions read on assignment, this member's ``consumer_members`` row and the recovery probe.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from services.core.db import consumers


@dataclass(frozen=True, slots=True)
class MemberReport:
    """One heartbeat of this member: what ``consumer_members`` shows for it."""

    member_id: str
    assigned: Sequence[int]
    lag: Mapping[str, int]
    fingerprint: str
    config: Mapping[str, Any] = field(default_factory=dict)


class GroupStore(Protocol):
    def load_positions(self, partitions: Sequence[int]) -> dict[int, int]:
        """Next offsets stored in PostgreSQL for this group's ``partitions`` of the topic."""
        ...

    def save_member(self, report: MemberReport, previous: str | None) -> None:
        """Upsert this member's row (deleting the row of its ``previous`` member id, if another)."""
        ...

    def delete_member(self, member_id: str) -> None: ...

    def ping(self) -> None:
        """Raise unless PostgreSQL answers."""
        ...


class SqlGroupStore:
    """:class:`GroupStore` on PostgreSQL (``consumer_positions``, ``consumer_members``)."""

    def __init__(self, sessions: sessionmaker[Session], group: str, topic: str) -> None:
        self._sessions = sessions
        self._group = group
        self._topic = topic

    def load_positions(self, partitions: Sequence[int]) -> dict[int, int]:
        with self._sessions() as session:
            return consumers.load_positions(session, self._group, self._topic, partitions)

    def save_member(self, report: MemberReport, previous: str | None) -> None:
        with self._sessions() as session, session.begin():
            if previous and previous != report.member_id:
                consumers.delete_member(session, self._group, previous)
            consumers.upsert_member(
                session,
                group=self._group,
                member_id=report.member_id,
                host=socket.gethostname(),
                pid=os.getpid(),
                fingerprint=report.fingerprint,
                config=report.config,
                assigned=report.assigned,
                lag=report.lag,
            )

    def delete_member(self, member_id: str) -> None:
        with self._sessions() as session, session.begin():
            consumers.delete_member(session, self._group, member_id)

    def ping(self) -> None:
        with self._sessions() as session:
            session.execute(text("SELECT 1"))
