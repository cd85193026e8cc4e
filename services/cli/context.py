"""What CLI commands share: settings, engine, and the project-local state directories.

Which stack a command talks to, first match wins:

1. the environment, when it names a PostgreSQL, Kafka or search endpoint (``STANDINGS_DATABASE__URL``,
   ``STANDINGS_KAFKA__BOOTSTRAP_SERVERS``, ``STANDINGS_SEARCH__URL``): compose, Kubernetes and tests
   configure it that way, and then the state file is not read at all;
2. the stack ``standings up`` runs from the same directory ($STANDINGS_HOME or the current one),
   read from ``.state/stack.json``; other ``STANDINGS_*`` variables still override single settings;
3. otherwise the command stops with a message saying how to get one (exit code 2), before any
   driver tries the built-in defaults.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from sqlalchemy import Engine

from services.core.db import migrate as migrations
from services.core.db.engine import make_engine
from services.core.settings import Settings
from services.embedded.stack import STATE_FILE, RecordedStack, recorded_stack

ENV_PREFIX = "STANDINGS_"
# Any of these in the environment means "configured here": the state file is then ignored.
CONNECTION_VARS = ("STANDINGS_DATABASE__URL", "STANDINGS_KAFKA__BOOTSTRAP_SERVERS", "STANDINGS_SEARCH__URL")
NO_STACK_EXIT_CODE = 2
NOT_MIGRATED_EXIT_CODE = 2


def project_dir() -> Path:
    """Where `standings up` keeps its data: $STANDINGS_HOME or the current directory."""
    return Path(os.environ.get("STANDINGS_HOME", ".")).resolve()


def state_dir() -> Path:
    return project_dir() / ".state"


def data_dir() -> Path:
    return project_dir() / "data"


class NoStackError(Exception):
    """Nothing is configured and no `standings up` runs in the project directory."""


@dataclass(frozen=True)
class Target:
    """The settings a command runs with and, when they come from `standings up`, that stack."""

    settings: Settings
    stack: RecordedStack | None

    def describe(self) -> str | None:
        """One line naming the stack in use (no password), or None when the environment configures it."""
        if self.stack is None:
            return None
        url = redact_url(self.settings.database.url.get_secret_value())
        if self.stack.launcher_pid is not None and self.stack.launcher_alive:
            return f"using the stack started by `standings up` (pid {self.stack.launcher_pid}): {url}"
        return f"using the detached stack recorded in {self.stack.state_file}: {url}"


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    return re.sub(r"(://[^:/@?#]*):[^@/?#]*@", r"\1:***@", url)


def _explicit_names(environ: Mapping[str, str]) -> set[str]:
    # pydantic-settings matches names case-insensitively; an empty value counts as unset here too.
    return {name.upper() for name, value in environ.items() if value}


def _nested(env: Mapping[str, str]) -> dict[str, Any]:
    """``{"STANDINGS_A__B": v}`` -> ``{"a": {"b": v}}``, the shape Settings takes as keyword arguments."""
    tree: dict[str, Any] = {}
    for name, value in env.items():
        if not name.upper().startswith(ENV_PREFIX):
            continue
        *parents, leaf = name[len(ENV_PREFIX) :].lower().split("__")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def resolve_target(home: Path | None = None) -> Target:
    """The settings for a command: the environment's, else the running stack's (see the module docstring).

    Raises ``NoStackError`` when neither configures anything.
    """
    sdir = (home / ".state") if home is not None else state_dir()
    explicit = _explicit_names(os.environ)
    if explicit & set(CONNECTION_VARS):
        return Target(Settings(), None)
    stack = recorded_stack(sdir)
    if stack is None or not stack.running:
        raise NoStackError(_no_stack_message(sdir, stack))
    recorded = {name: value for name, value in stack.env.items() if name.upper() not in explicit}
    return Target(Settings(**_nested(recorded)), stack)


def _no_stack_message(sdir: Path, stack: RecordedStack | None) -> str:
    if stack is None:
        why = f"`standings up` is not running in {sdir.parent} (no {sdir.name}/{STATE_FILE})"
    else:
        pid = f", pid {stack.launcher_pid}," if stack.launcher_pid is not None else ""
        why = (
            f"the stack recorded in {stack.state_file} is not running (its launcher{pid} has exited; "
            "`standings down` cleans up what it left)"
        )
    return (
        f"no stack to talk to: {why}, and none of {', '.join(CONNECTION_VARS)} is set.\n"
        "Start one with `standings up` in that directory (or point STANDINGS_HOME at it), "
        "or set the STANDINGS_* variables (see services/core/settings.py)."
    )


def load_settings() -> Settings:
    """Settings for a CLI command; says on stderr which stack it uses, exits 2 if there is none."""
    try:
        target = resolve_target()
    except NoStackError as exc:
        typer.echo(f"standings: {exc}", err=True)
        raise typer.Exit(NO_STACK_EXIT_CODE) from None
    line = target.describe()
    if line:
        typer.echo(line, err=True)
    return target.settings


@contextmanager
def exit_on(error: type[Exception], code: int, console: Console, markup: str = "[red]{}[/red]") -> Iterator[None]:
    """Ends the command with exit code ``code`` when the block raises ``error``: its message, put in
    ``markup``, printed on ``console`` instead of a traceback."""
    try:
        yield
    except error as exc:
        console.print(markup.format(exc))
        raise typer.Exit(code) from None


def engine_for(settings: Settings) -> Engine:
    return make_engine(settings.database, pool_size=2)


@contextmanager
def migrated_engine(settings: Settings) -> Iterator[Engine]:
    """The command's engine, disposed on exit, on a schema at the code's head: an unmigrated database
    ends the command before it does anything (the message in red, exit code 2)."""
    engine = engine_for(settings)
    try:
        with exit_on(migrations.DatabaseNotMigrated, NOT_MIGRATED_EXIT_CODE, Console(stderr=True)):
            migrations.require_migrated(engine)
        yield engine
    finally:
        engine.dispose()
