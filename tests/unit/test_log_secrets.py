"""Logging never prints a bearer token, even in the traceback of a failed request.

A request handler's frames hold the ASGI scope (and with it the Authorization header): a
traceback renderer that shows frame locals would write the token to the logs. uvicorn logs a
500's traceback through the stdlib ("Exception in ASGI application"), the app through structlog;
both go through ``configure_logging`` in every process.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog

from services.core.auth import generate_token
from services.core.logging import configure_logging, get_logger

TOKEN = generate_token()


@pytest.fixture
def configured_logging() -> Iterator[None]:
    """configure_logging for one test, then the previous configuration back."""
    saved = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        structlog.configure(**saved)
        root.handlers[:] = handlers
        root.setLevel(level)


def _handle_request(scope: dict[str, object]) -> None:
    authorization = f"Bearer {TOKEN}"  # a local of the failing frame, like Starlette's request
    raise RuntimeError(f"boom while handling {len(authorization)} bytes")


@pytest.mark.usefixtures("configured_logging")
@pytest.mark.parametrize("json", [True, False], ids=["json", "console"])
def test_tracebacks_are_logged_without_frame_locals(json: bool, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("DEBUG", json=json)
    scope = {"type": "http", "headers": [(b"authorization", f"Bearer {TOKEN}".encode())]}
    try:
        _handle_request(scope)
    except RuntimeError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
        get_logger("test.handler").exception("unhandled_error", path="/v1/athletes")
    err = capsys.readouterr().err
    assert err.count("RuntimeError: boom while handling") == 2, err  # both tracebacks are there, as text
    assert TOKEN not in err and TOKEN.removeprefix("stk_") not in err


@pytest.mark.usefixtures("configured_logging")
def test_secret_fields_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("DEBUG", json=True)
    get_logger("test.redact").info("login", authorization=f"Bearer {TOKEN}", token=TOKEN, token_id="tok_1")
    err = capsys.readouterr().err
    assert TOKEN not in err and "tok_1" in err
