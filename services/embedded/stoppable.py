"""The context-manager side every embedded launcher shares: leaving a ``with`` block stops it."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Stoppable:
    """A launcher whose ``stop()`` (idempotent) ends what it started; ``with launcher:`` calls it on exit."""

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
