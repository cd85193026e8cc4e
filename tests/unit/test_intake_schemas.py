"""Intake request validation (strict, one agreement rule shared with the domain) and the 409 guard."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from services.core.domain.results import BoutResult, BoutVoid, InvalidResult, Method, Score, Winner, check_result_fields
from services.core.errors import Conflict
from services.core.kafka.producer import traceparent_for
from services.intake.repository import AppliedRevision
from services.intake.schemas import ResultIn, VoidIn
from services.intake.service import check_against_applied, stored_revision

VALID: dict[str, Any] = {"revision": 1, "winner": "red", "method": "ko", "score": {"red": 3, "blue": 0}}


def test_a_valid_result_maps_to_the_domain():
    body = ResultIn.model_validate({**VALID, "duration_s": 90, "referee_id": "ref-1"})
    assert body.to_domain("b-1") == BoutResult("b-1", 1, Winner.RED, Method.KO, Score(3, 0), 90, "ref-1")


def test_json_input_is_accepted():
    body = ResultIn.model_validate_json(b'{"revision":2,"winner":"draw","method":"draw","score":{"red":1,"blue":1}}')
    assert body.winner is Winner.DRAW and body.revision == 2


@pytest.mark.parametrize(
    "change",
    [
        {"extra": 1},
        {"score": {"red": 1, "blue": 0, "green": 2}},
        {"revision": 0},
        {"revision": 1_000_001},
        {"revision": "1"},
        {"revision": 1.0},
        {"revision": True},
        {"score": {"red": 1000, "blue": 0}},
        {"score": {"red": 0, "blue": -1}},
        {"score": {"red": "3", "blue": 0}},
        {"score": {"red": 10**100, "blue": 0}},
        {"score": {"red": 3}},
        {"duration_s": -1},
        {"duration_s": 86_401},
        {"duration_s": "60"},
        {"referee_id": ""},
        {"referee_id": "x" * 65},
        {"referee_id": 17},
        {"winner": "Red"},
        {"winner": None},
        {"method": "armbar"},
        {"method": "draw"},
        {"winner": "draw"},
        {"winner": "none"},
        {"method": "no_contest"},
    ],
)
def test_invalid_results_are_refused(change: dict[str, Any]):
    with pytest.raises(ValidationError):
        ResultIn.model_validate({**VALID, **change})


@pytest.mark.parametrize("missing", ["revision", "winner", "method", "score"])
def test_required_fields(missing: str):
    body = {k: v for k, v in VALID.items() if k != missing}
    with pytest.raises(ValidationError):
        ResultIn.model_validate(body)


@given(
    winner=st.sampled_from(list(Winner)),
    method=st.sampled_from(list(Method)),
    red=st.integers(-5, 1005),
    blue=st.integers(-5, 1005),
    revision=st.integers(-1, 3),
)
def test_schema_and_domain_agree_on_every_combination(
    winner: Winner, method: Method, red: int, blue: int, revision: int
):
    """One rule: the schema accepts exactly what check_result_fields accepts."""
    try:
        check_result_fields(winner, method, Score(red, blue), revision)
        domain_ok = True
    except InvalidResult:
        domain_ok = False
    payload = {
        "revision": revision,
        "winner": winner.value,
        "method": method.value,
        "score": {"red": red, "blue": blue},
    }
    try:
        ResultIn.model_validate(payload)
        schema_ok = True
    except ValidationError:
        schema_ok = False
    assert schema_ok == domain_ok


def test_void_body():
    assert VoidIn.model_validate({"revision": 3}).to_domain("b-1") == BoutVoid("b-1", 3)
    for bad in ({"revision": 0}, {"revision": 1, "reason": "x"}, {}, {"revision": "2"}):
        with pytest.raises(ValidationError):
            VoidIn.model_validate(bad)


# -- the 409 guard --------------------------------------------------------------------------------

RESULT = BoutResult("b-1", 2, Winner.BLUE, Method.POINTS, Score(1, 4), 300, None)
STORED = {"winner": "blue", "method": "points", "score": {"red": 1, "blue": 4}, "duration_s": 300, "referee_id": None}


def test_nothing_applied_passes_as_new():
    assert check_against_applied(RESULT, []) is False


def test_identical_repost_passes_as_a_repost_whatever_the_payload_layout():
    assert check_against_applied(RESULT, [AppliedRevision(2, "result", STORED)]) is True
    assert check_against_applied(RESULT, [AppliedRevision(2, "result", {"result": STORED, "bout_id": "b-1"})]) is True
    assert check_against_applied(RESULT, [AppliedRevision(2, "result", STORED), AppliedRevision(3, "void", {})]) is True
    assert check_against_applied(BoutVoid("b-1", 3), [AppliedRevision(3, "void", {})]) is True


@pytest.mark.parametrize(
    ("applied", "expected_revision"),
    [
        ([AppliedRevision(2, "result", {**STORED, "score": {"red": 1, "blue": 5}})], 2),
        ([AppliedRevision(2, "result", {**STORED, "referee_id": "ref-9"})], 2),
        ([AppliedRevision(2, "void", {})], 2),
        ([AppliedRevision(2, "result", {"garbage": True})], 2),
        ([AppliedRevision(3, "result", STORED)], 3),
        ([AppliedRevision(4, "void", {}), AppliedRevision(5, "result", STORED)], 5),
    ],
)
def test_conflicts_name_the_applied_revision(applied: list[AppliedRevision], expected_revision: int):
    with pytest.raises(Conflict) as info:
        check_against_applied(RESULT, applied)
    assert info.value.status == 409
    assert info.value.extra["applied_revision"] == expected_revision
    assert f"revision {expected_revision + 1}" in info.value.detail


def test_void_against_an_applied_result_is_a_conflict():
    with pytest.raises(Conflict):
        check_against_applied(BoutVoid("b-1", 2), [AppliedRevision(2, "result", STORED)])


def test_stored_revision_reads_both_layouts():
    assert stored_revision("b-1", AppliedRevision(2, "result", STORED)) == RESULT
    assert stored_revision("b-1", AppliedRevision(2, "void", {"anything": 1})) == BoutVoid("b-1", 2)
    assert stored_revision("b-1", AppliedRevision(2, "result", {"winner": "purple"})) is None


# -- trace context ---------------------------------------------------------------------------------

VALID_TP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_a_valid_traceparent_is_propagated():
    assert traceparent_for(VALID_TP) == VALID_TP
    assert traceparent_for(VALID_TP.upper()) == VALID_TP


@pytest.mark.parametrize(
    "incoming",
    [
        None,
        "",
        "garbage",
        "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-00000000000000000000000000000000-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
        VALID_TP + "-extra",
    ],
)
def test_a_missing_or_invalid_traceparent_starts_a_new_trace(incoming: str | None):
    generated = traceparent_for(incoming)
    assert re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", generated)
    assert generated != incoming
