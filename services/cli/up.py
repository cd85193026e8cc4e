"""`standings up` / `standings down`: the whole pipeline on the embedded stack."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from services.cli.context import data_dir, exit_on, state_dir
from services.cli.ports import PortPlan, PortsInUse, plan_ports, service_ports
from services.cli.supervisor import Supervisor
from services.core.db import migrate as migrations
from services.core.db import registration as registration_repo
from services.core.db.engine import make_engine
from services.core.kafka.admin import ensure_topics
from services.core.settings import Settings
from services.embedded.errors import ComponentExitedError, ComponentStartError
from services.embedded.stack import EmbeddedStack, stop_from_state
from services.registration.loader import load_demo

console = Console()
err_console = Console(stderr=True)
_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 (recognised, never bound here)
DEMO_TOURNAMENT = "world-championships-2026"
DEMO_DIVISION = "m-73kg"


def up(
    simulate: bool = typer.Option(False, "--simulate/--no-simulate", help="Post a demo tournament's results."),
    rate: float = typer.Option(2.0, help="Simulated results per second."),
    services: bool = typer.Option(True, "--services/--no-services", help="Also run intake, projector, indexer, API."),
) -> None:
    """Start PostgreSQL, the broker, the search engine and every service; Ctrl-C stops them all."""
    sdir = state_dir()
    with exit_on(PortsInUse, 1, err_console, "[red]{}[/red]\nnothing was started"):
        ports = plan_ports() if services else PortPlan()
    try:
        stack = EmbeddedStack.start(sdir, data_dir() / "postgres", handle_signals=True)
    except ComponentStartError as exc:
        ports.release()
        err_console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    supervisor = Supervisor()
    stop = threading.Event()
    try:
        os.environ.update(stack.settings_env())
        os.environ.update(ports.env)
        # tansu's first group join waits for the full rebalance timeout: keep it short for the demo.
        os.environ.setdefault("STANDINGS_PROJECTOR__CONSUMER__MAX_POLL_INTERVAL_MS", "6000")
        os.environ.setdefault("STANDINGS_PROJECTOR__CONSUMER__SESSION_TIMEOUT_MS", "6000")
        settings = Settings()
        stack.record_env(_recorded_env(settings, services))
        ensure_topics(settings.kafka, timeout=30)
        migrations.upgrade(settings.database.sqlalchemy_url())
        engine = make_engine(settings.database, pool_size=2)
        with Session(engine) as session, session.begin():
            if not registration_repo.has_registration(session):
                summaries = load_demo(session)
                console.print(
                    f"imported demo registration: {sum(s.tournaments for s in summaries)} tournaments,"
                    f" {sum(s.divisions for s in summaries)} divisions (round robin and brackets)"
                )
        tokens = _demo_tokens(engine, settings.token_pepper.get_secret_value())
        if services:
            ports.release()
            _start_services(supervisor, settings, sdir / "logs")
        for note in ports.notes:
            console.print(f"[yellow]{note}[/yellow]")
        _print_ready(stack, settings, tokens, services)
        if simulate and services:
            _start_simulator(settings, engine, tokens, rate, stop)
        while True:
            stack.wait(check_interval=1.0) if not services else _wait_both(stack, supervisor)
    except (KeyboardInterrupt, ComponentExitedError, RuntimeError) as exc:
        if not isinstance(exc, KeyboardInterrupt):
            err_console.print(f"[red]{exc}[/red]")
    finally:
        stop.set()
        ports.release()
        console.print("stopping…")
        supervisor.stop_all()
        stack.stop()
        console.print("stopped")


def _recorded_env(settings: Settings, services: bool) -> dict[str, str]:
    """What other commands run from this directory need beyond the components' addresses (see context.py)."""
    consumer = settings.projector.consumer
    env = {
        "STANDINGS_PROJECTOR__CONSUMER__MAX_POLL_INTERVAL_MS": str(consumer.max_poll_interval_ms),
        "STANDINGS_PROJECTOR__CONSUMER__SESSION_TIMEOUT_MS": str(consumer.session_timeout_ms),
    }
    if services:
        env.update({port.env: str(port.read(settings)) for port in service_ports()})
    return env


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
    """Post the demo results, one simulator per tournament (so a bracket fills from the first
    minute, beside the pools); then finalize each tournament that has already ended so rankings fill."""
    import datetime as dt

    import httpx

    from services.cli.simulate import simulate

    intake_url = f"http://127.0.0.1:{settings.intake.port}"
    with Session(engine) as session:
        tournaments = [
            (t.tournament_id, t.end_date < dt.datetime.now(dt.UTC).date())
            for t in registration_repo.list_tournaments(session)
            if t.status != "finalized"
        ]

    def run(tournament_id: str, ended: bool) -> None:
        try:
            simulate(intake_url, tokens["referee"], engine, rate, tournament_id, stop)
            if stop.is_set() or not ended:
                return
            httpx.post(
                f"{intake_url}/v1/tournaments/{tournament_id}/finalize",
                headers={"authorization": f"Bearer {tokens['ops']}"},
                timeout=10,
            ).raise_for_status()
            console.print(f"finalized {tournament_id}: its placing points now count in the rankings")
        except Exception as exc:  # the demo driver must never take the stack down
            console.print(f"[yellow]simulator of {tournament_id} stopped: {exc}[/yellow]")

    for tournament_id, ended in tournaments:
        threading.Thread(
            target=run, args=(tournament_id, ended), name=f"simulator-{tournament_id}", daemon=True
        ).start()


def _local_url(host: str, port: int, path: str = "") -> str:
    """An http URL a browser on this machine can open (a wildcard bind is reached on loopback)."""
    return f"http://{'127.0.0.1' if host in _WILDCARD_HOSTS else host}:{port}{path}"


def ready_rows(stack: EmbeddedStack, settings: Settings, services: bool) -> list[tuple[str, str]]:
    """(what, where) for every component and service `standings up` started."""
    rows = [
        ("PostgreSQL", stack.postgres.url),
        ("Kafka API", stack.kafka.bootstrap),
        ("search API", stack.search.url),
    ]
    if services:
        api_host = settings.api.host
        rows += [
            ("read API", _local_url(api_host, settings.api.port, "/docs")),
            ("intake API", _local_url(api_host, settings.intake.port, "/docs")),
            ("projector", _local_url(settings.projector.http_host, settings.projector.http_port, "/metrics")),
            ("indexer", _local_url(settings.indexer.http_host, settings.indexer.http_port, "/metrics")),
            ("overlay", _local_url(api_host, settings.api.port, f"/overlay/{DEMO_TOURNAMENT}/{DEMO_DIVISION}")),
            ("tournament", _local_url(api_host, settings.api.port, f"/t/{DEMO_TOURNAMENT}")),
            ("mat table", _local_url(api_host, settings.intake.port, f"/mat/{DEMO_TOURNAMENT}/1")),
        ]
    return rows


def _print_ready(stack: EmbeddedStack, settings: Settings, tokens: dict[str, str], services: bool) -> None:
    # One "name  url" line each, never wrapped or cut by the console, so every URL can be copied whole.
    rows = ready_rows(stack, settings, services)
    width = max(len(name) for name, _ in rows)
    console.print("standings: embedded stack (PostgreSQL 18, tansu, osmem)", style="bold")
    for name, where in rows:
        console.print(f"  {name:<{width}}  {where}", soft_wrap=True, markup=False, highlight=False)
    console.print(f"ops token: {tokens['ops']}", soft_wrap=True, markup=False, highlight=False)
    console.print(f"referee token: {tokens['referee']}", soft_wrap=True, markup=False, highlight=False)
    if services:  # the mat table's console asks for it once per tablet: the token alone, to paste
        console.print("paste into the mat table console:", soft_wrap=True, markup=False, highlight=False)
        console.print(tokens["referee"], soft_wrap=True, markup=False, highlight=False)
    console.print("[bold green]ready[/bold green] (Ctrl-C or `standings down` to stop)")
