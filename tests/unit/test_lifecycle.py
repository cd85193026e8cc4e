"""The mains' lifecycle helper: wait for PostgreSQL with backoff, stop on SIGTERM at once."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from services.core.db.migrate import DatabaseNotMigrated
from services.core.lifecycle import stop_on_signals, wait_for_database

ENGINE = sa.create_engine("postgresql+psycopg://u@127.0.0.1:1/none")  # never connected: the check is a fake


def _down() -> OperationalError:
    return OperationalError("SELECT 1", {}, Exception("connection refused"))


def test_waits_while_the_database_is_down_then_returns_true() -> None:
    calls: list[float] = []

    def check(engine: sa.Engine) -> None:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise _down()

    assert wait_for_database(ENGINE, threading.Event(), service="test", check=check) is True
    assert len(calls) == 3
    assert calls[2] - calls[0] >= 0.2  # backed off between attempts


def test_a_stop_during_the_wait_returns_false_quickly() -> None:
    stop = threading.Event()

    def check(engine: sa.Engine) -> None:
        raise _down()

    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    assert wait_for_database(ENGINE, stop, service="test", max_backoff_s=30.0, check=check) is False
    assert time.monotonic() - started < 2.0


def test_already_stopped_does_not_check() -> None:
    stop = threading.Event()
    stop.set()

    def check(engine: sa.Engine) -> None:
        raise AssertionError("not called")

    assert wait_for_database(ENGINE, stop, service="test", check=check) is False


def test_an_unmigrated_database_is_not_waited_for() -> None:
    def check(engine: sa.Engine) -> None:
        raise DatabaseNotMigrated("run `standings migrate`")

    with pytest.raises(DatabaseNotMigrated):
        wait_for_database(ENGINE, threading.Event(), service="test", check=check)


def test_sigterm_sets_the_stop_event_and_calls_on_stop_then_handlers_are_restored() -> None:
    previous = signal.getsignal(signal.SIGTERM)
    stopped: list[bool] = []
    with stop_on_signals("test", on_stop=lambda: stopped.append(True)) as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        assert stop.wait(5)
    assert stopped == [True]
    assert signal.getsignal(signal.SIGTERM) is previous


def test_off_the_main_thread_no_handler_is_installed() -> None:
    seen: list[object] = []

    def body() -> None:
        with stop_on_signals("test") as stop:
            seen.append(signal.getsignal(signal.SIGTERM))
            seen.append(stop.is_set())

    before = signal.getsignal(signal.SIGTERM)
    thread = threading.Thread(target=body)
    thread.start()
    thread.join(5)
    assert seen == [before, False]
