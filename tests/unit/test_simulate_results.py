"""The simulator's results (the demo, `standings simulate`) pass the intake: schema and score rules."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.cli.simulate import corrected, random_result
from services.core.domain.ruleset import COMBAT_DEFAULT
from services.intake.schemas import ResultIn


def assert_accepted(body: dict[str, Any]) -> None:
    result = ResultIn.model_validate(body).to_domain("b-1")  # the schema, and winner/method agreement
    assert COMBAT_DEFAULT.score_violations(result.winner, result.method, result.score) == [], body


@settings(max_examples=300)
@given(st.integers(min_value=0, max_value=2**32))
def test_a_simulated_result_and_its_corrections_obey_the_score_rules(seed: int) -> None:
    rng = random.Random(seed)
    body = random_result(rng, 1)
    assert_accepted(body)
    for revision in range(2, 6):
        body = corrected(rng, body, revision)
        assert body["revision"] == revision
        assert_accepted(body)


def test_many_simulated_results_cover_every_method_and_obey_the_rules() -> None:
    rng = random.Random(20261126)
    seen = set()
    for _ in range(5000):
        body = random_result(rng, 1)
        assert_accepted(body)
        seen.add(body["method"])
    assert {"points", "technical_superiority", "draw", "ko", "no_contest"} <= seen
