"""Run the product's services as child processes (used by `standings up` and the e2e tests)."""

from __future__ import annotations

import contextlib
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen

from services.embedded.waiting import log_tail, spawn, terminate_group, wait_until

# name -> (python module run with -m, settings field holding its HTTP port)
SERVICE_MODULES: dict[str, str] = {
    "intake": "services.intake.main",
    "projector": "services.projector.main",
    "indexer": "services.indexer.main",
    "api": "services.api.main",
}


@dataclass
class ServiceProcess:
    name: str
    health_url: str
    log_path: Path
    proc: Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = spawn([sys.executable, "-m", SERVICE_MODULES[self.name]], self.log_path, die_with_parent=True)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ready(self) -> bool:
        if not self.running():
            raise RuntimeError(f"{self.name} exited; last log lines:\n{log_tail(self.log_path)}")
        try:
            with urllib.request.urlopen(self.health_url, timeout=1) as resp:  # noqa: S310 (our own loopback URL)
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def stop(self, grace: float = 15.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, TimeoutError):
                terminate_group(self.proc.pid, grace, f"{self.name} shutdown", proc=self.proc)


@dataclass
class Supervisor:
    services: list[ServiceProcess] = field(default_factory=list)

    def add(self, name: str, health_url: str, log_dir: Path) -> ServiceProcess:
        svc = ServiceProcess(name, health_url, log_dir / f"{name}.log")
        self.services.append(svc)
        return svc

    def start_all(self, timeout: float = 60.0) -> None:
        for svc in self.services:
            svc.start()
        for svc in self.services:
            wait_until(svc.ready, timeout, f"{svc.name} readiness ({svc.health_url})", interval=0.2)

    def check_alive(self) -> None:
        for svc in self.services:
            if not svc.running():
                raise RuntimeError(f"{svc.name} exited; last log lines:\n{log_tail(svc.log_path)}")

    def stop_all(self) -> None:
        # Reverse order: API and intake first, consumers last so they finish their batch.
        for svc in reversed(self.services):
            svc.stop()
