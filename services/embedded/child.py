"""What the embedded child-process components (tansu, osmem) share: a process in its own group on
a 127.0.0.1 port, started on a free port with a retry, and stopped, killed or restarted idempotently.
Each component says how to launch itself (``_launch``) and how long a graceful stop may take."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

from services.embedded.errors import ComponentExitedError, ComponentStartError
from services.embedded.waiting import default_log_dir, free_port, kill_group, terminate_group


class ChildComponent:
    """Base of a component run as a child process; subclasses set ``COMPONENT`` and ``STOP_GRACE_S``
    and implement ``_launch(timeout)`` (which sets ``self._proc``)."""

    COMPONENT: ClassVar[str] = "component"
    STOP_GRACE_S: ClassVar[float] = 1.0

    def __init__(self, port: int, log_path: Path, *, binary: str | None = None, die_with_parent: bool = True) -> None:
        self.port = port
        self.log_path = log_path
        self.startup_s: float | None = None
        self._binary = binary
        self._die_with_parent = die_with_parent
        self._proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def _start_on(
        cls,
        port: int | None,
        log_dir: Path | None,
        timeout: float,
        make: Callable[[int, Path], Self],
    ) -> Self:
        """Start on ``port``, or on a free one with up to 3 attempts (a free port can be taken meanwhile)."""
        attempts = 1 if port is not None else 3
        for attempt in range(attempts):
            chosen = port if port is not None else free_port()
            component = make(chosen, (log_dir or default_log_dir()) / f"{cls.COMPONENT}-{chosen}.log")
            try:
                component._launch(timeout)
            except ComponentStartError:
                if attempt == attempts - 1:
                    raise
                continue
            return component
        raise AssertionError("unreachable")

    def _launch(self, timeout: float) -> None:
        raise NotImplementedError

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def is_running(self) -> bool:
        return self.pid is not None

    def check_alive(self) -> None:
        """Raise ``ComponentExitedError`` if the process has exited."""
        if self._proc is not None and self._proc.poll() is not None:
            raise ComponentExitedError(self.COMPONENT, f"exit code {self._proc.returncode}, log {self.log_path}")

    def stop(self, grace: float | None = None) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds (default ``STOP_GRACE_S``). Idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            terminate_group(
                proc.pid, self.STOP_GRACE_S if grace is None else grace, f"{self.COMPONENT} shutdown", proc=proc
            )

    def kill(self) -> None:
        """SIGKILL the process (a crash, for fault tests); a memory-only component loses everything."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            kill_group(proc.pid, self.COMPONENT, proc=proc)

    def restart(self, timeout: float = 15.0) -> None:
        """Start again on the same port (stopping first if running); it starts empty."""
        self.stop()
        self._launch(timeout)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
