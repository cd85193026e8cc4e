"""The ranking change feed without a global lock: writers commit in any order, the reader never skips.

Sequence ids do not commit in order. A reader that remembered "the highest id done" would skip a
row committed late with a lower id; the feed is read in (txid, change_id) order below the oldest
running transaction instead (services/rankings/feed.py).
"""

from __future__ import annotations

import random
import threading
import time

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.rankings import feed
from services.rankings.model import START, FeedPosition
from tests.rankings_support import World, db_url, world

__all__ = ["db_url", "world"]


def _append(session: Session, athlete: str) -> int:
    return feed.append_changes(session, [("m-73kg", athlete)])[("m-73kg", athlete)]


def test_a_lower_id_committed_late_is_read_after_a_higher_one(world: World) -> None:
    first = Session(world.engine)
    second = Session(world.engine)
    try:
        first.begin()
        first.execute(sa.text("SELECT pg_current_xact_id()"))  # the older transaction
        second.begin()
        second.execute(sa.text("SELECT pg_current_xact_id()"))
        low = _append(second, "late")  # the younger transaction takes the lower id...
        high = _append(first, "early")  # ...the older one the higher id, and commits first
        assert low < high
        first.commit()
        with Session(world.engine) as reader:
            seen = feed.read_changes(reader, START, 100)
        assert [c.change_id for c in seen] == [high]
        position = seen[-1].position
        second.commit()
        with Session(world.engine) as reader:
            later = feed.read_changes(reader, position, 100)
        assert [c.change_id for c in later] == [low]  # an id-based position would have skipped it
        assert later[0].position > position
    finally:
        first.close()
        second.close()


def test_concurrent_writers_and_a_reader_lose_nothing(world: World) -> None:
    written: list[int] = []
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for i in range(40):
                with Session(world.engine) as session, session.begin():
                    change = _append(session, f"w{seed}-{i}")
                    time.sleep(rng.random() * 0.01)  # hold the transaction open a little, unevenly
                with lock:
                    written.append(change)
        except BaseException as exc:
            errors.append(exc)

    seen: list[int] = []
    position: FeedPosition = START

    def reader() -> None:
        nonlocal position
        while not stop.is_set():
            with Session(world.engine) as session:
                batch = feed.read_changes(session, position, 7)
            if batch:
                seen.extend(c.change_id for c in batch)
                position = batch[-1].position
            else:
                stop.wait(0.005)

    threads = [threading.Thread(target=writer, args=(s,)) for s in range(4)]
    read = threading.Thread(target=reader)
    read.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    deadline = time.monotonic() + 10
    while len(seen) < len(written) and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    read.join(10)
    assert not errors
    assert len(written) == 160
    assert sorted(seen) == sorted(written)  # every row once, none skipped, none twice
