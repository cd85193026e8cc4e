"""Which stack a CLI command talks to: the environment, else the running `standings up`, else a clear refusal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli.context import NO_STACK_EXIT_CODE, NoStackError, redact_url, resolve_target
from services.cli.main import app

STACK_DB = "postgresql+psycopg://postgres:hunter2@/standings?host=/tmp/sock&port=5433"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("STANDINGS_"):
            monkeypatch.delenv(name)


def _start_ticks(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rfind(")") + 2 :].split()[19])


def _write_state(home: Path, launcher_pid: int, start_ticks: int | None) -> Path:
    state = home / ".state"
    state.mkdir(parents=True)
    (state / "stack.json").write_text(
        json.dumps(
            {
                "version": 1,
                "launcher": {"pid": launcher_pid, "start_ticks": start_ticks, "detached": False},
                "kafka": {"pid": None},
                "search": {"pid": None},
                "env": {
                    "STANDINGS_DATABASE__URL": STACK_DB,
                    "STANDINGS_KAFKA__BOOTSTRAP_SERVERS": "127.0.0.1:39092",
                    "STANDINGS_SEARCH__URL": "http://127.0.0.1:39200",
                    "STANDINGS_SEARCH__PLAIN_JSON_MEDIA_TYPE": "true",
                    "STANDINGS_API__PORT": "45321",
                    "STANDINGS_PROJECTOR__CONSUMER__SESSION_TIMEOUT_MS": "6000",
                },
            }
        )
    )
    return state / "stack.json"


@pytest.fixture
def live_home(tmp_path: Path) -> Path:
    """A state file whose launcher is alive: this test process stands in for `standings up`."""
    _write_state(tmp_path, os.getpid(), _start_ticks(os.getpid()))
    return tmp_path


@pytest.fixture
def stale_home(tmp_path: Path) -> Path:
    """A state file whose launcher has exited (SIGKILLed `standings up`)."""
    gone = subprocess.Popen(["true"])
    gone.wait(timeout=10)
    _write_state(tmp_path, gone.pid, 1)
    return tmp_path


def test_the_running_stack_is_used_and_named_without_its_password(live_home: Path) -> None:
    target = resolve_target(live_home)
    settings = target.settings
    assert settings.database.url.get_secret_value() == STACK_DB
    assert settings.kafka.bootstrap_servers == "127.0.0.1:39092"
    assert settings.search.url == "http://127.0.0.1:39200" and settings.search.plain_json_media_type
    assert settings.api.port == 45321 and settings.projector.consumer.session_timeout_ms == 6000
    line = target.describe()
    assert line is not None
    assert f"using the stack started by `standings up` (pid {os.getpid()})" in line
    assert "hunter2" not in line and "postgres:***@/standings" in line


def test_single_settings_from_the_environment_override_the_stack(
    live_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STANDINGS_API__PORT", "1234")
    monkeypatch.setenv("standings_projector__consumer__session_timeout_ms", "7000")  # names are case-insensitive
    settings = resolve_target(live_home).settings
    assert settings.api.port == 1234 and settings.projector.consumer.session_timeout_ms == 7000
    assert settings.kafka.bootstrap_servers == "127.0.0.1:39092"


@pytest.mark.parametrize(
    "name", ["STANDINGS_DATABASE__URL", "STANDINGS_KAFKA__BOOTSTRAP_SERVERS", "STANDINGS_SEARCH__URL"]
)
def test_a_configured_endpoint_means_the_environment_configures_everything(
    live_home: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(name, "postgresql://env@db/x" if "DATABASE" in name else "http://env:1")
    target = resolve_target(live_home)
    assert target.stack is None and target.describe() is None
    # nothing of the state file leaks in (no mix of the environment's database and the stack's broker)
    assert target.settings.api.port == 8000
    assert "39092" not in target.settings.kafka.bootstrap_servers


def test_a_stale_state_file_is_not_a_running_stack(stale_home: Path) -> None:
    with pytest.raises(NoStackError, match=r"is not running \(its launcher, pid \d+, has exited"):
        resolve_target(stale_home)


def test_no_state_file_and_no_settings_is_refused(tmp_path: Path) -> None:
    with pytest.raises(NoStackError, match=r"no \.state/stack\.json"):
        resolve_target(tmp_path)


def test_an_unreadable_state_file_is_no_stack(tmp_path: Path) -> None:
    (tmp_path / ".state").mkdir()
    (tmp_path / ".state" / "stack.json").write_text("{half a file")
    with pytest.raises(NoStackError):
        resolve_target(tmp_path)


@pytest.mark.parametrize("args", [["token", "list"], ["token", "create", "--name", "x", "--role", "ops"], ["migrate"]])
def test_a_command_without_a_stack_exits_with_a_message_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.setenv("STANDINGS_HOME", str(tmp_path))
    result = CliRunner().invoke(app, args)
    assert result.exit_code == NO_STACK_EXIT_CODE, result.output
    assert "no stack to talk to" in result.stderr and "standings up" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_command_reports_the_stack_it_uses(live_home: Path) -> None:
    # The recorded database does not exist: the command names the stack, then fails on one line.
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("STANDINGS_")}
    result = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "token", "list"],
        env={**env, "STANDINGS_HOME": str(live_home)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert f"using the stack started by `standings up` (pid {os.getpid()})" in result.stderr
    assert "hunter2" not in result.stderr
    assert result.returncode == NO_STACK_EXIT_CODE, result.stderr
    assert "cannot reach PostgreSQL" in result.stderr and "Traceback" not in result.stderr


def test_redact_url() -> None:
    assert redact_url("postgresql://u:p@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert (
        redact_url("postgresql+psycopg://postgres@/standings?host=/x")
        == "postgresql+psycopg://postgres@/standings?host=/x"
    )
