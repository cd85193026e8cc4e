"""The intake applies the ruleset of the bout's tournament to a new result (422 naming the rule),
after the 404 and 409 checks, and never to a repost of what is already applied."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from services.core.db.registration import BoutInfo
from services.core.domain.results import BoutResult, BoutVoid, Method, Revision, Score, Winner
from services.core.domain.ruleset import COMBAT_DEFAULT, COMBAT_DEFAULT_DATA, RULESETS, ruleset_from_dict
from services.core.errors import Conflict, NotFound
from services.intake.repository import AppliedRevision, PostTarget
from services.intake.service import IntakeService, ResultBreaksRuleset, check_against_ruleset
from tests.fakes import FakePostTargets

T, D = "cup", "m-73kg"
BEHIND = BoutResult("b-1", 1, Winner.RED, Method.POINTS, Score(0, 9))
AHEAD = BoutResult("b-1", 1, Winner.RED, Method.POINTS, Score(9, 0))
BEHIND_PAYLOAD = {"winner": "red", "method": "points", "score": {"red": 0, "blue": 9}}


class Unused:
    async def send(self, event: Any, *, traceparent: str | None = None) -> Any:
        raise AssertionError("the guard does not produce")


@contextmanager
def no_session() -> Iterator[None]:
    yield None


def guard(
    posted: Revision,
    *,
    ruleset: str = "combat-default",
    applied: list[AppliedRevision] | None = None,
    tournament: str = T,
    rulesets: Any = RULESETS,
) -> str:
    targets = FakePostTargets()
    targets.add(PostTarget(BoutInfo(posted.bout_id, tournament, D, "a1", "a2"), ruleset, applied or []))
    service = IntakeService(no_session, Unused(), targets, rulesets=rulesets)  # type: ignore[arg-type]
    return asyncio.run(service._checked(T, posted))[0]


def test_the_reported_result_is_refused_naming_the_rule() -> None:
    with pytest.raises(ResultBreaksRuleset) as info:
        guard(BEHIND)
    error = info.value
    assert (error.status, error.type_slug) == (422, "ruleset-violation")
    assert error.extra == {"ruleset": "combat-default", "rule": "winner_leads"}
    assert error.detail.startswith(
        "method points requires the winner to lead on technical points (ruleset combat-default rule winner_leads"
    )


def test_a_consistent_result_and_a_void_pass() -> None:
    assert guard(AHEAD) == D
    assert guard(BoutVoid("b-1", 2)) == D
    finish_from_behind = BoutResult("b-1", 1, Winner.RED, Method.SUBMISSION, Score(0, 9))
    assert guard(finish_from_behind) == D


def test_the_tournaments_own_ruleset_is_applied() -> None:
    lenient = ruleset_from_dict({**copy.deepcopy(COMBAT_DEFAULT_DATA), "name": "lenient", "score_rules": {}})
    rulesets = {COMBAT_DEFAULT.name: COMBAT_DEFAULT, "lenient": lenient}
    assert guard(BEHIND, ruleset="lenient", rulesets=rulesets) == D
    with pytest.raises(ResultBreaksRuleset):
        guard(BEHIND, ruleset="combat-default", rulesets=rulesets)


def test_an_unknown_ruleset_is_left_to_the_projector() -> None:
    """A registration error, not the referee's: produced, and dead-lettered as unknown_ruleset there."""
    assert guard(BEHIND, ruleset="no-such-ruleset") == D


def test_a_repost_of_an_applied_result_is_not_rejudged() -> None:
    """Accepted before the rule existed: a client's retry of it still gets its 202."""
    assert guard(BEHIND, applied=[AppliedRevision(1, "result", BEHIND_PAYLOAD)]) == D


def test_a_conflict_is_reported_before_the_rule() -> None:
    other = {**BEHIND_PAYLOAD, "method": "ko"}
    with pytest.raises(Conflict):
        guard(BEHIND, applied=[AppliedRevision(1, "result", other)])


def test_an_unknown_bout_is_404_before_the_rule() -> None:
    with pytest.raises(NotFound):
        guard(BEHIND, tournament="other-cup")


def test_check_against_ruleset_joins_every_violation() -> None:
    both = ruleset_from_dict(
        {
            **copy.deepcopy(COMBAT_DEFAULT_DATA),
            "name": "both",
            "score_rules": {
                "winner_leads": {"check": "winner_leads", "methods": ["points"]},
                "level_points": {"check": "level", "methods": ["points"]},
            },
        }
    )
    with pytest.raises(ResultBreaksRuleset) as info:
        check_against_ruleset(BEHIND, both)
    assert info.value.extra["rule"] == "winner_leads"
    assert "rule winner_leads" in info.value.detail and "rule level_points" in info.value.detail
