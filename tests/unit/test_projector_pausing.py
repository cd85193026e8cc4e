"""Pausing manager on a fake consumer: pause after ``pause_after_s``, resume, rewind, rebalances."""

from __future__ import annotations

from services.projector.pausing import Pauser, first_offsets
from tests.pausable_consumer import PausableConsumer

TOPIC = "match-events"


def pauser(
    assigned: set[int], *, pause_after_s: float = 1.0, max_poll_interval_ms: int = 300_000
) -> tuple[Pauser, PausableConsumer]:
    consumer = PausableConsumer()
    p = Pauser(consumer, TOPIC, "g", assigned, pause_after_s=pause_after_s, max_poll_interval_ms=max_poll_interval_ms)
    return p, consumer


def test_a_batch_pauses_only_once_it_ran_pause_after_s() -> None:
    p, consumer = pauser({0, 1}, pause_after_s=0.5)
    assert not p.pause_if_slow(started=100.0, now=100.4)
    assert consumer.paused == set()
    assert p.pause_if_slow(started=100.0, now=100.5)
    assert consumer.paused == {0, 1} and p.pausing
    assert not p.pause_if_slow(started=100.0, now=101.0)  # already paused: not again


def test_pause_after_is_at_most_a_third_of_the_poll_interval() -> None:
    p, _ = pauser({0}, pause_after_s=10.0, max_poll_interval_ms=6000)
    assert p.pause_after_s == 2.0


def test_resume_resumes_what_was_paused_and_still_owned() -> None:
    assigned = {0, 1, 2}
    p, consumer = pauser(assigned)
    p.pause_all()
    assigned.discard(2)  # revoked meanwhile
    p.forget([2])
    p.resume_all()
    assert consumer.paused == {2}  # the fake keeps it; the real consumer forgot it on unassign
    assert not p.pausing and p.paused == set()


def test_partitions_assigned_while_paused_start_paused() -> None:
    assigned = {0}
    p, consumer = pauser(assigned)
    p.on_assigned([3])
    assert consumer.paused == set()  # not pausing: nothing to do
    p.pause_all()
    assigned.add(4)
    p.on_assigned([4])
    assert consumer.paused == {0, 4}
    p.resume_all()
    assert consumer.paused == set()


def test_rewind_pauses_and_seeks_owned_partitions_to_their_first_offset() -> None:
    p, consumer = pauser({0, 1})
    p.rewind(first_offsets([(0, 12), (1, 7), (0, 10), (5, 3), (1, 9)]))
    assert consumer.paused == {0, 1}
    assert consumer.seeks == [(0, 10), (1, 7)]  # partition 5 is not ours


def test_first_offsets_is_the_lowest_offset_per_partition() -> None:
    assert first_offsets([]) == {}
    assert first_offsets([(2, 5), (2, 3), (0, 9)]) == {2: 3, 0: 9}
