"""A loop's ``run()`` in a daemon thread, keeping what it raised so the test can re-raise it."""

from __future__ import annotations

import threading
from typing import Protocol


class Runnable(Protocol):
    def run(self) -> None: ...


class LoopThread:
    def __init__(self, loop: Runnable, name: str = "projector-under-test") -> None:
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._target, args=(loop,), name=name, daemon=True)

    def _target(self, loop: Runnable) -> None:
        try:
            loop.run()
        except BaseException as exc:
            self.errors.append(exc)

    def start(self) -> LoopThread:
        self.thread.start()
        return self

    def raise_error(self) -> None:
        """Re-raise the first exception ``run()`` raised, if any."""
        if self.errors:
            raise self.errors[0]
