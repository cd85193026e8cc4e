"""EventProducer bounds: no broker at all, and a full local queue, both end in a prompt 503."""

from __future__ import annotations

import asyncio
import time

import pytest

from services.core import events
from services.core.domain.results import BoutResult, Method, Score, Winner
from services.core.errors import ServiceUnavailable
from services.core.kafka.producer import EventProducer
from services.core.settings import IntakeSettings, KafkaSettings, Settings
from services.embedded.waiting import free_port


def event(revision: int) -> events.ResultRecorded:
    result = BoutResult("b-1", revision, Winner.RED, Method.KO, Score(1, 0))
    return events.result_recorded("t-1", "d-1", result, events.now_utc())


def dead_broker_settings(**kafka: object) -> Settings:
    return Settings(
        kafka=KafkaSettings.model_validate({"bootstrap_servers": f"127.0.0.1:{free_port()}", **kafka}),
        intake=IntakeSettings(delivery_timeout_s=1.0),
    )


def test_unreachable_broker_is_503_within_the_delivery_timeout():
    producer = EventProducer(dead_broker_settings())
    producer.start()
    try:

        async def send() -> None:
            await producer.send(event(1))

        started = time.monotonic()
        with pytest.raises(ServiceUnavailable) as info:
            asyncio.run(send())
        elapsed = time.monotonic() - started
        assert elapsed < 1.0 + 1.0, f"took {elapsed:.2f}s"
        assert info.value.status == 503 and int(info.value.headers["Retry-After"]) >= 1
        assert producer.check(timeout=0.5) is not None  # not ready
    finally:
        producer.close(timeout=2.0)


def test_full_local_queue_is_an_immediate_503():
    producer = EventProducer(dead_broker_settings(queue_buffering_max_messages=1))
    producer.start()
    try:

        async def two() -> tuple[str, float, BaseException | None]:
            first = asyncio.ensure_future(producer.send(event(1)))
            await asyncio.sleep(0)  # one loop turn: the first send produces (takes the only slot) and waits
            started = time.monotonic()
            with pytest.raises(ServiceUnavailable) as second:
                await producer.send(event(2))
            elapsed = time.monotonic() - started
            (first_outcome,) = await asyncio.gather(first, return_exceptions=True)
            return second.value.detail, elapsed, first_outcome if isinstance(first_outcome, BaseException) else None

        detail, elapsed, first_error = asyncio.run(two())
        assert "queue is full" in detail and elapsed < 0.1
        assert isinstance(first_error, ServiceUnavailable)  # the first one times out: no broker
    finally:
        producer.close(timeout=2.0)


def test_not_started_is_503():
    producer = EventProducer(dead_broker_settings())

    async def send() -> None:
        await producer.send(event(1))

    with pytest.raises(ServiceUnavailable):
        asyncio.run(send())
