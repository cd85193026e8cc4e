"""The per-token bucket with a fake clock."""

from __future__ import annotations

import pytest

from services.core.errors import RateLimited
from services.core.http.ratelimit import TokenBucketLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refill_at_the_rate():
    clock = Clock()
    limiter = TokenBucketLimiter(rate_per_s=2.0, burst=3, clock=clock)
    assert [limiter.try_acquire("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.try_acquire("a") == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.try_acquire("a") == 0.0
    assert limiter.try_acquire("a") > 0


def test_refill_is_capped_at_the_burst():
    clock = Clock()
    limiter = TokenBucketLimiter(rate_per_s=10.0, burst=2, clock=clock)
    limiter.try_acquire("a")
    clock.now += 3600
    assert [limiter.try_acquire("a") for _ in range(3)][-1] > 0


def test_buckets_are_per_key():
    limiter = TokenBucketLimiter(rate_per_s=1.0, burst=1, clock=Clock())
    assert limiter.try_acquire("a") == 0.0
    assert limiter.try_acquire("a") > 0
    assert limiter.try_acquire("b") == 0.0


def test_check_raises_rate_limited_with_retry_after():
    limiter = TokenBucketLimiter(rate_per_s=0.1, burst=1, clock=Clock())
    limiter.check("a")
    with pytest.raises(RateLimited) as info:
        limiter.check("a")
    assert info.value.status == 429
    assert int(info.value.headers["Retry-After"]) == 10


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 1), (1.0, 0)])
def test_refuses_nonsense_settings(rate: float, burst: int):
    with pytest.raises(ValueError):
        TokenBucketLimiter(rate, burst)
