"""Child processes of the soak: the projector members, the indexer and the reindex command.

Every child is spawned by one long-lived :class:`Spawner` thread with ``PR_SET_PDEATHSIG``: the
kernel kills the children if that thread (or the test process) dies, yet the chaos thread that
asks for a restart may end before they do. Each run of a service logs (JSON lines) to its own file
so the runs can be audited afterwards (batches applied, duplicates absorbed, rebuilds).
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import orjson

from services.embedded.waiting import _die_with_parent_hook, log_tail

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[3]


class Spawner:
    """Runs ``Popen`` on its own thread (the parent thread PDEATHSIG refers to) until ``close``."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="soak-spawner", daemon=True)
        self._thread.start()

    def popen(self, args: Sequence[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
        def start() -> subprocess.Popen[bytes]:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with log_path.open("ab") as log:
                return subprocess.Popen(
                    list(args),
                    cwd=REPO,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: a kill takes its children too
                    preexec_fn=_die_with_parent_hook(),
                )

        future: Future[subprocess.Popen[bytes]] = Future()
        self._jobs.put((start, future))
        return future.result(timeout=30)

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(10)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            fn, future = job
            try:
                future.set_result(fn())
            except BaseException as exc:
                future.set_exception(exc)


@dataclass
class Run:
    """One process of a service, from spawn to exit."""

    number: int
    log_path: Path
    proc: subprocess.Popen[bytes]
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    how: str = "running"  # "killed", "terminated", "exited <code>" (unexpected)

    def lines(self) -> Iterator[dict[str, Any]]:
        """The run's JSON log lines (a line cut short by SIGKILL is skipped)."""
        try:
            raw = self.log_path.read_bytes()
        except OSError:
            return
        for line in raw.splitlines():
            if line.startswith(b"{"):
                with contextlib.suppress(orjson.JSONDecodeError):
                    yield orjson.loads(line)


class Service:
    """A restartable ``python -m <module>`` child; ``env`` is called for every start."""

    def __init__(
        self, name: str, args: Sequence[str], env: Callable[[], dict[str, str]], log_dir: Path, spawner: Spawner
    ) -> None:
        self.name = name
        self.args = list(args)
        self._env = env
        self.log_dir = log_dir
        self._spawner = spawner
        self.runs: list[Run] = []
        self.unexpected_exits: list[str] = []
        self._lock = threading.Lock()

    @property
    def current(self) -> Run | None:
        return self.runs[-1] if self.runs and self.runs[-1].ended is None else None

    def running(self) -> bool:
        run = self.current
        return run is not None and run.proc.poll() is None

    def start(self) -> Run:
        with self._lock:
            if self.current is not None:
                raise RuntimeError(f"{self.name} is already running")
            number = len(self.runs)
            log_path = self.log_dir / f"{self.name}-{number:02d}.log"
            proc = self._spawner.popen(self.args, self._env(), log_path)
            run = Run(number, log_path, proc)
            self.runs.append(run)
            return run

    def kill(self) -> Run:
        """SIGKILL the whole process group and reap it (bounded)."""
        with self._lock:
            run = self.current
            if run is None:
                raise RuntimeError(f"{self.name} is not running")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(run.proc.pid, signal.SIGKILL)
            run.proc.wait(timeout=15)
            run.ended, run.how = time.monotonic(), "killed"
            return run

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM (graceful: finish the batch, commit, leave the group); SIGKILL after ``timeout``."""
        with self._lock:
            run = self.current
            if run is None:
                return 0
            with contextlib.suppress(ProcessLookupError):
                run.proc.send_signal(signal.SIGTERM)
            try:
                code = run.proc.wait(timeout=timeout)
                run.how = "terminated" if code == 0 else f"terminated, exit {code}"
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(run.proc.pid, signal.SIGKILL)
                code = run.proc.wait(timeout=15)
                run.how = "killed after SIGTERM timeout"
            run.ended = time.monotonic()
            return code

    def reap_unexpected(self) -> bool:
        """Record a run that exited on its own (a crash); True if one did."""
        with self._lock:
            run = self.current
            if run is None or run.proc.poll() is None:
                return False
            run.ended, run.how = time.monotonic(), f"exited {run.proc.returncode}"
            self.unexpected_exits.append(
                f"{self.name} run {run.number} exited with {run.proc.returncode}:\n{log_tail(run.log_path, 30)}"
            )
            return True

    def stop_all(self) -> None:
        """Teardown: stop the current run, whatever state it is in."""
        if self.current is not None:
            with contextlib.suppress(Exception):
                self.terminate(timeout=15)

    def lines(self, event: str | None = None) -> Iterator[tuple[Run, dict[str, Any]]]:
        for run in self.runs:
            for line in run.lines():
                if event is None or line.get("event") == event:
                    yield run, line
