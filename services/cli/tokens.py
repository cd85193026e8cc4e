"""``standings token``: issue and revoke API tokens. The plaintext is printed once and never stored."""

from __future__ import annotations

from typing import Annotated

import typer

from services.cli.context import load_settings
from services.core.auth import Role
from services.core.db import tokens as token_repo
from services.core.db.engine import make_engine, make_session_factory

app = typer.Typer(help="Issue and revoke API tokens.", no_args_is_help=True)


@app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="Who or what holds the token (e.g. 'mat-3 table')")],
    role: Annotated[Role, typer.Option("--role", case_sensitive=False, help="referee, ops or admin")],
    tournament: Annotated[
        list[str] | None,
        typer.Option("--tournament", "-t", help="Tournament a referee may write (repeatable)"),
    ] = None,
) -> None:
    """Create a token and print it once: it cannot be shown again."""
    settings = load_settings()
    engine = make_engine(settings.database, pool_size=1)
    try:
        with make_session_factory(engine)() as session, session.begin():
            token_id, plaintext = token_repo.create_token(
                session, name, role, tournament or [], pepper=settings.token_pepper.get_secret_value()
            )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    finally:
        engine.dispose()
    typer.echo(f"token_id: {token_id}", err=True)
    typer.echo("store this token now; it is not shown again:", err=True)
    typer.echo(plaintext)


@app.command("revoke")
def revoke(token_id: Annotated[str, typer.Argument(help="The token_id printed at creation")]) -> None:
    """Revoke a token (running services stop accepting it within a few seconds)."""
    settings = load_settings()
    engine = make_engine(settings.database, pool_size=1)
    try:
        with make_session_factory(engine)() as session, session.begin():
            revoked = token_repo.revoke(session, token_id)
    finally:
        engine.dispose()
    if not revoked:
        typer.echo(f"no active token {token_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked {token_id}")


@app.command("list")
def list_tokens() -> None:
    """List tokens (ids, names, roles, scope; never the tokens themselves)."""
    settings = load_settings()
    engine = make_engine(settings.database, pool_size=1)
    try:
        with make_session_factory(engine)() as session:
            rows = token_repo.list_tokens(session)
            for row in rows:
                state = "revoked" if row.revoked_at else "active"
                scope = ",".join(row.tournaments or []) or "-"
                typer.echo(f"{row.token_id}\t{row.role}\t{state}\t{scope}\t{row.name}")
    finally:
        engine.dispose()
