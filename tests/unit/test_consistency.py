"""Score consistency rules of a ruleset (data), checked at intake: where the score decides the bout."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.core.domain.consistency import RuleViolation, ScoreCheck, ScoreRule
from services.core.domain.results import MAX_SCORE, InvalidResult, Method, Score, Winner, check_result_fields
from services.core.domain.ruleset import (
    COMBAT_DEFAULT,
    COMBAT_DEFAULT_DATA,
    InvalidRuleset,
    ruleset_from_dict,
    ruleset_to_dict,
)

LEADING = (Method.POINTS, Method.TECHNICAL_SUPERIORITY)
UNCONSTRAINED = tuple(m for m in Method if m not in (*LEADING, Method.DRAW))

points = st.integers(min_value=0, max_value=MAX_SCORE)
scores = st.builds(Score, points, points)
sides = st.sampled_from([Winner.RED, Winner.BLUE])


def valid(winner: Winner, method: Method, score: Score) -> bool:
    """The winner/method agreement of the schema (check_result_fields), which the rules come after."""
    try:
        check_result_fields(winner, method, score, 1)
    except InvalidResult:
        return False
    return True


def mirrored(winner: Winner, score: Score) -> tuple[Winner, Score]:
    other = {Winner.RED: Winner.BLUE, Winner.BLUE: Winner.RED}.get(winner, winner)
    return other, Score(score.blue, score.red)


# -- the reported case and the default ruleset's rules -----------------------------------------------


def test_a_points_win_for_the_side_behind_names_the_rule() -> None:
    [violation] = COMBAT_DEFAULT.score_violations(Winner.RED, Method.POINTS, Score(0, 9))
    assert violation == RuleViolation(
        "combat-default",
        "winner_leads",
        "method points requires the winner to lead on technical points "
        "(ruleset combat-default rule winner_leads; score red 0 : blue 9)",
    )


@pytest.mark.parametrize("method", LEADING)
@pytest.mark.parametrize(("winner", "red", "blue"), [(Winner.RED, 3, 3), (Winner.RED, 2, 5), (Winner.BLUE, 4, 0)])
def test_points_and_technical_superiority_need_the_winner_ahead(
    method: Method, winner: Winner, red: int, blue: int
) -> None:
    [violation] = COMBAT_DEFAULT.score_violations(winner, method, Score(red, blue))
    assert violation.rule == "winner_leads" and f"method {method.value}" in violation.detail
    ahead = Score(red + 1, 0) if winner is Winner.RED else Score(0, blue + 1)
    assert COMBAT_DEFAULT.score_violations(winner, method, ahead) == []


def test_a_draw_needs_level_scores() -> None:
    [violation] = COMBAT_DEFAULT.score_violations(Winner.DRAW, Method.DRAW, Score(1, 2))
    assert violation.rule == "draw_level"
    assert violation.detail.startswith("method draw requires equal technical points (ruleset combat-default")
    assert COMBAT_DEFAULT.score_violations(Winner.DRAW, Method.DRAW, Score(2, 2)) == []


def test_the_draw_rule_also_applies_by_winner() -> None:
    """Unvalidated input (winner draw, another method) is still caught by the winners selector."""
    [violation] = COMBAT_DEFAULT.score_violations(Winner.DRAW, Method.DECISION, Score(0, 1))
    assert violation.rule == "draw_level" and violation.detail.startswith("winner draw requires equal")


# -- properties --------------------------------------------------------------------------------------


@given(st.sampled_from(UNCONSTRAINED), sides, scores)
def test_methods_where_the_score_does_not_decide_take_any_score(method: Method, winner: Winner, score: Score) -> None:
    if method is Method.NO_CONTEST:
        winner = Winner.NONE
    assert COMBAT_DEFAULT.score_violations(winner, method, score) == []


@given(st.sampled_from(LEADING), sides, scores)
def test_a_leading_method_is_consistent_exactly_when_the_winner_leads(
    method: Method, winner: Winner, score: Score
) -> None:
    lead = score.red - score.blue if winner is Winner.RED else score.blue - score.red
    assert (COMBAT_DEFAULT.score_violations(winner, method, score) == []) is (lead > 0)


@given(scores)
def test_a_draw_is_consistent_exactly_when_level(score: Score) -> None:
    assert (COMBAT_DEFAULT.score_violations(Winner.DRAW, Method.DRAW, score) == []) is (score.red == score.blue)


@given(st.sampled_from(list(Winner)), st.sampled_from(list(Method)), scores)
def test_swapping_the_corners_does_not_change_the_verdict(winner: Winner, method: Method, score: Score) -> None:
    other, swapped = mirrored(winner, score)
    before = [v.rule for v in COMBAT_DEFAULT.score_violations(winner, method, score)]
    assert [v.rule for v in COMBAT_DEFAULT.score_violations(other, method, swapped)] == before


@given(st.sampled_from(list(Winner)), st.sampled_from(list(Method)), scores)
def test_every_schema_valid_pair_has_a_consistent_score(winner: Winner, method: Method, score: Score) -> None:
    """The rules never rule out a winner/method pair altogether: some score is always accepted."""
    if not valid(winner, method, score):
        return
    level = Score(score.red, score.red)
    lead = {Winner.RED: Score(score.blue + 1, score.blue), Winner.BLUE: Score(score.red, score.red + 1)}
    candidates = [score, level, lead.get(winner, level)]
    assert any(COMBAT_DEFAULT.score_violations(winner, method, c) == [] for c in candidates)


@given(st.sampled_from(list(Winner)), st.sampled_from(list(Method)), scores)
def test_a_ruleset_without_score_rules_accepts_everything(winner: Winner, method: Method, score: Score) -> None:
    data = copy.deepcopy(COMBAT_DEFAULT_DATA)
    del data["score_rules"]
    assert ruleset_from_dict(data).score_violations(winner, method, score) == []


# -- the rules are data ------------------------------------------------------------------------------


def test_the_default_rules_are_declared_in_the_ruleset_data() -> None:
    assert COMBAT_DEFAULT.score_rules == (
        ScoreRule("winner_leads", ScoreCheck.WINNER_LEADS, frozenset(LEADING)),
        ScoreRule("draw_level", ScoreCheck.LEVEL, frozenset({Method.DRAW}), frozenset({Winner.DRAW})),
    )


def test_score_rules_round_trip_through_json() -> None:
    again = ruleset_from_dict(json.loads(json.dumps(ruleset_to_dict(COMBAT_DEFAULT))))
    assert again == COMBAT_DEFAULT and again.score_rules == COMBAT_DEFAULT.score_rules


def test_another_federation_can_declare_its_own_rules() -> None:
    data = copy.deepcopy(COMBAT_DEFAULT_DATA)
    data["name"] = "strict-decisions"
    data["score_rules"] = {"decision_leads": {"check": "winner_leads", "methods": ["decision", "points"]}}
    strict = ruleset_from_dict(data)
    [violation] = strict.score_violations(Winner.BLUE, Method.DECISION, Score(2, 2))
    assert (violation.ruleset, violation.rule) == ("strict-decisions", "decision_leads")
    assert strict.score_violations(Winner.RED, Method.TECHNICAL_SUPERIORITY, Score(0, 9)) == []
    assert strict.score_violations(Winner.DRAW, Method.DRAW, Score(0, 9)) == []


@pytest.mark.parametrize(
    ("rules", "problem"),
    [
        ([], "score_rules must be an object"),
        ({"Bad Name": {"check": "level", "methods": ["draw"]}}, "rule name 'Bad Name'"),
        ({"r": "level"}, "score_rules.r must be an object"),
        ({"r": {"check": "bigger", "methods": ["draw"]}}, "score_rules.r.check must be one of winner_leads, level"),
        ({"r": {"check": "level", "methods": ["armbar"]}}, "score_rules.r.methods: unknown method 'armbar'"),
        ({"r": {"check": "level", "winners": ["green"]}}, "score_rules.r.winners: unknown winner 'green'"),
        ({"r": {"check": "level", "methods": "draw"}}, "score_rules.r.methods must be a list"),
        ({"r": {"check": "level"}}, "score_rules.r applies to nothing"),
        ({"r": {"check": "level", "methods": ["draw"], "margin": 2}}, "score_rules.r: unknown keys ['margin']"),
        ({"r": {"check": "winner_leads", "methods": ["draw"]}}, "winner_leads cannot apply to draw"),
        ({"r": {"check": "winner_leads", "winners": ["none"]}}, "winner_leads cannot apply to none"),
    ],
)
def test_invalid_score_rules_are_refused_with_the_reason(rules: Any, problem: str) -> None:
    data = {**copy.deepcopy(COMBAT_DEFAULT_DATA), "score_rules": rules}
    with pytest.raises(InvalidRuleset) as info:
        ruleset_from_dict(data)
    assert problem in str(info.value)
