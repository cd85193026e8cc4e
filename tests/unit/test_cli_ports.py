"""`standings up` chooses the services' ports: defaults when free, free ones otherwise, configured ones checked."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace

import pytest

from services.cli.ports import PortsInUse, plan_ports, service_ports
from services.core.settings import Settings
from tests.ports import bindable


@pytest.fixture
def listening() -> Iterator[socket.socket]:
    """Something else (another checkout's service) listening on a port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock
    sock.close()


def _port(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


def test_unset_ports_move_off_a_busy_default_and_are_held_until_released(listening: socket.socket) -> None:
    busy = _port(listening)
    # The busy port stands in for the read API's default (8000 may be anyone's on this machine).
    ports = [replace(p, default=busy) if p.env == "STANDINGS_API__PORT" else p for p in service_ports()]
    plan = plan_ports({}, Settings(), ports)
    chosen = {name: int(value) for name, value in plan.env.items()}
    assert set(chosen) == {p.env for p in ports}
    assert chosen["STANDINGS_API__PORT"] != busy and chosen["STANDINGS_API__PORT"] > 0
    assert len(set(chosen.values())) == len(chosen)
    assert any(f"port {busy} is in use" in note and "read API" in note for note in plan.notes)
    # Held: neither a component nor another `standings up` can take them before the services start.
    assert not any(bindable(port) for port in chosen.values())
    plan.release()
    assert all(bindable(port) for port in chosen.values())


def test_a_configured_busy_port_is_refused_before_anything_starts(listening: socket.socket) -> None:
    busy = _port(listening)
    env = {"STANDINGS_INTAKE__PORT": str(busy)}
    with pytest.raises(PortsInUse, match=rf"intake API: port {busy} \(STANDINGS_INTAKE__PORT\) is in use"):
        plan_ports(env, Settings(intake={"port": busy}))


def test_the_defaults_are_the_settings_defaults() -> None:
    assert {p.env: p.default for p in service_ports()} == {
        "STANDINGS_API__PORT": 8000,
        "STANDINGS_INTAKE__PORT": 8001,
        "STANDINGS_PROJECTOR__HTTP_PORT": 9102,
        "STANDINGS_INDEXER__HTTP_PORT": 9103,
    }


def test_a_configured_free_port_is_used_as_given() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = _port(probe)
    plan = plan_ports({"STANDINGS_INDEXER__HTTP_PORT": str(free)}, Settings(indexer={"http_port": free}))
    try:
        assert "STANDINGS_INDEXER__HTTP_PORT" not in plan.env  # the environment already says it
        assert bindable(free)
    finally:
        plan.release()
