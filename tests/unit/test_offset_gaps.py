"""Offset gaps: the pure check (a batch that would move a position past messages nobody applied)
and the guard's verdicts (re-read, or accept one of Kafka's own gaps)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.core.planning.batch import Decoded, Incoming, OffsetGap, offset_gaps
from services.projector.gaps import REREADS_BEFORE_ACCEPTING, GapGuard, GapVerdict

TOPIC = "match-events"


def batch(*positions: tuple[int, int]) -> list[Decoded]:
    return [Decoded(Incoming(TOPIC, p, o, None, b"{}"), None, None) for p, o in positions]


def test_a_batch_that_starts_at_the_stored_offset_has_no_gap() -> None:
    assert offset_gaps(batch((0, 5), (0, 6), (1, 0)), {(TOPIC, 0): 5, (TOPIC, 1): 0}) == []


def test_a_batch_that_starts_above_the_stored_offset_names_the_gap() -> None:
    gaps = offset_gaps(batch((0, 9), (0, 10), (1, 3)), {(TOPIC, 0): 5, (TOPIC, 1): 3})
    assert gaps == [OffsetGap((TOPIC, 0), 5, 9)]


def test_replays_below_the_stored_offset_are_not_the_first_message() -> None:
    # 3 and 4 were applied before; 7 is the first message nobody applied, 5 and 6 are missing.
    assert offset_gaps(batch((0, 3), (0, 4), (0, 7)), {(TOPIC, 0): 5}) == [OffsetGap((TOPIC, 0), 5, 7)]
    assert offset_gaps(batch((0, 3), (0, 4)), {(TOPIC, 0): 5}) == []


def test_the_first_message_is_the_lowest_offset_whatever_the_order() -> None:
    assert offset_gaps(batch((0, 7), (0, 5), (0, 6)), {(TOPIC, 0): 5}) == []


def test_partitions_without_a_stored_offset_and_accepted_gaps_are_not_reported() -> None:
    assert offset_gaps(batch((2, 40)), {}) == []
    gap = OffsetGap((TOPIC, 0), 5, 9)
    assert offset_gaps(batch((0, 9)), {(TOPIC, 0): 5}, accepted={gap}) == []
    assert offset_gaps(batch((0, 10)), {(TOPIC, 0): 5}, accepted={gap}) == [OffsetGap((TOPIC, 0), 5, 10)]


def test_offsets_missing_inside_the_batch_are_gaps_too() -> None:
    gaps = offset_gaps(batch((0, 5), (0, 6), (0, 9), (0, 10), (0, 14)), {(TOPIC, 0): 5})
    assert gaps == [OffsetGap((TOPIC, 0), 7, 9), OffsetGap((TOPIC, 0), 11, 14)]


def test_a_message_delivered_twice_is_no_gap() -> None:
    assert offset_gaps(batch((0, 5), (0, 6), (0, 5), (0, 6), (0, 7)), {(TOPIC, 0): 5}) == []


@given(
    stored=st.integers(0, 50),
    offsets=st.lists(st.integers(0, 100), min_size=1, max_size=30),
    accept_first=st.booleans(),
)
def test_the_gaps_are_exactly_the_offsets_applying_would_skip(
    stored: int, offsets: list[int], accept_first: bool
) -> None:
    positions = {(TOPIC, 0): stored}
    gaps = offset_gaps(batch(*((0, o) for o in offsets)), positions)
    live = {o for o in offsets if o >= stored}
    # Applying moves the position to max(live) + 1: every offset from ``stored`` on is then applied or skipped.
    skipped = set(range(stored, max(live) + 1)) - live if live else set()
    assert {o for g in gaps for o in range(g.expected, g.first)} == skipped
    assert all(g.first in live and g.expected < g.first for g in gaps)
    if gaps and accept_first:
        assert offset_gaps(batch(*((0, o) for o in offsets)), positions, accepted={gaps[0]}) == gaps[1:]


GAP = OffsetGap((TOPIC, 0), 5, 9)


def test_a_gap_is_reread_until_it_comes_back_the_set_number_of_times() -> None:
    guard = GapGuard()
    verdicts = [guard.decide(GAP, low_watermark=0) for _ in range(REREADS_BEFORE_ACCEPTING + 1)]
    assert verdicts == [GapVerdict.REREAD] * REREADS_BEFORE_ACCEPTING + [GapVerdict.REPEATED]
    assert guard.sightings(GAP) == 0  # accepted: counting starts again
    assert guard.decide(GAP, low_watermark=None) is GapVerdict.REREAD


def test_a_gap_below_the_low_watermark_is_retention_accepted_at_once() -> None:
    guard = GapGuard()
    assert guard.decide(GAP, low_watermark=9) is GapVerdict.RETENTION
    assert guard.decide(GAP, low_watermark=12) is GapVerdict.RETENTION
    # Offsets 7 and 8 are still on the broker: read again.
    assert guard.decide(GAP, low_watermark=7) is GapVerdict.REREAD


def test_gaps_are_counted_separately() -> None:
    guard = GapGuard(rereads=1)
    other = OffsetGap((TOPIC, 1), 5, 9)
    assert guard.decide(GAP, None) is GapVerdict.REREAD
    assert guard.decide(other, None) is GapVerdict.REREAD
    assert guard.decide(GAP, None) is GapVerdict.REPEATED
    assert guard.sightings(other) == 1
