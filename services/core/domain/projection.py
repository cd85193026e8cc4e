"""Value types of a projection batch: planned by ``services.core.planning.batch``, written by
``services.core.db.projection``. Pure data, no I/O."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from services.core.domain.codec import Payload

DivisionKey = tuple[str, str]


class BoutPlace(Protocol):
    """Where a registered bout belongs (``registration.BoutInfo`` has this shape)."""

    @property
    def tournament_id(self) -> str: ...

    @property
    def division_id(self) -> str: ...


class DivisionInfo(NamedTuple):
    """What a batch needs of a division: its tournament's ruleset and status, whether it was finalized."""

    ruleset: str
    tournament_status: str
    finalized: bool = False
    version: int = 0  # divisions.version when the batch locked it


class NewRevision(NamedTuple):
    """A (bout, revision) applied for the first time, with where it came from."""

    tournament_id: str
    division_id: str
    bout_id: str
    revision: int
    kind: str
    payload: Payload
    event_id: uuid.UUID
    occurred_at: dt.datetime
    partition: int
    offset: int


class ConflictRecord(NamedTuple):
    """A second, different payload for an applied (bout, revision): the revision offered (never
    applied, its event id not recorded) and the payload applied first, which counts."""

    offered: NewRevision
    applied_payload: Payload


@dataclass(slots=True)
class DivisionMark:
    """Where a division's latest change in a batch came from (``divisions.last_*``)."""

    last_event_at: dt.datetime
    partition: int
    offset: int
