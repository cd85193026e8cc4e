"""The services' HTTP ports for `standings up`: configured ports must be free, the others are chosen.

A port set in the environment (``STANDINGS_API__PORT`` …) is used as given; if something already
listens there, `standings up` says so before it starts anything. A port left unset takes its default
(8000, 8001, 9102, 9103) when that is free, else any free port, so two checkouts can run side by side.
Chosen ports stay bound by this process (without SO_REUSEADDR) until the services start, so neither
the embedded components nor another `standings up` can take them in between.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel

from services.core.settings import ApiSettings, IndexerSettings, IntakeSettings, ProjectorSettings, Settings


@dataclass(frozen=True)
class ServicePort:
    """One service's HTTP port: who listens there, the variable that sets it, where to find it in Settings."""

    label: str
    env: str
    read: Callable[[Settings], int]
    host: Callable[[Settings], str]
    default: int


def _field_default(model: type[BaseModel], name: str) -> int:
    return int(model.model_fields[name].default)


def service_ports() -> tuple[ServicePort, ...]:
    """The four services' ports, defaults taken from the Settings models."""
    return (
        ServicePort(
            "read API",
            "STANDINGS_API__PORT",
            lambda s: s.api.port,
            lambda s: s.api.host,
            _field_default(ApiSettings, "port"),
        ),
        ServicePort(
            "intake API",
            "STANDINGS_INTAKE__PORT",
            lambda s: s.intake.port,
            lambda s: s.api.host,
            _field_default(IntakeSettings, "port"),
        ),
        ServicePort(
            "projector health",
            "STANDINGS_PROJECTOR__HTTP_PORT",
            lambda s: s.projector.http_port,
            lambda s: s.projector.http_host,
            _field_default(ProjectorSettings, "http_port"),
        ),
        ServicePort(
            "indexer health",
            "STANDINGS_INDEXER__HTTP_PORT",
            lambda s: s.indexer.http_port,
            lambda s: s.indexer.http_host,
            _field_default(IndexerSettings, "http_port"),
        ),
    )


class PortsInUse(Exception):
    """Configured ports that something else already listens on."""


def _bind(host: str, port: int) -> socket.socket | None:
    """A socket bound to ``host:port`` (no SO_REUSEADDR: it blocks other binds), or None if taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((host or "0.0.0.0", port))  # noqa: S104 (the host the service itself will bind)
    except OSError:
        sock.close()
        return None
    return sock


def _in_use(host: str, port: int) -> bool:
    """True if a server already listens on ``host:port`` (bind with SO_REUSEADDR, as the services do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host or "0.0.0.0", port))  # noqa: S104
        except OSError:
            return True
    return False


@dataclass
class PortPlan:
    """The ports the services will use: ``env`` for them, ``notes`` for ports that moved off their default."""

    env: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    _held: list[socket.socket] = field(default_factory=list, repr=False)

    def release(self) -> None:
        """Let the services bind the chosen ports (call right before starting them)."""
        for sock in self._held:
            with contextlib.suppress(OSError):
                sock.close()
        self._held.clear()


def plan_ports(
    environ: Mapping[str, str] | None = None,
    settings: Settings | None = None,
    ports: Sequence[ServicePort] | None = None,
) -> PortPlan:
    """Check the configured ports and choose the others; raises ``PortsInUse`` naming every busy one."""
    environ = os.environ if environ is None else environ
    settings = settings or Settings()
    configured = {name.upper() for name, value in environ.items() if value}
    plan = PortPlan()
    busy: list[str] = []
    try:
        for port in service_ports() if ports is None else ports:
            host = port.host(settings)
            value = port.read(settings)
            if port.env in configured and value != 0:
                if _in_use(host, value):
                    busy.append(f"{port.label}: port {value} ({port.env}) is in use")
                continue
            held = _bind(host, port.default)
            if held is None:
                held = _bind(host, 0)
                if held is None:
                    raise PortsInUse(f"{port.label}: no free port on {host}")
                chosen = int(held.getsockname()[1])
                plan.notes.append(f"port {port.default} is in use; {port.label} listens on {chosen} instead")
            else:
                chosen = port.default
            plan._held.append(held)
            plan.env[port.env] = str(chosen)
    except BaseException:
        plan.release()
        raise
    if busy:
        plan.release()
        raise PortsInUse(
            "\n".join([*busy, "stop what listens there, or set another port (0 or unset: `standings up` picks one)"])
        )
    return plan
