"""The search circuit breaker: opens after N consecutive failures, goes half-open by itself after the
configured delay (no restart), lets exactly one probe through, closes on success, reopens on failure."""

from __future__ import annotations

import pytest
from elastic_transport import ConnectionError as TransportConnectionError
from prometheus_client import REGISTRY

from services.core.search.breaker import BreakerOpen, BreakerState, CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _down() -> None:
    raise TransportConnectionError("connection refused")


def _fail(breaker: CircuitBreaker) -> None:
    with pytest.raises(TransportConnectionError):
        breaker.call(_down)


def test_open_half_open_closed_cycle_without_restart() -> None:
    clock = Clock()
    breaker = CircuitBreaker(3, 30.0, clock=clock)
    _fail(breaker)
    _fail(breaker)
    assert breaker.state is BreakerState.CLOSED
    _fail(breaker)
    assert breaker.state is BreakerState.OPEN
    assert REGISTRY.get_sample_value("standings_search_breaker_state") == 2

    with pytest.raises(BreakerOpen) as refused:
        breaker.call(lambda: "never runs")
    assert refused.value.retry_after_s == pytest.approx(30.0)

    clock.now += 30.0
    assert breaker.state is BreakerState.HALF_OPEN  # by time alone
    assert REGISTRY.get_sample_value("standings_search_breaker_state") == 1
    _fail(breaker)  # the probe fails: open again, for another full delay
    assert breaker.state is BreakerState.OPEN
    clock.now += 29.9
    assert breaker.state is BreakerState.OPEN
    clock.now += 0.1
    assert breaker.call(lambda: "ok") == "ok"
    assert breaker.state is BreakerState.CLOSED
    assert REGISTRY.get_sample_value("standings_search_breaker_state") == 0


def test_half_open_admits_a_single_probe() -> None:
    clock = Clock()
    breaker = CircuitBreaker(1, 5.0, clock=clock, export_metrics=False)
    _fail(breaker)
    clock.now += 5.0
    breaker.before_call()  # the probe
    with pytest.raises(BreakerOpen):
        breaker.before_call()  # a second caller while the probe is in flight
    breaker.record_success()
    breaker.before_call()
    assert breaker.state is BreakerState.CLOSED


def test_successes_reset_the_count_and_client_errors_do_not_trip() -> None:
    breaker = CircuitBreaker(2, 1.0, clock=Clock(), export_metrics=False)
    _fail(breaker)
    breaker.call(lambda: None)
    _fail(breaker)
    assert breaker.state is BreakerState.CLOSED

    def bad_request() -> None:
        raise ValueError("a 4xx-like error: the engine answered")

    for _ in range(5):
        with pytest.raises(ValueError):
            breaker.call(bad_request)
    assert breaker.state is BreakerState.CLOSED


def test_transitions_are_counted() -> None:
    def count(to: str) -> float:
        return REGISTRY.get_sample_value("standings_search_breaker_transitions_total", {"to": to}) or 0.0

    before = {s: count(s) for s in ("open", "half_open", "closed")}
    clock = Clock()
    breaker = CircuitBreaker(1, 1.0, clock=clock)
    _fail(breaker)
    clock.now += 1.0
    breaker.call(lambda: None)
    assert {s: count(s) - before[s] for s in before} == {"open": 1, "half_open": 1, "closed": 1}
