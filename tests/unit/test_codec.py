"""The one codec of a revision's stored form (``results.kind`` + ``results.payload``)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.core import events
from services.core.domain.codec import (
    RESULT,
    VOID,
    StoredRevision,
    UndecodablePayload,
    decode_revision,
    encode_result,
    encode_revision,
)
from services.core.domain.results import MAX_SCORE, BoutResult, BoutVoid, InvalidResult, Method, Revision, Score, Winner

ids = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=20)
results = st.builds(
    BoutResult,
    bout_id=ids,
    revision=st.integers(1, 1_000_000),
    winner=st.sampled_from(Winner),
    method=st.sampled_from(Method),
    score=st.builds(Score, st.integers(0, MAX_SCORE), st.integers(0, MAX_SCORE)),
    duration_s=st.none() | st.integers(0, 86_400),
    referee_id=st.none() | ids,
)
voids = st.builds(BoutVoid, bout_id=ids, revision=st.integers(1, 1_000_000))
revisions = st.one_of(results, voids)


@given(revisions)
def test_decode_inverts_encode(revision: Revision) -> None:
    stored = encode_revision(revision)
    assert decode_revision(revision.bout_id, revision.revision, stored.kind, stored.payload) == revision


@given(revisions)
def test_the_stored_form_survives_jsonb(revision: Revision) -> None:
    """What PostgreSQL gives back (a JSON round trip) decodes to the same revision and re-encodes the same."""
    stored = encode_revision(revision)
    back = json.loads(json.dumps(stored.payload))
    assert back == stored.payload
    assert decode_revision(revision.bout_id, revision.revision, stored.kind, back) == revision


@given(revisions, revisions)
def test_equal_stored_forms_mean_equal_revisions(a: Revision, b: Revision) -> None:
    """The stored form is the identity of a (bout, revision): duplicates compare equal, conflicts do not."""
    b = type(b)(**{**_fields(b), "bout_id": a.bout_id, "revision": a.revision})
    assert (encode_revision(a) == encode_revision(b)) == (a == b)


def _fields(r: Revision) -> dict[str, Any]:
    return {name: getattr(r, name) for name in r.__slots__}


def test_the_canonical_payloads() -> None:
    r = BoutResult("b1", 2, Winner.BLUE, Method.POINTS, Score(1, 4), 300, None)
    assert encode_revision(r) == StoredRevision(
        RESULT,
        {"winner": "blue", "method": "points", "score": {"red": 1, "blue": 4}, "duration_s": 300, "referee_id": None},
    )
    assert encode_revision(BoutVoid("b1", 3)) == StoredRevision(VOID, {})


@given(results.filter(lambda r: _valid(r)))
def test_an_events_result_object_encodes_like_its_domain_revision(r: BoutResult) -> None:
    """The projector encodes the event's result object directly: the same stored form, the event's JSON."""
    event = events.decode(events.encode(events.result_recorded("t", "d", r, events.now_utc())))
    assert isinstance(event, events.ResultRecorded)
    assert encode_result(event.result) == encode_revision(event.to_domain()) == encode_revision(r)
    assert encode_result(event.result).payload == json.loads(events.encode(event))["result"]


def _valid(r: BoutResult) -> bool:
    try:
        r.validate()
    except InvalidResult:
        return False
    return r.referee_id is None or len(r.referee_id) <= 64


def test_result_fields_under_result_are_read_too() -> None:
    payload = encode_revision(BoutResult("b1", 1, Winner.RED, Method.KO, Score(2, 0))).payload
    assert decode_revision("b1", 1, RESULT, {"result": payload, "bout_id": "b1"}) == decode_revision(
        "b1", 1, RESULT, payload
    )


def test_a_void_ignores_its_payload() -> None:
    assert decode_revision("b1", 4, VOID, {"anything": 1}) == BoutVoid("b1", 4)


GOOD: dict[str, Any] = {"winner": "red", "method": "ko", "score": {"red": 2, "blue": 0}}


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("deleted", GOOD),
        (RESULT, {}),
        (RESULT, {"garbage": True}),
        (RESULT, {**GOOD, "winner": "purple"}),
        (RESULT, {**GOOD, "method": None}),
        (RESULT, {"winner": "red", "method": "ko"}),  # a missing score is unreadable, never 0:0
        (RESULT, {**GOOD, "score": None}),
        (RESULT, {**GOOD, "score": {"red": 2}}),
        (RESULT, {**GOOD, "score": {"red": "2", "blue": 0}}),
        (RESULT, {**GOOD, "score": {"red": True, "blue": 0}}),
        (RESULT, {**GOOD, "duration_s": "61"}),
        (RESULT, {**GOOD, "referee_id": 7}),
        (RESULT, {"result": [1, 2]}),
    ],
)
def test_unreadable_payloads_raise(kind: str, payload: dict[str, Any]) -> None:
    with pytest.raises(UndecodablePayload):
        decode_revision("b1", 1, kind, payload)


def test_optional_fields_may_be_absent() -> None:
    assert decode_revision("b1", 1, RESULT, GOOD) == BoutResult("b1", 1, Winner.RED, Method.KO, Score(2, 0))
