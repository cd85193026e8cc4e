"""`standings up` / `standings down`: the whole pipeline on the embedded stack."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from services.cli.context import data_dir, state_dir
from services.cli.supervisor import Supervisor
from services.core.db import migrate as migrations
from services.core.db import registration as registration_repo
from services.core.db.engine import make_engine
from services.core.embedded.errors import ComponentExitedError, ComponentStartError
from services.core.embedded.stack import EmbeddedStack, stop_from_state
from services.core.kafka.admin import ensure_topics
from services.core.registration.loader import DEMO_FILE, load_registration
from services.core.settings import Settings

console = Console()


def up(
    simulate: bool = typer.Option(False, "--simulate/--no-simulate", help="Post a demo tournament's results."),
    rate: float = typer.Option(2.0, help="Simulated results per second."),
    services: bool = typer.Option(True, "--services/--no-services", help="Also run intake, projector, indexer, API."),
) -> None:
    """Start PostgreSQL, the broker, the search engine and every service; Ctrl-C stops them all."""
    sdir = state_dir()
    try:
        stack = EmbeddedStack.start(sdir, data_dir() / "postgres", handle_signals=True)
    except ComponentStartError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    supervisor = Supervisor()
    stop = threading.Event()
    try:
        os.environ.update(stack.settings_env())
        # tansu's first group join waits for the full rebalance timeout: keep it short for the demo.
        os.environ.setdefault("STANDINGS_PROJECTOR__CONSUMER__MAX_POLL_INTERVAL_MS", "6000")
        os.environ.setdefault("STANDINGS_PROJECTOR__CONSUMER__SESSION_TIMEOUT_MS", "6000")
        settings = Settings()
        ensure_topics(settings.kafka, timeout=30)
        migrations.upgrade(settings.database.sqlalchemy_url())
        engine = make_engine(settings.database, pool_size=2)
        with Session(engine) as session, session.begin():
            if not registration_repo.has_registration(session):
                summary = load_registration(session, DEMO_FILE.read_bytes())
                console.print(
                    f"imported demo registration: {summary.tournaments} tournaments, {summary.divisions} divisions"
                )
        tokens = _demo_tokens(engine, settings.token_pepper.get_secret_value())
        if services:
            _start_services(supervisor, settings, sdir / "logs")
        _print_ready(stack, settings, tokens, services)
        if simulate and services:
            _start_simulator(settings, engine, tokens, rate, stop)
        while True:
            stack.wait(check_interval=1.0) if not services else _wait_both(stack, supervisor)
    except (KeyboardInterrupt, ComponentExitedError, RuntimeError) as exc:
        if not isinstance(exc, KeyboardInterrupt):
            console.print(f"[red]{exc}[/red]")
    finally:
        stop.set()
        console.print("stopping…")
        supervisor.stop_all()
        stack.stop()
        console.print("stopped")


def down() -> None:
    """Stop a stack started by `standings up` in this directory (no process left behind)."""
    if stop_from_state(state_dir()):
        console.print("stopped")
    else:
        console.print("nothing running")


def _wait_both(stack: EmbeddedStack, supervisor: Supervisor) -> None:
    tick = threading.Event()
    while True:
        tick.wait(1.0)
        stack.check_alive()
        supervisor.check_alive()


def _start_services(supervisor: Supervisor, settings: Settings, log_dir: Path) -> None:
    host = "127.0.0.1"
    supervisor.add("projector", f"http://{host}:{settings.projector.http_port}/livez", log_dir)
    supervisor.add("indexer", f"http://{host}:{settings.indexer.http_port}/livez", log_dir)
    supervisor.add("intake", f"http://{host}:{settings.intake.port}/readyz", log_dir)
    supervisor.add("api", f"http://{host}:{settings.api.port}/readyz", log_dir)
    with console.status("starting services…"):
        supervisor.start_all(timeout=90)


def _demo_tokens(engine: Engine, pepper: str) -> dict[str, str]:
    """Create (on each `up`) ops, admin and referee tokens for the demo tournaments."""
    from services.core.db.tokens import create_token

    with Session(engine) as session, session.begin():
        tournaments = [t.tournament_id for t in registration_repo.list_tournaments(session)]
        _, ops = create_token(session, "demo-ops", "ops", pepper=pepper)
        _, admin = create_token(session, "demo-admin", "admin", pepper=pepper)
        _, referee = create_token(session, "demo-referee", "referee", tournaments, pepper=pepper)
    return {"ops": ops, "admin": admin, "referee": referee}


def _start_simulator(
    settings: Settings, engine: Engine, tokens: dict[str, str], rate: float, stop: threading.Event
) -> None:
    """Post the demo results; then finalize tournaments that have already ended so rankings fill."""
    import datetime as dt

    import httpx

    from services.cli.simulate import simulate

    intake_url = f"http://127.0.0.1:{settings.intake.port}"

    def run() -> None:
        try:
            simulate(intake_url, tokens["referee"], engine, rate, None, stop)
            if stop.is_set():
                return
            with Session(engine) as session:
                ended = [
                    t.tournament_id
                    for t in registration_repo.list_tournaments(session)
                    if t.end_date < dt.datetime.now(dt.UTC).date() and t.status != "finalized"
                ]
            for tournament_id in ended:
                httpx.post(
                    f"{intake_url}/v1/tournaments/{tournament_id}/finalize",
                    headers={"authorization": f"Bearer {tokens['ops']}"},
                    timeout=10,
                ).raise_for_status()
                console.print(f"finalized {tournament_id}: its placing points now count in the rankings")
        except Exception as exc:  # the demo driver must never take the stack down
            console.print(f"[yellow]simulator stopped: {exc}[/yellow]")

    threading.Thread(target=run, name="simulator", daemon=True).start()


def _print_ready(stack: EmbeddedStack, settings: Settings, tokens: dict[str, str], services: bool) -> None:
    table = Table(title="standings: embedded stack", show_header=True)
    table.add_column("component")
    table.add_column("listens on")
    table.add_row("PostgreSQL 18", stack.postgres.url)
    table.add_row("Kafka API (tansu)", stack.kafka.bootstrap)
    table.add_row("Search API (osmem)", stack.search.url)
    if services:
        api = f"http://127.0.0.1:{settings.api.port}"
        table.add_row("read API", f"{api}/docs")
        table.add_row("intake API", f"http://127.0.0.1:{settings.intake.port}/docs")
        table.add_row("projector health", f"http://127.0.0.1:{settings.projector.http_port}/metrics")
        table.add_row("indexer health", f"http://127.0.0.1:{settings.indexer.http_port}/metrics")
        table.add_row("overlay", f"{api}/overlay/world-championships-2026/m-73kg")
        table.add_row("tournament page", f"{api}/t/world-championships-2026")
    console.print(table)
    console.print(f"ops token: {tokens['ops']}\nreferee token: {tokens['referee']}")
    console.print("[bold green]ready[/bold green] (Ctrl-C or `standings down` to stop)")
