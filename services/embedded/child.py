"""What the embedded child-process components (tansu, osmem) share: a process in its own group on
a 127.0.0.1 port, started on a free port with a retry and waited for until it answers, and stopped,
killed or restarted idempotently. Each component says how to run itself (its binary, command line
and readiness probe) and how long a graceful stop may take."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar, Self

from services.embedded.errors import INSTALL_HINT, ComponentExitedError, ComponentStartError
from services.embedded.stoppable import Stoppable
from services.embedded.waiting import (
    default_log_dir,
    free_port,
    kill_group,
    log_tail,
    port_free,
    spawn,
    terminate_group,
    wait_until,
)


class ChildComponent(Stoppable):
    """Base of a component run as a child process; subclasses set ``COMPONENT``, ``PROCESS`` and
    ``STOP_GRACE_S`` and implement ``address``, ``_resolve_binary``, ``_command`` and ``_probe``."""

    COMPONENT: ClassVar[str] = "component"
    PROCESS: ClassVar[str] = "process"  # what the startup error calls it ("broker", "server")
    STOP_GRACE_S: ClassVar[float] = 1.0
    # False for a component that watches its parent itself (its command line names the parent pid).
    KERNEL_KILLS_WITH_PARENT: ClassVar[bool] = True

    def __init__(self, port: int, log_path: Path, *, binary: str | None = None, die_with_parent: bool = True) -> None:
        self.port = port
        self.log_path = log_path
        self.startup_s: float | None = None
        self._binary = binary
        self._die_with_parent = die_with_parent
        self._proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def start(
        cls,
        port: int | None = None,
        log_dir: Path | None = None,
        *,
        binary: str | None = None,
        timeout: float = 15.0,
        die_with_parent: bool = True,
    ) -> Self:
        """Start on ``port`` (a free one if None, with up to 3 attempts: a free port can be taken
        meanwhile) and wait until it answers its readiness probe.

        ``die_with_parent``: the component dies with the launching process (leave it on unless the
        launcher detaches). Logs go to ``log_dir/<component>-<port>.log``.
        """
        attempts = 1 if port is not None else 3
        for attempt in range(attempts):
            chosen = port if port is not None else free_port()
            log_path = (log_dir or default_log_dir()) / f"{cls.COMPONENT}-{chosen}.log"
            component = cls(chosen, log_path, binary=binary, die_with_parent=die_with_parent)
            try:
                component._launch(timeout)
            except ComponentStartError:
                if attempt == attempts - 1:
                    raise
                continue
            return component
        raise AssertionError("unreachable")

    @property
    def address(self) -> str:
        """Where clients reach it (named in the startup wait)."""
        raise NotImplementedError

    def _resolve_binary(self) -> str:
        raise NotImplementedError

    def _command(self, binary: str) -> list[str]:
        raise NotImplementedError

    def _probe(self) -> Callable[[], bool]:
        """A check that answers True once the component serves requests."""
        raise NotImplementedError

    def _launch(self, timeout: float) -> None:
        binary = self._binary or self._resolve_binary()
        args = self._command(binary)
        if not port_free(self.port):
            raise ComponentStartError(
                self.COMPONENT, f"port {self.port} is in use", "choose another port or stop its user"
            )
        started = time.monotonic()
        try:
            proc = spawn(args, self.log_path, die_with_parent=self._die_with_parent and self.KERNEL_KILLS_WITH_PARENT)
        except OSError as exc:
            raise ComponentStartError(self.COMPONENT, f"cannot run {binary} ({exc})", INSTALL_HINT) from exc
        self._proc = proc
        answers = self._probe()

        def ready() -> bool:
            if proc.poll() is not None:
                raise ComponentStartError(
                    self.COMPONENT,
                    f"{self.PROCESS} exited during startup with code {proc.returncode} ",
                    log_tail=log_tail(self.log_path),
                )
            return answers()

        try:
            wait_until(ready, timeout, f"{self.COMPONENT} on {self.address}")
        except BaseException:
            self.kill()
            raise
        self.startup_s = time.monotonic() - started

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
