"""Whether a local TCP port is free, the way a service would take it."""

from __future__ import annotations

import socket


def bindable(port: int) -> bool:
    """``port`` on 127.0.0.1 can be bound right now (SO_REUSEADDR, as the services bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
