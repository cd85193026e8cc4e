"""osmem-server (in-memory, OpenSearch-API compatible) as a child process on 127.0.0.1.

Data lives in memory only: a restart starts empty. The official ``elasticsearch`` client needs
``SearchSettings.plain_json_media_type`` (osmem answers 406 to the vnd.elasticsearch media type).
"""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from pathlib import Path

from services.embedded.child import ChildComponent
from services.embedded.errors import INSTALL_HINT, ComponentStartError
from services.embedded.waiting import (
    log_tail,
    port_free,
    spawn,
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


class OsmemEngine(ChildComponent):
    """An osmem-server process in its own process group.

    ``die_with_parent`` passes ``-parent-pid`` so the server exits when the launching process does
    (right for tests and a foreground ``standings up``; turn it off for a launcher that detaches).
    Its stdin is not used (``-no-stdin-watch``).
    """

    COMPONENT = COMPONENT
    STOP_GRACE_S = 5.0

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
        return cls._start_on(
            port, log_dir, timeout, lambda p, log: cls(p, log, binary=binary, die_with_parent=die_with_parent)
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

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
