"""The projector's failure policy on its own: failures and streaks in, decisions out (no I/O)."""

from __future__ import annotations

import pytest
import sqlalchemy.exc

from services.core.kafka.dlq import DeadLetterError
from services.projector.failure_policy import (
    ISOLATE_AFTER_FAILURES,
    SYSTEMIC_AFTER_DEAD_LETTERS,
    Action,
    FailurePolicy,
    is_transient,
)

BATCH = [(0, 10), (0, 11), (1, 4), (0, 12)]


def policy(max_backoff_s: float = 5.0) -> FailurePolicy:
    return FailurePolicy(max_backoff_s=max_backoff_s)


def isolating(p: FailurePolicy) -> FailurePolicy:
    for _ in range(ISOLATE_AFTER_FAILURES):
        p.on_failure(BATCH, transient=False)
    assert p.isolating
    return p


def test_a_transient_failure_is_retried_after_a_database_probe_and_never_isolates() -> None:
    p = policy()
    for attempt in range(1, 6):
        decision = p.on_failure(BATCH, transient=True)
        assert decision.action is Action.RETRY
        assert decision.transient and decision.attempt == attempt
        assert decision.backoff_s is None  # until the probe passes
        assert decision.isolation is None
    assert not p.isolating


def test_a_repeated_failure_isolates_the_batch_up_to_its_last_offset_per_partition() -> None:
    p = policy()
    first = p.on_failure(BATCH, transient=False)
    assert first.action is Action.RETRY and first.backoff_s == pytest.approx(0.4)
    second = p.on_failure(BATCH, transient=False)
    assert second.action is Action.ISOLATE
    assert second.isolation == {0: 12, 1: 4}
    assert p.isolating and p.isolation == {0: 12, 1: 4}


def test_isolation_ends_per_partition_when_its_last_offset_succeeded() -> None:
    p = isolating(policy())
    assert p.on_success([(0, 10)]) == []
    assert p.on_success([(1, 4)]) == [(1, 4)]
    assert p.isolating  # partition 0 still has offsets to replay alone
    assert p.on_success([(0, 11), (0, 12)]) == [(0, 12)]
    assert not p.isolating
    assert p.failures == 0


def test_a_message_failing_alone_in_isolation_is_dead_lettered() -> None:
    p = isolating(policy())
    decision = p.on_failure([(0, 10)], transient=False)
    assert decision.action is Action.DEAD_LETTER
    assert p.on_dead_lettered((0, 10)) == []
    assert p.dead_lettered_in_a_row == 1 and p.failures == 0


def test_a_message_failing_alone_outside_isolation_is_retried_first() -> None:
    decision = policy().on_failure([(0, 10)], transient=False)
    assert decision.action is Action.RETRY


def test_a_transient_failure_in_isolation_is_not_dead_lettered() -> None:
    p = isolating(policy())
    decision = p.on_failure([(0, 10)], transient=True)
    assert decision.action is Action.RETRY and decision.backoff_s is None


def test_dead_letters_in_a_row_turn_systemic_and_stop_dead_lettering() -> None:
    p = isolating(policy())
    for offset in range(SYSTEMIC_AFTER_DEAD_LETTERS):
        assert p.on_failure([(0, offset)], transient=False).action is Action.DEAD_LETTER
        p.on_dead_lettered((0, offset))
    decision = p.on_failure([(0, 99)], transient=False)
    assert decision.action is Action.SYSTEMIC
    assert decision.backoff_s is not None  # retried with backoff, not dead-lettered
    # It keeps failing: still systemic, and the isolation narrows to that message.
    again = p.on_failure([(0, 99)], transient=False)
    assert again.action is Action.SYSTEMIC and again.isolation == {0: 99}


def test_a_success_resets_the_dead_letter_streak() -> None:
    p = isolating(policy())
    for offset in range(SYSTEMIC_AFTER_DEAD_LETTERS - 1):
        p.on_failure([(0, offset)], transient=False)
        p.on_dead_lettered((0, offset))
    p.on_success([(0, 7)])
    assert p.dead_lettered_in_a_row == 0
    p.on_failure(BATCH, transient=False)
    p.on_failure(BATCH, transient=False)
    assert p.on_failure([(0, 10)], transient=False).action is Action.DEAD_LETTER


def test_backoff_doubles_per_failure_and_is_capped() -> None:
    p = policy(max_backoff_s=1.0)
    backoffs = [p.on_failure([(0, 1), (0, 2)], transient=False).backoff_s for _ in range(4)]
    assert backoffs == pytest.approx([0.4, 0.8, 1.0, 1.0])
    assert [p.probe_backoff_s(n) for n in (1, 2, 3, 4, 5)] == pytest.approx([0.2, 0.4, 0.8, 1.0, 1.0])


def test_a_failing_dead_letter_is_retried_without_counting_as_a_new_failure() -> None:
    p = isolating(policy())
    decision = p.on_dead_letter_failure(transient=True)
    assert decision.action is Action.RETRY and decision.backoff_s is None
    assert decision.attempt == ISOLATE_AFTER_FAILURES


def test_revoked_partitions_leave_isolation() -> None:
    p = isolating(policy())
    p.forget([0])
    assert p.isolation == {1: 4}
    p.forget([1, 7])
    assert not p.isolating


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("connection refused")), True),
        (DeadLetterError("dead letters to x.dlq not delivered"), True),
        (ValueError("ranking effects failed"), False),
        (KeyError("bout"), False),
    ],
)
def test_transient_means_the_environment_is_away(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient
