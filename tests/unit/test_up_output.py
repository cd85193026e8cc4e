"""What `standings up` prints when ready: every URL whole on its own line, even in an 80-column terminal."""

from __future__ import annotations

import io
from types import SimpleNamespace
from typing import cast

import pytest
from rich.console import Console

from services.cli import up
from services.core.settings import Settings
from services.embedded.stack import EmbeddedStack

LONG_SOCKET = "/home/a-newcomer/src/federation/standings-checkout-two/data/postgres"


def _fake_stack() -> EmbeddedStack:
    return cast(
        EmbeddedStack,
        SimpleNamespace(
            postgres=SimpleNamespace(url=f"postgresql+psycopg://postgres@/standings?host={LONG_SOCKET}&port=5432"),
            kafka=SimpleNamespace(bootstrap="127.0.0.1:41234"),
            search=SimpleNamespace(url="http://127.0.0.1:41235"),
        ),
    )


@pytest.mark.parametrize("services", [True, False])
def test_every_url_is_printed_whole_at_80_columns(monkeypatch: pytest.MonkeyPatch, services: bool) -> None:
    out = io.StringIO()
    monkeypatch.setattr(up, "console", Console(file=out, width=80, force_terminal=False, color_system=None))
    settings = Settings(api={"port": 45321}, intake={"port": 45322}, projector={"http_port": 45323})
    stack = _fake_stack()
    up._print_ready(stack, settings, {"ops": "stk_" + "o" * 43, "referee": "stk_" + "r" * 43}, services)
    lines = out.getvalue().splitlines()
    rows = up.ready_rows(stack, settings, services)
    assert len(rows) == (10 if services else 3)
    for name, url in rows:
        assert any(line.split() == [*name.split(), url] for line in lines), (url, lines)
    assert any(line.endswith("stk_" + "o" * 43) for line in lines)
    assert "ready" in lines[-1] and "Ctrl-C" in lines[-1]
    if services:
        assert "  overlay     http://127.0.0.1:45321/overlay/world-championships-2026/m-73kg" in lines
        assert "  mat table   http://127.0.0.1:45322/mat/world-championships-2026/1" in lines
        assert "stk_" + "r" * 43 in lines  # the referee token alone on its line, for the mat console
        # everything but the unix-socket path of PostgreSQL fits in 80 columns
        assert all(len(line) <= 80 for line in lines if "postgresql" not in line)
