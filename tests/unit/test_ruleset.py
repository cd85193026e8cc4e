"""Ruleset data, validation and classification points (SPEC §3)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from services.core.domain.results import BoutResult, Method, Score, Winner
from services.core.domain.ruleset import (
    COMBAT_DEFAULT,
    COMBAT_DEFAULT_DATA,
    RULESETS,
    InvalidRuleset,
    MethodPoints,
    Ruleset,
    UnknownRuleset,
    get_ruleset,
    ruleset_from_dict,
    ruleset_to_dict,
)


def result(winner: Winner, method: Method, red: int = 0, blue: int = 0) -> BoutResult:
    r = BoutResult("b1", 1, winner, method, Score(red, blue))
    r.validate()
    return r


def cp(winner: Winner, method: Method, red: int = 0, blue: int = 0) -> tuple[int, int]:
    return COMBAT_DEFAULT.classification_points(result(winner, method, red, blue))


# -- the default table, written out from SPEC §3 ---------------------------------------

FIVE_NIL = [Method.KO, Method.TKO, Method.SUBMISSION, Method.FALL, Method.DISQUALIFICATION, Method.WALKOVER]

Case = tuple[Winner, int, int, tuple[int, int]]  # winner, red score, blue score -> (red points, blue points)


def cases(methods: list[Method], rows: list[Case]) -> list[Any]:
    """Every row of the table for each of ``methods``, named method:winner:red-blue."""
    return [
        pytest.param(method, winner, red, blue, points, id=f"{method}:{winner}:{red}-{blue}")
        for method in methods
        for winner, red, blue, points in rows
    ]


R, B, D = Winner.RED, Winner.BLUE, Winner.DRAW
CLASSIFICATION = [
    # 5:0 even when the loser scored
    *cases(FIVE_NIL, [(R, 0, 0, (5, 0)), (R, 2, 7, (5, 0)), (B, 3, 1, (0, 5))]),
    # technical superiority: 4:0, or 4:1 when the loser scored
    *cases(
        [Method.TECHNICAL_SUPERIORITY],
        [(R, 10, 0, (4, 0)), (R, 12, 2, (4, 1)), (B, 0, 10, (0, 4)), (B, 1, 11, (1, 4))],
    ),
    # decision and points: 3:0 or 3:1; the *loser* scoring matters, not the winner: a winner
    # scoring 0 does not give the loser 1
    *cases(
        [Method.DECISION, Method.POINTS],
        [(R, 3, 0, (3, 0)), (R, 3, 1, (3, 1)), (B, 0, 5, (0, 3)), (B, 4, 5, (1, 3)), (R, 0, 0, (3, 0))],
    ),
    # a draw gives both one
    *cases([Method.DRAW], [(D, 0, 0, (1, 1)), (D, 4, 4, (1, 1))]),
]


@pytest.mark.parametrize(("method", "winner", "red", "blue", "points"), CLASSIFICATION)
def test_classification_points(method: Method, winner: Winner, red: int, blue: int, points: tuple[int, int]) -> None:
    assert cp(winner, method, red, blue) == points


def test_no_contest_is_not_played_and_gives_nothing() -> None:
    r = result(Winner.NONE, Method.NO_CONTEST, 5, 3)
    assert COMBAT_DEFAULT.classification_points(r) == (0, 0)
    assert not COMBAT_DEFAULT.is_played(r)
    assert COMBAT_DEFAULT.is_played(result(Winner.RED, Method.KO))


def test_default_identity_and_sets() -> None:
    assert COMBAT_DEFAULT.name == "combat-default"
    assert COMBAT_DEFAULT.version == "1"
    assert COMBAT_DEFAULT.finishes == {Method.KO, Method.TKO, Method.SUBMISSION, Method.FALL}
    assert COMBAT_DEFAULT.not_played == {Method.NO_CONTEST}
    assert set(COMBAT_DEFAULT.points) == set(Method)
    assert COMBAT_DEFAULT.points[Method.TECHNICAL_SUPERIORITY] == MethodPoints(4, 0, 1)


def test_registry() -> None:
    assert get_ruleset("combat-default") is COMBAT_DEFAULT
    assert RULESETS["combat-default"] is COMBAT_DEFAULT
    with pytest.raises(UnknownRuleset):
        get_ruleset("nope")
    with pytest.raises(KeyError):  # UnknownRuleset is a KeyError
        get_ruleset("")


# -- ruleset is data ----------------------------------------------------------------------


def test_default_data_is_json_and_round_trips() -> None:
    again = ruleset_from_dict(json.loads(json.dumps(COMBAT_DEFAULT_DATA)))
    assert again == COMBAT_DEFAULT
    assert ruleset_from_dict(ruleset_to_dict(COMBAT_DEFAULT)) == COMBAT_DEFAULT


def test_ruleset_is_immutable_and_detached_from_its_data() -> None:
    data = copy.deepcopy(COMBAT_DEFAULT_DATA)
    rs = ruleset_from_dict(data)
    data["points"]["ko"]["winner"] = 99
    del data["points"]["draw"]
    assert rs.points[Method.KO].winner == 5
    with pytest.raises(TypeError):
        rs.points[Method.KO] = MethodPoints(1, 0)  # type: ignore[index]
    hash(rs)  # usable as a dict key / in sets


def test_custom_ruleset() -> None:
    data = copy.deepcopy(COMBAT_DEFAULT_DATA)
    data["name"], data["version"] = "judo-like", "2"
    data["points"]["decision"] = {"winner": 2, "loser": 0, "loser_if_scored": None}
    data["finishes"] = ["ko"]
    rs = ruleset_from_dict(data)
    assert isinstance(rs, Ruleset)
    assert rs.classification_points(result(Winner.RED, Method.DECISION, 3, 2)) == (2, 0)
    assert rs.finishes == {Method.KO}


def _invalid(mutate: object) -> str:
    data = copy.deepcopy(COMBAT_DEFAULT_DATA)
    assert callable(mutate)
    mutate(data)
    with pytest.raises(InvalidRuleset) as exc:
        ruleset_from_dict(data)
    assert isinstance(exc.value, ValueError)
    return str(exc.value)


def test_every_method_must_be_mapped_and_all_missing_are_listed() -> None:
    def drop(d: dict) -> None:
        del d["points"]["walkover"]
        del d["points"]["no_contest"]

    msg = _invalid(drop)
    assert "walkover" in msg and "no_contest" in msg


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: d["points"].__setitem__("headbutt", {"winner": 1, "loser": 0}), "unknown method 'headbutt'"),
        (lambda d: d["points"]["ko"].__setitem__("winner", -1), "points.ko.winner"),
        (lambda d: d["points"]["ko"].__setitem__("winner", True), "points.ko.winner"),
        (lambda d: d["points"]["ko"].__setitem__("loser", 1.5), "points.ko.loser"),
        (lambda d: d["points"]["ko"].__setitem__("loser_if_scored", "1"), "loser_if_scored"),
        (lambda d: d["points"]["ko"].__setitem__("bonus", 1), "unknown keys"),
        (lambda d: d["points"].__setitem__("ko", 5), "points.ko must be an object"),
        (lambda d: d.__setitem__("points", []), "points must be an object"),
        (lambda d: d.__setitem__("name", ""), "name"),
        (lambda d: d.pop("version"), "version"),
        (lambda d: d.__setitem__("finishes", ["ko", "chokeslam"]), "finishes: unknown method"),
        (lambda d: d.__setitem__("finishes", "ko"), "finishes must be a list"),
        (lambda d: d.__setitem__("not_played", ["no_contest", "ko"]), "both finish and not played"),
        (lambda d: d.__setitem__("finishes", ["ko", "draw"]), "cannot be a finish"),
        (lambda d: d.__setitem__("extra", 1), "unknown keys"),
    ],
)
def test_invalid_rulesets(mutate: object, fragment: str) -> None:
    assert fragment in _invalid(mutate)


def test_several_problems_reported_at_once() -> None:
    def many(d: dict) -> None:
        d["name"] = 3
        d["points"]["ko"]["winner"] = -5
        d["finishes"] = ["nope"]

    msg = _invalid(many)
    assert "name" in msg and "points.ko.winner" in msg and "finishes: unknown method" in msg


def test_not_a_mapping() -> None:
    with pytest.raises(InvalidRuleset):
        ruleset_from_dict([])  # type: ignore[arg-type]
