"""The stored and wire forms of a bracket result (SPEC §7): the two athletes it was fought between
travel with it; a round-robin result's forms are what they always were."""

from __future__ import annotations

import datetime as dt

import pytest

from services.core import events
from services.core.domain.brackets import FoughtResult
from services.core.domain.codec import (
    RESULT,
    StoredRevision,
    decode_bracket_revision,
    encode_bracket_revision,
    encode_result,
)
from services.core.domain.results import BoutResult, BoutVoid, Method, Score, Winner

AT = dt.datetime(2026, 11, 21, 10, 0, tzinfo=dt.UTC)
WIN = BoutResult("d-r1-b1", 1, Winner.BLUE, Method.POINTS, Score(1, 4), duration_s=300, referee_id="ref-1")
FIELDS = {
    "winner": "blue",
    "method": "points",
    "score": {"red": 1, "blue": 4},
    "duration_s": 300,
    "referee_id": "ref-1",
}


def test_a_round_robin_result_is_stored_without_athletes() -> None:
    assert encode_result(WIN) == StoredRevision(RESULT, FIELDS)


def test_a_bracket_result_is_stored_with_its_athletes_and_read_back() -> None:
    stored = encode_bracket_revision(FoughtResult(WIN, "A", "H"))
    assert stored == StoredRevision(RESULT, {**FIELDS, "red_athlete_id": "A", "blue_athlete_id": "H"})
    assert decode_bracket_revision("d-r1-b1", 1, stored.kind, stored.payload) == FoughtResult(WIN, "A", "H")


def test_a_stored_result_without_athletes_reads_as_a_bare_result_and_a_void_as_a_void() -> None:
    assert decode_bracket_revision("d-r1-b1", 1, RESULT, FIELDS) == WIN
    assert decode_bracket_revision("d-r1-b1", 2, "void", {}) == BoutVoid("d-r1-b1", 2)
    assert encode_bracket_revision(BoutVoid("d-r1-b1", 2)) == StoredRevision("void", {})


def test_the_round_robin_event_is_unchanged_and_the_bracket_event_names_its_athletes() -> None:
    plain = events.encode(events.result_recorded("t", "d", WIN, AT))
    assert b"athlete" not in plain
    fought = events.decode(events.encode(events.result_recorded("t", "d", WIN, AT, ("A", "H"))))
    assert isinstance(fought, events.ResultRecorded)
    assert fought.athletes == ("A", "H")
    assert events.decode(plain).athletes is None  # type: ignore[union-attr]


@pytest.mark.parametrize("athletes", [{"red_athlete_id": "A"}, {"red_athlete_id": "A", "blue_athlete_id": "A"}])
def test_an_event_naming_one_athlete_or_the_same_twice_is_poison(athletes: dict[str, str]) -> None:
    event = events.encode(events.result_recorded("t", "d", WIN, AT))
    value = event[:-1] + b"," + b",".join(f'"{k}":"{v}"'.encode() for k, v in athletes.items()) + b"}"
    with pytest.raises(events.PoisonMessage) as info:
        events.decode(value)
    assert info.value.reason == "invalid_result"
