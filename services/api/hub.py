"""In-process fan-out of change notifications to SSE subscribers.

One channel per division with subscribers. A change wakes every waiter of the channel at once
(an ``asyncio.Event`` per generation); each then takes the shared rendered body from the cache,
so 500 subscribers cost one render and no extra query per change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from services.core.metrics import SSE_SUBSCRIBERS

Key = tuple[str, str]


@dataclass(slots=True)
class _Channel:
    latest: int = -1  # highest version announced while the channel existed
    epoch: int = 0  # bumped by "changes may have been missed" (reconnect): waiters re-check
    event: asyncio.Event = field(default_factory=asyncio.Event)
    subscribers: int = 0

    def wake(self) -> None:
        event, self.event = self.event, asyncio.Event()
        event.set()


class ChangeHub:
    def __init__(self) -> None:
        self._channels: dict[Key, _Channel] = {}

    @property
    def subscribers(self) -> int:
        return sum(c.subscribers for c in self._channels.values())

    @contextmanager
    def subscribe(self, tournament_id: str, division_id: str) -> Iterator[Subscription]:
        key = (tournament_id, division_id)
        channel = self._channels.get(key)
        if channel is None:
            channel = self._channels[key] = _Channel()
        channel.subscribers += 1
        SSE_SUBSCRIBERS.inc()
        try:
            yield Subscription(channel)
        finally:
            channel.subscribers -= 1
            SSE_SUBSCRIBERS.dec()
            if channel.subscribers == 0 and self._channels.get(key) is channel:
                del self._channels[key]

    def publish(self, tournament_id: str, division_id: str, version: int) -> None:
        channel = self._channels.get((tournament_id, division_id))
        if channel is not None:
            channel.latest = max(channel.latest, version)
            channel.wake()

    def publish_all(self) -> None:
        """Changes may have been missed (LISTEN reconnected): every subscriber re-checks."""
        for channel in self._channels.values():
            channel.epoch += 1
            channel.wake()


class Subscription:
    def __init__(self, channel: _Channel) -> None:
        self._channel = channel
        self._epoch = channel.epoch

    async def wait(self, after_version: int, wait_s: float) -> bool:
        """True when a version newer than ``after_version`` was announced (or may have been
        missed); False when ``wait_s`` passed without news."""
        channel = self._channel
        if channel.latest > after_version or channel.epoch != self._epoch:
            self._epoch = channel.epoch
            return True
        event = channel.event
        try:
            await asyncio.wait_for(event.wait(), wait_s)
        except TimeoutError:
            return False
        self._epoch = channel.epoch
        return True
