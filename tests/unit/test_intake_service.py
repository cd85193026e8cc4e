"""The intake's unit of work on fakes (tests/fakes.py): what it sends through the EventSender port,
with the clock it was given. The fakes are held to their adapters' contracts in
tests/integration/test_contracts.py."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from services.core import events
from services.core.db.registration import BoutInfo
from services.intake.repository import PostTarget
from services.intake.schemas import ResultIn
from services.intake.service import IntakeService
from tests.fakes import FakeEventSender, FakePostTargets, FixedClock


@contextmanager
def no_session() -> Iterator[None]:
    yield None


def test_a_result_is_sent_keyed_by_division_with_the_given_clock() -> None:
    targets = FakePostTargets()
    targets.add(PostTarget(BoutInfo("b-7", "cup", "m-73kg", "a1", "a2"), "combat-default", []))
    sender, clock = FakeEventSender(), FixedClock()
    service = IntakeService(no_session, sender, targets, clock=clock)  # type: ignore[arg-type]
    body = ResultIn.model_validate(
        {"revision": 1, "winner": "red", "method": "points", "score": {"red": 3, "blue": 1}, "duration_s": 200}
    )

    accepted: Any = asyncio.run(service.record_result("cup", "b-7", body))

    [(event, delivery)] = sender.sent
    assert isinstance(event, events.ResultRecorded)
    assert (event.tournament_id, event.division_id, event.bout_id, event.revision) == ("cup", "m-73kg", "b-7", 1)
    assert event.occurred_at == clock.now
    assert event.event_id == events.result_recorded("cup", "m-73kg", body.to_domain("b-7"), clock.now).event_id
    assert (accepted.partition, accepted.offset) == (delivery.partition, delivery.offset)
