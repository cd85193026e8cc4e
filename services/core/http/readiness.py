"""Readiness for every process: named checks, each ``ok``, ``failing`` or ``timeout``.

What a probe answers is a *state* per check, never the exception or its message: those name hosts,
sockets and users, and ``/readyz`` is unauthenticated. Why a check fails goes to the log instead.

The HTTP apps run blocking probes with :func:`check_all` (in threads, concurrently, each bounded);
the consumer processes' health servers build a :class:`Readiness` from flags they already keep.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread
from sqlalchemy import Engine, text

from services.core.errors import ServiceUnavailable
from services.core.logging import get_logger

log = get_logger(__name__)

OK, FAILING, TIMEOUT = "ok", "failing", "timeout"

# A blocking check: returns None when healthy, else why not (logged, never served); raising is failing too.
Probe = Callable[[], str | None]


@dataclass(frozen=True, slots=True)
class Readiness:
    """Check name -> state (``ok``, ``failing``, ``timeout``), in the order the checks were given."""

    checks: Mapping[str, str]

    @classmethod
    def of(cls, **flags: bool) -> Readiness:
        """From flags a process keeps itself: ``Readiness.of(postgres=db_ok, consuming=running)``."""
        return cls({name: OK if up else FAILING for name, up in flags.items()})

    @property
    def ready(self) -> bool:
        return all(state == OK for state in self.checks.values())

    def failing(self) -> dict[str, str]:
        return {name: state for name, state in self.checks.items() if state != OK}

    def detail(self) -> str:
        """One line naming each failing check and its state (no reasons)."""
        failing = self.failing()
        if not failing:
            return "ready"
        return "not ready: " + ", ".join(f"{name} {state}" for name, state in sorted(failing.items()))

    def raise_unless_ready(self, retry_after_s: float = 1.0) -> None:
        """503 problem+json whose ``checks`` member holds every check's state."""
        if not self.ready:
            raise ServiceUnavailable(self.detail(), retry_after_s, checks=dict(self.checks))

    def body(self, **extra: Any) -> dict[str, Any]:
        """A health-server body: ``status`` ``ok``/``fail`` and the checks' states."""
        return {"status": "ok" if self.ready else "fail", "checks": dict(self.checks), **extra}


def _first_line(exc: BaseException) -> str:
    message = str(exc)
    return message.splitlines()[0] if message else ""


async def _run_probe(name: str, probe: Probe, timeout_s: float, service: str) -> str:
    reason: str | None = None
    with anyio.move_on_after(timeout_s) as scope:
        try:
            reason = await anyio.to_thread.run_sync(probe, abandon_on_cancel=True)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {_first_line(exc)}"
    if scope.cancelled_caught:
        log.warning("readiness_check_timeout", service=service, check=name, timeout_s=timeout_s)
        return TIMEOUT
    if reason is None:
        return OK
    log.warning("readiness_check_failed", service=service, check=name, reason=reason)
    return FAILING


async def check_all(probes: Mapping[str, Probe], *, timeout_s: float, service: str) -> Readiness:
    """Run the probes concurrently in worker threads; a probe without an answer in ``timeout_s`` is ``timeout``."""
    states: dict[str, str] = {}

    async def one(name: str, probe: Probe) -> None:
        states[name] = await _run_probe(name, probe, timeout_s, service)

    async with anyio.create_task_group() as group:
        for name, probe in probes.items():
            group.start_soon(one, name, probe)
    return Readiness({name: states[name] for name in probes})


def database_probe(engine: Engine) -> Probe:
    """``SELECT 1`` on a pooled connection; raises (failing) when PostgreSQL does not answer."""

    def probe() -> str | None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return None

    return probe
