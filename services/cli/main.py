"""The `standings` command."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from services.cli import consumers, rankings, replay, simulate, tokens
from services.cli import up as stack_up
from services.cli.context import NO_STACK_EXIT_CODE, exit_on, load_settings, migrated_engine
from services.core.db import migrate as migrations
from services.registration.loader import load_registration
from services.registration.model import RegistrationError


class _Standings(typer.Typer):
    """The command group; a database that cannot be reached ends a command with one line, not a traceback."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except OperationalError as exc:
            reason = str(exc.orig or exc).strip().splitlines()[0]
            typer.echo(f"standings: cannot reach PostgreSQL: {reason}", err=True)
            raise SystemExit(NO_STACK_EXIT_CODE) from None


app = _Standings(name="standings", no_args_is_help=True, help="Live tournament standings pipeline.")
console = Console(stderr=True)

app.command()(stack_up.up)
app.command()(stack_up.down)
app.add_typer(tokens.app, name="token", help="Create, list and revoke API tokens.")
app.add_typer(rankings.app, name="rankings")
app.command("reindex")(rankings.reindex)
app.command("audit")(rankings.audit)
app.command()(consumers.consumers)
app.command()(replay.replay)
app.command("simulate")(simulate.simulate_command)


# Each process's entry point, imported only when its command runs.
PROCESSES: dict[str, tuple[str, str]] = {
    "intake": ("services.intake.main", "Run the referee intake API and match-event producer."),
    "projector": ("services.projector.main", "Run a standings-projector consumer group member."),
    "indexer": ("services.indexer.main", "Run the rankings indexer."),
    "api": ("services.api.main", "Run the read API (standings, rankings, overlay, admin and ops endpoints)."),
}


def _process_command(module: str) -> Callable[[], None]:
    def run() -> None:
        importlib.import_module(module).run(load_settings())

    return run


for _name, (_module, _help) in PROCESSES.items():
    app.command(_name, help=_help)(_process_command(_module))


@app.command()
def migrate() -> None:
    """Upgrade the PostgreSQL schema to the code's head revision."""
    settings = load_settings()
    migrations.upgrade(settings.database.sqlalchemy_url())
    console.print(f"[green]schema at {migrations.head_revision()}[/green]")


@app.command()
def topics(timeout: float = typer.Option(30.0, help="Seconds to wait for the brokers.")) -> None:
    """Create the match-events topic and its dead-letter topic (idempotent)."""
    from services.core.kafka.admin import TopicSetupError, ensure_topics

    settings = load_settings()
    with exit_on(TopicSetupError, 1, console):
        created = ensure_topics(settings.kafka, timeout=timeout)
    console.print(f"topics ready (created: {', '.join(created) or 'none'})")


@app.command("import")
def import_registration(file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True)) -> None:
    """Load tournaments, divisions, athletes and bouts from a JSON file; all or nothing."""
    with (
        migrated_engine(load_settings()) as engine,
        exit_on(RegistrationError, 2, console, "[red]{}[/red]\nnothing was written"),
        Session(engine) as session,
        session.begin(),
    ):
        summary = load_registration(session, file.read_bytes())
    console.print(
        f"imported {summary.tournaments} tournaments, {summary.divisions} divisions, "
        f"{summary.athletes} athletes, {summary.bouts} bouts; {len(summary.refreshed)} divisions refreshed"
    )
    for kept in summary.kept:
        console.print(
            f"[yellow]kept tournament {kept.tournament_id} {kept.status} (the file says {kept.requested}): "
            f"{kept.reason}[/yellow]"
        )


if __name__ == "__main__":
    app()
