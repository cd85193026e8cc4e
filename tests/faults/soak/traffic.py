"""The soak's load, each on its own thread paced against one start instant: the bulk producer (a real
idempotent producer straight to the topic), the referees and ops posting through the intake HTTP
API, and a broadcast overlay polling standings at ~4 Hz per division.

Every wait is bounded and interruptible (``Event.wait``); a thread that fails keeps its exception
in ``error`` for the test to raise.
"""

from __future__ import annotations

import functools
import threading
import time
import traceback
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from confluent_kafka import KafkaError, Message, Producer

from services.core.settings import KafkaSettings
from tests.faults.soak.scenario import HttpAction, Timed

# A referee retries a request (503, connection trouble) for at most this long before giving up.
RETRY_BUDGET_S = 60.0


class Worker(threading.Thread):
    """A daemon thread with an interruptible ``halt`` event and its failure kept for the test."""

    def __init__(self, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.halt = threading.Event()
        self.error: str | None = None

    def run(self) -> None:
        try:
            self.body()
        except BaseException:
            self.error = traceback.format_exc()

    def body(self) -> None:
        raise NotImplementedError

    def finish(self, timeout: float) -> None:
        """Ask the thread to stop and wait for it (bounded)."""
        self.halt.set()
        self.join(timeout)
        if self.is_alive():
            raise TimeoutError(f"{self.name} did not stop within {timeout} s")

    def wait_until(self, due: float) -> bool:
        """Sleep until the monotonic instant ``due``; False if halted first."""
        remaining = due - time.monotonic()
        return remaining <= 0 or not self.halt.wait(remaining)


class BulkProducer(Worker):
    """Produces the scenario's direct stream over ``window_s`` seconds; remembers every delivery."""

    def __init__(self, kafka: KafkaSettings, stream: Sequence[Timed], start_at: float, window_s: float) -> None:
        super().__init__("soak-bulk-producer")
        self.kafka = kafka
        self.stream = stream
        self.start_at = start_at
        self.window_s = window_s
        self.delivered: dict[int, tuple[int, int]] = {}  # stream index -> (partition, offset)
        self.delivery_errors: list[str] = []
        self.produced = 0
        self.finished_at: float | None = None

    def _on_delivery(self, index: int, err: KafkaError | None, msg: Message) -> None:
        if err is not None:
            self.delivery_errors.append(f"#{index}: {err}")
            return
        partition, offset = msg.partition(), msg.offset()
        assert partition is not None and offset is not None
        self.delivered[index] = (partition, offset)

    def body(self) -> None:
        conf = self.kafka.producer_config()
        conf["linger.ms"] = 5
        producer = Producer(conf)
        try:
            for index, timed in enumerate(self.stream):
                due = self.start_at + timed.at * self.window_s
                if due - time.monotonic() > 0.02:
                    producer.poll(0)
                    if not self.wait_until(due):
                        return
                m = timed.message
                while True:
                    try:
                        producer.produce(
                            self.kafka.topic,
                            key=m.key.encode(),
                            value=m.value,
                            headers=list(m.headers),
                            on_delivery=functools.partial(self._on_delivery, index),
                        )
                        break
                    except BufferError:
                        producer.poll(0.05)
                self.produced += 1
                if index % 500 == 0:
                    producer.poll(0)
        finally:
            remaining = producer.flush(60)
            if remaining:
                self.delivery_errors.append(f"{remaining} messages not delivered within 60 s")
            self.finished_at = time.monotonic()


@dataclass(frozen=True, slots=True)
class Accepted:
    """A 202 from the intake: what was posted and where the event landed."""

    action: HttpAction
    partition: int
    offset: int
    event_id: str
    division_id: str = ""


class Referee(Worker):
    """Posts the scenario's HTTP script through the intake: results, voids, re-posts and finalizes."""

    def __init__(
        self, intake_url: str, tokens: dict[str, str], actions: Sequence[HttpAction], start_at: float, window_s: float
    ) -> None:
        super().__init__("soak-referee")
        self.url = intake_url
        self.tokens = tokens
        self.actions = actions
        self.start_at = start_at
        self.window_s = window_s
        self.accepted: list[Accepted] = []
        self.statuses: Counter[str] = Counter()
        self.failures: list[str] = []
        self.retries = 0
        self.latencies_ms: list[float] = []
        self.done = 0
        self.finished_at: float | None = None

    def body(self) -> None:
        with httpx.Client(timeout=10.0) as client:
            for action in self.actions:
                if not self.wait_until(self.start_at + action.at * self.window_s):
                    return
                self._post(client, action)
                self.done += 1
        self.finished_at = time.monotonic()

    def _request(self, client: httpx.Client, action: HttpAction) -> httpx.Response:
        if action.kind == "finalize":
            return client.post(
                f"{self.url}/v1/tournaments/{action.tournament_id}/finalize",
                headers={"Authorization": f"Bearer {self.tokens['ops']}"},
            )
        path = "results" if action.kind == "result" else "void"
        return client.post(
            f"{self.url}/v1/tournaments/{action.tournament_id}/bouts/{action.bout_id}/{path}",
            json=action.body,
            headers={"Authorization": f"Bearer {self.tokens['referee']}"},
        )

    def _post(self, client: httpx.Client, action: HttpAction) -> None:
        deadline = time.monotonic() + RETRY_BUDGET_S
        while not self.halt.is_set():
            started = time.perf_counter()
            try:
                resp = self._request(client, action)
            except httpx.TransportError as exc:
                self.statuses[f"error:{type(exc).__name__}"] += 1
                wait = 0.5
            else:
                self.latencies_ms.append((time.perf_counter() - started) * 1000)
                self.statuses[str(resp.status_code)] += 1
                if resp.status_code == 202:
                    self._accepted(action, resp.json())
                    return
                if resp.status_code != 503:
                    self.failures.append(
                        f"{action.kind} {action.bout_id or action.tournament_id}: {resp.status_code} {resp.text[:300]}"
                    )
                    return
                if "retry-after" not in resp.headers:
                    self.failures.append(f"503 without Retry-After: {resp.text[:200]}")
                wait = min(2.0, float(resp.headers.get("retry-after", "1")))
            if time.monotonic() + wait > deadline:
                self.failures.append(f"{action.kind} {action.bout_id or action.tournament_id}: gave up after retries")
                return
            self.retries += 1
            self.halt.wait(wait)

    def _accepted(self, action: HttpAction, body: dict[str, Any]) -> None:
        if action.kind == "finalize":
            for e in body["events"]:
                self.accepted.append(
                    Accepted(action, int(e["partition"]), int(e["offset"]), str(e["event_id"]), str(e["division_id"]))
                )
            return
        self.accepted.append(Accepted(action, int(body["partition"]), int(body["offset"]), str(body["event_id"])))


class OverlayPoller(Worker):
    """A broadcast overlay: GET each division's standings ~``hz`` times a second with If-None-Match."""

    DOCUMENTED = frozenset({200, 304, 503})

    def __init__(self, api_url: str, divisions: Sequence[tuple[str, str]], start_at: float, hz: float = 4.0) -> None:
        super().__init__("soak-overlay-poller")
        self.start_at = start_at
        self.url = api_url
        self.divisions = divisions
        self.period = 1.0 / hz
        self.statuses: Counter[str] = Counter()
        self.undocumented: list[str] = []
        self.latencies_ms: list[float] = []
        self.last_503: str | None = None

    def body(self) -> None:
        etags: dict[tuple[str, str], str] = {}
        next_at = time.monotonic()
        with httpx.Client(timeout=5.0) as client:
            while not self.halt.is_set():
                for t, d in self.divisions:
                    headers = {"If-None-Match": etags[(t, d)]} if (t, d) in etags else {}
                    started = time.perf_counter()
                    try:
                        resp = client.get(f"{self.url}/v1/tournaments/{t}/divisions/{d}/standings", headers=headers)
                    except httpx.TransportError as exc:
                        self.statuses[f"error:{type(exc).__name__}"] += 1
                        self.undocumented.append(f"{self._at()} {t}/{d}: {type(exc).__name__}: {exc}")
                        continue
                    self.latencies_ms.append((time.perf_counter() - started) * 1000)
                    self.statuses[str(resp.status_code)] += 1
                    if resp.status_code == 200 and "etag" in resp.headers:
                        etags[(t, d)] = resp.headers["etag"]
                    elif resp.status_code == 503:
                        self.last_503 = resp.text[:300]
                        if "retry-after" not in resp.headers:
                            self.undocumented.append(
                                f"{self._at()} {t}/{d}: 503 without Retry-After: {resp.text[:200]}"
                            )
                    elif resp.status_code not in self.DOCUMENTED:
                        self.undocumented.append(f"{self._at()} {t}/{d}: {resp.status_code} {resp.text[:300]}")
                next_at += self.period
                if not self.wait_until(next_at):
                    return
                next_at = max(next_at, time.monotonic() - self.period)  # do not burst after a stall

    def _at(self) -> str:
        return f"{time.monotonic() - self.start_at:.1f}s"


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)
