"""The loop's stop flag: ``threading.Event`` semantics, safe to set from a signal handler.

A signal handler runs on the main thread between two bytecodes, possibly inside ``Event.wait`` on
that same thread while it holds the event's lock; that lock is not reentrant, so ``Event.set``
there would deadlock the process on SIGTERM. This flag's lock is reentrant: a ``set`` landing
there goes through, and the interrupted wait returns at its timeout at the latest.
"""

from __future__ import annotations

import threading


class StopEvent:
    def __init__(self) -> None:
        self._cond = threading.Condition(threading.RLock())
        self._flag = False

    def set(self) -> None:
        with self._cond:
            self._flag = True
            self._cond.notify_all()

    def is_set(self) -> bool:
        return self._flag

    def wait(self, timeout: float) -> bool:
        """Block until set (True) or ``timeout`` seconds passed (False)."""
        with self._cond:
            if not self._flag:
                self._cond.wait(timeout)
            return self._flag
