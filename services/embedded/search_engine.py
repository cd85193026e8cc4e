"""osmem-server (in-memory, OpenSearch-API compatible) as a child process on 127.0.0.1.

Data lives in memory only: a restart starts empty. The official ``elasticsearch`` client needs
``SearchSettings.plain_json_media_type`` (osmem answers 406 to the vnd.elasticsearch media type).
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Callable

from services.embedded.child import ChildComponent
from services.embedded.errors import INSTALL_HINT, ComponentStartError

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
    """An osmem-server process in its own process group, ready once ``GET /`` answers.

    ``die_with_parent`` passes ``-parent-pid`` so the server exits when the launching process does
    (right for tests and a foreground ``standings up``; turn it off for a launcher that detaches).
    Its stdin is not used (``-no-stdin-watch``).
    """

    COMPONENT = COMPONENT
    PROCESS = "server"
    STOP_GRACE_S = 5.0
    KERNEL_KILLS_WITH_PARENT = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> str:
        return self.url

    def _resolve_binary(self) -> str:
        return resolve_osmem_binary()

    def _command(self, binary: str) -> list[str]:
        args = [binary, "-addr", f"127.0.0.1:{self.port}", "-no-stdin-watch"]
        if self._die_with_parent:
            args += ["-parent-pid", str(os.getpid())]
        return args

    def _probe(self) -> Callable[[], bool]:
        return lambda: search_ready(self.url, timeout=0.5)
