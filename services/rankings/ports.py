"""The rankings package's ports: what the indexer writes documents through and where it keeps its
place in the feed. Production adapters: ``BulkWriter`` (services.core.search.bulk) and
:class:`PgPositionStore`; fakes in tests/fakes.py; one contract test suite runs against both
(tests/integration/test_contracts.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from services.core.search.bulk import Action, BulkStats
from services.rankings import feed
from services.rankings.model import FeedPosition


class SearchWriter(Protocol):
    """Bulk writes with external versions: a document keeps its highest version; an older write is a
    conflict (counted, not an error), a delete at a version removes it."""

    def write(
        self, index: str, actions: Sequence[Action], *, require_alias: bool = False, retry_timeouts: bool = False
    ) -> BulkStats: ...


class PositionStore(Protocol):
    """A feed reader's position: ``advance`` never moves it backwards, ``rewind`` only backwards."""

    def get(self) -> FeedPosition: ...
    def advance(self, done: FeedPosition) -> None: ...
    def rewind(self, done: FeedPosition) -> None: ...


class PgPositionStore:
    """``feed_positions`` in PostgreSQL, one short transaction per call."""

    def __init__(self, engine: Engine, reader: str = feed.INDEXER) -> None:
        self._engine = engine
        self._reader = reader

    def get(self) -> FeedPosition:
        with Session(self._engine) as session:
            return feed.get_position(session, self._reader)

    def advance(self, done: FeedPosition) -> None:
        with Session(self._engine) as session, session.begin():
            feed.advance_position(session, done, self._reader)

    def rewind(self, done: FeedPosition) -> None:
        with Session(self._engine) as session, session.begin():
            feed.rewind_position(session, done, self._reader)
