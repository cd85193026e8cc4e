"""The soak's scenario without running it (fast, not marked soak): what it posts over HTTP must pass
the intake, while the stream produced straight to Kafka keeps results the intake would now refuse."""

from __future__ import annotations

import pytest

from services.core import events
from services.core.domain.ruleset import COMBAT_DEFAULT
from services.intake.schemas import ResultIn
from tests.faults.soak.scenario import Scenario, build_scenario


@pytest.fixture(scope="module")
def scenario() -> Scenario:
    return build_scenario()


def test_every_http_result_passes_the_schema_and_the_score_rules(scenario: Scenario) -> None:
    results = [a for a in scenario.http if a.kind == "result"]
    assert results
    for action in results:
        result = ResultIn.model_validate(action.body).to_domain(action.bout_id)
        assert COMBAT_DEFAULT.score_violations(result.winner, result.method, result.score) == [], action


def test_the_direct_stream_still_carries_results_the_rules_refuse(scenario: Scenario) -> None:
    """Already in Kafka: the projector scores them as accepted (no dead letter for a score rule)."""
    inconsistent = 0
    for timed in scenario.direct:
        if timed.kind != "event":
            continue
        event = events.decode(timed.message.value)
        if isinstance(event, events.ResultRecorded):
            result = event.to_domain()
            inconsistent += bool(COMBAT_DEFAULT.score_violations(result.winner, result.method, result.score))
    assert inconsistent > 0
