"""Bulk writes with external versions, checked item by item.

Every item of every bulk response is looked at:

* 2xx: written; a delete answering 404 (``not_found``) is fine too (nothing to delete);
* 409 version conflict: the index already holds this version or a newer one (an older write lost
  to a newer one, or a replay) - correct, counted as ``conflict``;
* 429: the engine is shedding load - only those items are resent, with exponential backoff
  (tenacity), a bounded number of times;
* anything else (mapping error, missing alias, ...): counted, logged and raised as
  :class:`BulkItemErrors` so the caller does not advance its position. Nothing is dropped.

Bodies are serialized once with orjson (NDJSON bytes) instead of through the client's stdlib JSON.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, cast

import orjson
from elastic_transport import ConnectionTimeout
from elasticsearch import ApiError, Elasticsearch
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from services.core import metrics
from services.core.logging import get_logger

Action = tuple[dict[str, Any], dict[str, Any] | None]
log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ItemError:
    op: str
    doc_id: str
    status: int
    type: str
    reason: str


class BulkItemErrors(Exception):
    """Bulk items the engine refused for a reason other than a version conflict."""

    def __init__(self, errors: Sequence[ItemError]) -> None:
        first = errors[0]
        super().__init__(
            f"{len(errors)} bulk item(s) failed; first: {first.op} {first.doc_id} -> "
            f"{first.status} {first.type}: {first.reason}"
        )
        self.errors = list(errors)
        # Every refusal was a 429 even after retries: the engine is overloaded (trips the breaker).
        self.unavailable = all(e.status == 429 for e in errors)

    @property
    def missing_index(self) -> bool:
        """The target alias/index does not exist (e.g. the engine restarted empty)."""
        return any(e.type in ("index_not_found_exception",) for e in self.errors)


class _Throttled(Exception):
    pass


@dataclass(slots=True)
class BulkStats:
    indexed: int = 0
    deleted: int = 0
    not_found: int = 0
    conflicts: int = 0
    retried: int = 0
    errors: list[ItemError] = field(default_factory=list)

    def add(self, other: BulkStats) -> None:
        self.indexed += other.indexed
        self.deleted += other.deleted
        self.not_found += other.not_found
        self.conflicts += other.conflicts
        self.retried += other.retried
        self.errors.extend(other.errors)


def encode(actions: Iterable[Action]) -> bytes:
    """NDJSON body of a bulk request."""
    parts: list[bytes] = []
    for header, body in actions:
        parts.append(orjson.dumps(header))
        if body is not None:
            parts.append(orjson.dumps(body))
    parts.append(b"")
    return b"\n".join(parts)


def _is_throttle(exc: BaseException) -> bool:
    return isinstance(exc, _Throttled) or (isinstance(exc, ApiError) and exc.status_code == 429)


def _is_throttle_or_timeout(exc: BaseException) -> bool:
    return _is_throttle(exc) or isinstance(exc, ConnectionTimeout)


class BulkWriter:
    """Sends actions in chunks; ``write_stream`` keeps up to ``concurrency`` chunks in flight."""

    def __init__(
        self,
        client: Elasticsearch,
        *,
        chunk_size: int = 2000,
        concurrency: int = 1,
        max_retries: int = 6,
        initial_backoff_s: float = 0.2,
        max_backoff_s: float = 5.0,
    ) -> None:
        self._client = client
        self.chunk_size = chunk_size
        self.concurrency = max(1, concurrency)
        self._max_retries = max_retries
        self._initial_backoff_s = initial_backoff_s
        self._max_backoff_s = max_backoff_s

    def write(
        self,
        index: str,
        actions: Sequence[Action],
        *,
        require_alias: bool = False,
        retry_timeouts: bool = False,
    ) -> BulkStats:
        """Write ``actions`` to ``index`` chunk by chunk; raises :class:`BulkItemErrors` after all chunks ran.

        ``retry_timeouts``: resend a chunk that timed out (a rebuild, where nobody else reports the
        outage); the live path lets the breaker count it instead.
        """
        stats = BulkStats()
        for start in range(0, len(actions), self.chunk_size):
            chunk = actions[start : start + self.chunk_size]
            stats.add(self._send(index, chunk, require_alias, retry_timeouts=retry_timeouts))
        self._raise_errors(stats)
        return stats

    def write_stream(
        self,
        index: str,
        actions: Iterable[Action],
        *,
        on_chunk: Callable[[int], None] | None = None,
        stop: threading.Event | None = None,
    ) -> BulkStats:
        """Write a stream of actions with ``concurrency`` chunk requests in flight (the reindex path).

        ``on_chunk(n)`` is called after each chunk with the number of items it carried. A chunk that
        times out is resent (bounded): the engine stalls under load and the writes are idempotent.
        """
        stats = BulkStats()
        iterator = iter(actions)
        in_flight: deque[tuple[Future[BulkStats], int]] = deque()
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="bulk") as pool:
            try:
                for chunk in _chunks(iterator, self.chunk_size):
                    if stop is not None and stop.is_set():
                        raise InterruptedError("bulk stream stopped")
                    while len(in_flight) >= self.concurrency:
                        self._collect(in_flight.popleft(), stats, on_chunk)
                    future = pool.submit(self._send, index, chunk, False, retry_timeouts=True)
                    in_flight.append((future, len(chunk)))
                while in_flight:
                    self._collect(in_flight.popleft(), stats, on_chunk)
            finally:
                for future, _ in in_flight:
                    future.cancel()
        self._raise_errors(stats)
        return stats

    # --- internals ---------------------------------------------------------------------------------

    @staticmethod
    def _collect(
        entry: tuple[Future[BulkStats], int], stats: BulkStats, on_chunk: Callable[[int], None] | None
    ) -> None:
        future, size = entry
        stats.add(future.result())
        if on_chunk is not None:
            on_chunk(size)

    @staticmethod
    def _raise_errors(stats: BulkStats) -> None:
        if stats.errors:
            first = stats.errors[0]
            log.error(
                "bulk_item_errors",
                count=len(stats.errors),
                first_id=first.doc_id,
                status=first.status,
                error_type=first.type,
                reason=first.reason,
            )
            raise BulkItemErrors(stats.errors)

    def _send(
        self, index: str, chunk: Sequence[Action], require_alias: bool, *, retry_timeouts: bool = False
    ) -> BulkStats:
        """One chunk; 429s (and, for a rebuild, timeouts: the writes are idempotent) are retried."""
        stats = BulkStats()
        pending: list[Action] = list(chunk)
        last_throttled: list[tuple[Action, dict[str, Any]]] = []
        retrying = Retrying(
            retry=retry_if_exception(_is_throttle_or_timeout if retry_timeouts else _is_throttle),
            wait=wait_exponential_jitter(
                multiplier=self._initial_backoff_s, max=self._max_backoff_s, jitter=self._initial_backoff_s
            ),
            stop=stop_after_attempt(self._max_retries),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        stats.retried += len(pending)
                        metrics.INDEX_DOCS_WRITTEN.labels(outcome="retried").inc(len(pending))
                    params: dict[str, Any] = {"index": index}
                    if require_alias:
                        params["require_alias"] = True
                    response = self._client.bulk(operations=cast(Any, encode(pending)), **params)
                    throttled = self._account(pending, response.body.get("items", []), stats)
                    if throttled:
                        last_throttled = throttled
                        pending = [action for action, _ in throttled]
                        raise _Throttled()
        except _Throttled:
            for action, result in last_throttled:
                stats.errors.append(_item_error(action, result))
            metrics.INDEX_DOCS_WRITTEN.labels(outcome="error").inc(len(last_throttled))
        return stats

    @staticmethod
    def _account(
        actions: Sequence[Action], items: Sequence[dict[str, Any]], stats: BulkStats
    ) -> list[tuple[Action, dict[str, Any]]]:
        if len(items) != len(actions):
            raise RuntimeError(f"bulk response has {len(items)} items for {len(actions)} actions")
        throttled: list[tuple[Action, dict[str, Any]]] = []
        counts = {"indexed": 0, "deleted": 0, "not_found": 0, "conflict": 0, "error": 0}
        for action, item in zip(actions, items, strict=True):
            op, result = next(iter(item.items()))
            status = int(result.get("status", 0))
            if 200 <= status < 300:
                key = "deleted" if op == "delete" else "indexed"
            elif status == 404 and op == "delete" and "error" not in result:
                key = "not_found"
            elif status == 409:
                key = "conflict"
            elif status == 429:
                throttled.append((action, result))
                continue
            else:
                key = "error"
                stats.errors.append(_item_error(action, result))
            counts[key] += 1
        stats.indexed += counts["indexed"]
        stats.deleted += counts["deleted"]
        stats.not_found += counts["not_found"]
        stats.conflicts += counts["conflict"]
        for outcome, n in counts.items():
            if n:
                metrics.INDEX_DOCS_WRITTEN.labels(outcome=outcome).inc(n)
        return throttled


def _item_error(action: Action, result: dict[str, Any]) -> ItemError:
    op = next(iter(action[0]))
    error = result.get("error") or {}
    if not isinstance(error, dict):
        error = {"type": "error", "reason": str(error)}
    return ItemError(
        op=op,
        doc_id=str(action[0][op].get("_id", "")),
        status=int(result.get("status", 0)),
        type=str(error.get("type", "")),
        reason=str(error.get("reason", ""))[:300],
    )


def _chunks(iterator: Iterator[Action], size: int) -> Iterator[list[Action]]:
    while chunk := list(islice(iterator, size)):
        yield chunk
