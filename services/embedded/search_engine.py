"""osmem-server (in-memory, OpenSearch-API compatible) as a child process on 127.0.0.1.

Data lives in memory only: a restart starts empty. The official ``elasticsearch`` client needs
``SearchSettings.plain_json_media_type`` (osmem answers 406 to the vnd.elasticsearch media type).
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from services.embedded.errors import INSTALL_HINT, ComponentExitedError, ComponentStartError
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

COMPONENT = "osmem"
# Never route the local health probe through an HTTP proxy from the environment.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def resolve_osmem_binary() -> str:
    """``$OSMEM_SERVER_BIN``, else the binary bundled in the osmem-server wheel."""
    try:
        import osmem_server
    except ImportError as exc:
        raise ComponentStartError(COMPONENT, "osmem-server is not installed", INSTALL_HINT) from exc
    try:
        return osmem_server.resolve_binary()
    except osmem_server.OsmemError as exc:
        raise ComponentStartError(COMPONENT, str(exc), INSTALL_HINT) from exc


def search_ready(url: str, timeout: float = 1.0) -> bool:
    """True once ``GET /`` answers 200."""
    try:
        with _NO_PROXY.open(f"{url}/", timeout=timeout) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


class OsmemEngine:
    """An osmem-server process in its own process group.

    ``die_with_parent`` passes ``-parent-pid`` so the server exits when the launching process does
    (right for tests and a foreground ``standings up``; turn it off for a launcher that detaches).
    Its stdin is not used (``-no-stdin-watch``).
    """

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
    ) -> OsmemEngine:
        """Start osmem on ``port`` (a free one if None) and wait until ``GET /`` answers."""
        attempts = 1 if port is not None else 3  # a free port can be taken by someone else meanwhile
        for attempt in range(attempts):
            chosen = port if port is not None else free_port()
            log_path = (log_dir or default_log_dir()) / f"osmem-{chosen}.log"
            engine = cls(chosen, log_path, binary=binary, die_with_parent=die_with_parent)
            try:
                engine._launch(timeout)
            except ComponentStartError:
                if attempt == attempts - 1:
                    raise
                continue
            return engine
        raise AssertionError("unreachable")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def is_running(self) -> bool:
        return self.pid is not None

    def check_alive(self) -> None:
        """Raise ``ComponentExitedError`` if the server process has exited."""
        if self._proc is not None and self._proc.poll() is not None:
            raise ComponentExitedError(COMPONENT, f"exit code {self._proc.returncode}, log {self.log_path}")

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds. Idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            terminate_group(proc.pid, grace, "osmem shutdown", proc=proc)

    def kill(self) -> None:
        """SIGKILL the server (a crash, for fault tests); all indices are lost."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            kill_group(proc.pid, COMPONENT, proc=proc)

    def restart(self, timeout: float = 15.0) -> None:
        """Start again on the same port (stopping first if running); it starts with no indices."""
        self.stop()
        self._launch(timeout)

    def __enter__(self) -> OsmemEngine:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _launch(self, timeout: float) -> None:
        binary = self._binary or resolve_osmem_binary()
        args = [binary, "-addr", f"127.0.0.1:{self.port}", "-no-stdin-watch"]
        if self._die_with_parent:
            args += ["-parent-pid", str(os.getpid())]
        if not port_free(self.port):
            raise ComponentStartError(COMPONENT, f"port {self.port} is in use", "choose another port or stop its user")
        started = time.monotonic()
        try:
            proc = spawn(args, self.log_path, die_with_parent=False)
        except OSError as exc:
            raise ComponentStartError(COMPONENT, f"cannot run {binary} ({exc})", INSTALL_HINT) from exc
        self._proc = proc

        def ready() -> bool:
            if proc.poll() is not None:
                raise ComponentStartError(
                    COMPONENT,
                    f"server exited during startup with code {proc.returncode} ",
                    log_tail=log_tail(self.log_path),
                )
            return search_ready(self.url, timeout=0.5)

        try:
            wait_until(ready, timeout, f"osmem on {self.url}")
        except BaseException:
            self.kill()
            raise
        self.startup_s = time.monotonic() - started
