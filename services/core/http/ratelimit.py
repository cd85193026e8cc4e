"""Per-token token bucket. In-process: each intake replica limits on its own.

Only authenticated token ids become keys, so the table is bounded by the number of issued
tokens; it is touched only from the event loop, so it needs no lock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from services.core.auth import Principal
from services.core.errors import RateLimited
from services.core.http.auth import require_principal


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class TokenBucketLimiter:
    def __init__(self, rate_per_s: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be > 0 and burst >= 1")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def try_acquire(self, key: str) -> float:
        """Take one token for ``key``; return 0.0 when allowed, else the seconds until one is available."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
        else:
            bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate_per_s)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate_per_s

    def check(self, key: str) -> None:
        """Raise RateLimited (429 + Retry-After) when ``key`` has no token left."""
        wait = self.try_acquire(key)
        if wait > 0:
            raise RateLimited(wait)


async def enforce_rate_limit(request: Request, principal: require_principal) -> Principal:
    limiter: TokenBucketLimiter = request.app.state.rate_limiter
    limiter.check(principal.token_id)
    return principal


rate_limited_principal = Annotated[Principal, Depends(enforce_rate_limit)]
