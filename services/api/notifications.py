"""One dedicated LISTEN connection per process, in a thread, reconnecting with backoff.

The projector ends each transaction with ``NOTIFY standings_changed, '{"t":..,"d":..,"v":..}'``.
Every notification is handed to the event loop; on every (re)connect — after ``LISTEN`` is in
place — the owner is told to forget everything, since changes may have been missed meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
from psycopg import sql

from services.core.logging import get_logger

CHANNEL = "standings_changed"
APPLICATION_NAME = "standings-api-listen"  # visible in pg_stat_activity
log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Change:
    tournament_id: str
    division_id: str
    version: int


def parse_payload(payload: str) -> Change | None:
    """``{"t":..,"d":..,"v":..}`` as a Change; None when malformed (the caller then drops everything)."""
    try:
        data = orjson.loads(payload)
        return Change(str(data["t"]), str(data["d"]), int(data["v"]))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


class NotificationListener:
    """Runs ``LISTEN`` in a daemon thread; callbacks run on the given asyncio loop.

    ``on_change(Change)`` for each notification, ``on_connected()`` once LISTEN is active (after
    every reconnect), ``on_disconnected()`` when the connection is lost. ``connected`` is the
    liveness flag /readyz reports.
    """

    def __init__(
        self,
        conninfo: str,
        *,
        on_change: Callable[[Change], None],
        on_connected: Callable[[], None],
        on_disconnected: Callable[[], None],
        connect_kwargs: dict[str, Any] | None = None,
        channel: str = CHANNEL,
        probe_every_s: float = 5.0,
        max_backoff_s: float = 5.0,
    ) -> None:
        self._conninfo = conninfo
        self._on_change = on_change
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._kwargs = {"connect_timeout": 5, "application_name": APPLICATION_NAME, **(connect_kwargs or {})}
        self._channel = channel
        self._probe_every_s = probe_every_s
        self._max_backoff_s = max_backoff_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._conn: psycopg.Connection[Any] | None = None
        self.connected = False
        self.reconnects = 0
        self.notifications = 0

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._thread = threading.Thread(target=self._run, name="standings-listen", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def wait_connected(self, timeout: float) -> bool:
        """Block until LISTEN is active (tests/startup); False after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not self.connected:
            if self._stop.wait(min(0.02, max(0.0, deadline - time.monotonic()))) or time.monotonic() >= deadline:
                return self.connected
        return True

    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # loop closed between the check and the call
                loop.call_soon_threadsafe(fn, *args)

    def _run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            try:
                self._listen_once()
                backoff = 0.1
            except (psycopg.Error, OSError) as exc:
                log.warning("listen_connection_lost", error=str(exc), retry_in_s=backoff)
            finally:
                if self.connected:
                    self.connected = False
                    self._post(self._on_disconnected)
            if self._stop.wait(backoff):
                break
            backoff = min(backoff * 2, self._max_backoff_s)

    def _listen_once(self) -> None:
        with psycopg.connect(self._conninfo, autocommit=True, **self._kwargs) as conn:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
            self.connected = True
            self.reconnects += 1
            self._post(self._on_connected)
            log.info("listen_connected", channel=self._channel)
            last_probe = time.monotonic()
            while not self._stop.is_set():
                for note in conn.notifies(timeout=0.5):
                    self.notifications += 1
                    change = parse_payload(note.payload)
                    if change is None:
                        log.warning("listen_bad_payload", payload=note.payload[:200])
                        self._post(self._on_connected)  # unknown change: forget everything
                    else:
                        self._post(self._on_change, change)
                if time.monotonic() - last_probe >= self._probe_every_s:
                    conn.execute("SELECT 1")  # an idle socket can die silently; find out
                    last_probe = time.monotonic()
