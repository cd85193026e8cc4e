"""The whole embedded stack (PostgreSQL, tansu, osmem) for ``standings up`` / ``standings down`` and tests.

``EmbeddedStack.start`` writes ``state_dir/stack.json`` (pids, ports, urls) so that another process
can stop everything with ``stop_from_state``. Shutdown is explicit and idempotent: ``stop()``, the
context manager exit, SIGINT/SIGTERM (with ``handle_signals``) and, unless detached, process exit.
Unless detached, tansu and osmem also die with the launching process if it is SIGKILLed; the
PostgreSQL data dir persists, and a later start re-attaches to a server left running on it.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from services.embedded.errors import ComponentExitedError, ComponentStartError
from services.embedded.kafka_broker import TansuBroker, ensure_topics
from services.embedded.postgres import EmbeddedPostgres
from services.embedded.search_engine import OsmemEngine
from services.embedded.stoppable import Stoppable
from services.embedded.waiting import pid_alive, terminate_group, wait_for_exit

STATE_FILE = "stack.json"
_SHUTDOWN_SIGNALS = (signal.SIGTERM, signal.SIGHUP)

_SignalHandler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


class ShutdownSignal(KeyboardInterrupt):
    """Raised in the main thread on SIGTERM/SIGHUP when the stack handles signals (like SIGINT)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_shutdown(signum: int, frame: FrameType | None) -> None:
    raise ShutdownSignal(signum)


def _start_ticks(pid: int) -> int | None:
    """The process start time (clock ticks since boot) to tell a pid from a recycled one."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rfind(")") + 2 :].split()[19])


def _same_process(entry: Mapping[str, Any]) -> bool:
    pid = entry.get("pid")
    if not isinstance(pid, int) or not pid_alive(pid):
        return False
    recorded = entry.get("start_ticks")
    return recorded is None or _start_ticks(pid) == recorded


@dataclass
class EmbeddedStack(Stoppable):
    """PostgreSQL + tansu + osmem started together; use as a context manager."""

    state_dir: Path
    postgres: EmbeddedPostgres
    kafka: TansuBroker
    search: OsmemEngine
    detached: bool = False
    startup_s: float = 0.0
    # Settings recorded next to the components' addresses (e.g. the services' ports chosen by `standings up`).
    extra_env: dict[str, str] = field(default_factory=dict)
    _previous_handlers: dict[int, _SignalHandler] = field(default_factory=dict, repr=False)
    _stopped: bool = field(default=False, repr=False)

    @classmethod
    def start(
        cls,
        state_dir: Path,
        pg_datadir: Path | None = None,
        *,
        kafka_port: int | None = None,
        search_port: int | None = None,
        topics: Mapping[str, int] | None = None,
        detach: bool = False,
        handle_signals: bool = False,
        timeout: float = 30.0,
    ) -> EmbeddedStack:
        """Start all three components; on any failure stop what already started and re-raise.

        ``pg_datadir`` defaults to ``state_dir/pgdata`` (kept between runs); logs go to
        ``state_dir/logs``. ``topics`` (name -> partitions) are created on the broker.
        ``detach`` leaves the servers running when this process exits (stop them with
        ``stop_from_state``). ``handle_signals`` (main thread only) turns SIGTERM/SIGHUP into
        ``ShutdownSignal`` (a ``KeyboardInterrupt``) so that ``with`` blocks unwind and stop cleanly.
        """
        state_dir = Path(state_dir).expanduser().resolve()
        state_dir.mkdir(parents=True, exist_ok=True)
        state = read_state(state_dir)
        if state is not None:
            if _still_running(state):
                raise ComponentStartError(
                    "stack", f"already running (see {state_dir / STATE_FILE})", "run `standings down` first"
                )
            stop_from_state(state_dir)  # leftovers of a launcher that died (e.g. SIGKILL)
        previous: dict[int, _SignalHandler] = {}
        if handle_signals and threading.current_thread() is threading.main_thread():
            for signum in _SHUTDOWN_SIGNALS:
                previous[signum] = signal.signal(signum, _raise_shutdown)
        log_dir = state_dir / "logs"
        started = time.monotonic()
        postgres: EmbeddedPostgres | None = None
        kafka: TansuBroker | None = None
        search: OsmemEngine | None = None
        try:
            kafka = TansuBroker.start(kafka_port, log_dir, timeout=timeout, die_with_parent=not detach)
            search = OsmemEngine.start(search_port, log_dir, timeout=timeout, die_with_parent=not detach)
            postgres = EmbeddedPostgres.start(pg_datadir or state_dir / "pgdata", stop_at_exit=not detach)
            if topics:
                ensure_topics(kafka.bootstrap, topics, timeout=timeout)
        except BaseException:
            for component in (search, kafka, postgres):
                if component is not None:
                    with contextlib.suppress(Exception):
                        component.stop()
            _restore_handlers(previous)
            raise
        stack = cls(state_dir, postgres, kafka, search, detached=detach, _previous_handlers=previous)
        stack.startup_s = time.monotonic() - started
        stack.write_state()
        if not detach:
            atexit.register(stack.stop)
        return stack

    @property
    def state_file(self) -> Path:
        return self.state_dir / STATE_FILE

    def settings_env(self) -> dict[str, str]:
        """Environment variables pointing ``services.core.settings.Settings`` at this stack."""
        return {
            "STANDINGS_DATABASE__URL": self.postgres.url,
            "STANDINGS_KAFKA__BOOTSTRAP_SERVERS": self.kafka.bootstrap,
            "STANDINGS_SEARCH__URL": self.search.url,
            "STANDINGS_SEARCH__PLAIN_JSON_MEDIA_TYPE": "true",
        }

    def record_env(self, env: Mapping[str, str]) -> None:
        """Add ``STANDINGS_*`` settings to the state file's ``env`` block (what other commands read back)."""
        self.extra_env.update(env)
        self.write_state()

    def write_state(self) -> None:
        """(Re)write the state file atomically, e.g. after restarting a component."""

        def proc(pid: int | None, **extra: Any) -> dict[str, Any]:
            return {"pid": pid, "start_ticks": _start_ticks(pid) if pid else None, **extra}

        state = {
            "version": 1,
            "launcher": proc(os.getpid(), detached=self.detached),
            "postgres": proc(self.postgres.pid, datadir=str(self.postgres.datadir), url=self.postgres.url),
            "kafka": proc(
                self.kafka.pid, port=self.kafka.port, bootstrap=self.kafka.bootstrap, log=str(self.kafka.log_path)
            ),
            "search": proc(self.search.pid, port=self.search.port, url=self.search.url, log=str(self.search.log_path)),
            "env": {**self.settings_env(), **self.extra_env},
        }
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        os.replace(tmp, self.state_file)

    def check_alive(self) -> None:
        """Raise ``ComponentExitedError`` if any component has exited."""
        self.kafka.check_alive()
        self.search.check_alive()
        if not self.postgres.is_running():
            raise ComponentExitedError("PostgreSQL", f"postmaster gone, see {self.postgres.datadir / 'log'}")

    def wait(self, check_interval: float = 1.0) -> None:
        """Block until a shutdown signal (``KeyboardInterrupt``) or until a component dies."""
        tick = threading.Event()
        while True:
            tick.wait(check_interval)  # signal handlers run (and raise) during the wait
            self.check_alive()

    def stop(self) -> None:
        """Stop everything (osmem, tansu, PostgreSQL), remove the state file. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        errors: list[BaseException] = []
        for component in (self.search, self.kafka, self.postgres):
            try:
                component.stop()
            except Exception as exc:
                errors.append(exc)
        with contextlib.suppress(FileNotFoundError):
            self.state_file.unlink()
        _restore_handlers(self._previous_handlers)
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)
        if errors:
            raise errors[0]


def _restore_handlers(previous: dict[int, _SignalHandler]) -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    for signum, handler in previous.items():
        signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
    previous.clear()


def read_state(state_dir: Path) -> dict[str, Any] | None:
    """The state file's content, or None if there is none."""
    try:
        data: dict[str, Any] = json.loads((Path(state_dir) / STATE_FILE).read_text())
    except FileNotFoundError:
        return None
    return data


@dataclass(frozen=True)
class RecordedStack:
    """What a state file says about a stack: who launched it, whether it still runs, its settings."""

    state_file: Path
    launcher_pid: int | None
    launcher_alive: bool
    running: bool
    env: dict[str, str]

    @property
    def database_url(self) -> str | None:
        return self.env.get("STANDINGS_DATABASE__URL")


def recorded_stack(state_dir: Path) -> RecordedStack | None:
    """The stack recorded in ``state_dir``, or None without a (readable) state file.

    ``running`` is False for a stale file: its launcher has exited (and, for a detached stack,
    its servers too), e.g. after a SIGKILL; ``standings down`` cleans up what such a stack left.
    """
    state_file = Path(state_dir).expanduser().resolve() / STATE_FILE
    try:
        state = read_state(state_file.parent)
    except (OSError, ValueError):  # unreadable or half-written by hand: nothing usable is recorded
        return None
    if not isinstance(state, dict):
        return None
    launcher = state.get("launcher")
    pid = launcher.get("pid") if isinstance(launcher, dict) else None
    env = state.get("env")
    return RecordedStack(
        state_file=state_file,
        launcher_pid=pid if isinstance(pid, int) else None,
        launcher_alive=isinstance(launcher, dict) and _same_process(launcher),
        running=_still_running(state),
        env={str(k): str(v) for k, v in env.items()} if isinstance(env, dict) else {},
    )


def _still_running(state: Mapping[str, Any]) -> bool:
    """A live launcher (this process included), or a detached stack whose servers still run."""
    launcher = state.get("launcher")
    if not isinstance(launcher, dict):
        return False
    if _same_process(launcher):
        return True
    return bool(launcher.get("detached")) and any(_same_process(state.get(n, {})) for n in ("kafka", "search"))


def stop_from_state(state_dir: Path, grace: float = 5.0) -> bool:
    """Stop a stack started by another process (``standings down``) from its state file.

    A live launcher gets SIGTERM first so it shuts down itself; whatever is still running after
    ``grace`` seconds is stopped directly (process groups of tansu/osmem, ``pg_ctl stop`` for
    PostgreSQL). Pids are checked against their recorded start time, so a recycled pid is never
    signalled. Returns True if a stack was recorded, False if there was no state file.
    """
    state_dir = Path(state_dir).expanduser().resolve()
    state = read_state(state_dir)
    if state is None:
        return False
    launcher = state.get("launcher", {})
    launcher_pid = launcher.get("pid")
    if launcher_pid != os.getpid() and _same_process(launcher):
        with contextlib.suppress(ProcessLookupError):
            os.kill(launcher_pid, signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            wait_for_exit([launcher_pid], grace, "stack launcher shutdown")
    for name in ("search", "kafka"):
        entry = state.get(name, {})
        if _same_process(entry):
            terminate_group(entry["pid"], grace, f"{name} shutdown")
    datadir = state.get("postgres", {}).get("datadir")
    if datadir:
        EmbeddedPostgres.stop_datadir(Path(datadir))
    with contextlib.suppress(FileNotFoundError):
        (state_dir / STATE_FILE).unlink()
    return True
