"""``standings replay``: rebuild standings from the match-events log without touching the live group."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from services.cli.context import exit_on, load_settings, migrated_engine
from services.ops.replay import ReplayError, ReplayReport
from services.ops.replay import replay as run_replay

out = Console()
err = Console(stderr=True)


def parse_time(value: str) -> dt.datetime:
    """ISO 8601; a time without offset is taken as UTC."""
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"not an ISO 8601 time: {value!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def summary(report: ReplayReport) -> Table:
    verdict = "equal to live" if report.equal else ("DIFFERS from live" if report.dry_run else "repaired")
    table = Table(title=f"replay of {report.topic}: {verdict}", show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("messages read", str(report.messages))
    table.add_row("events", ", ".join(f"{k} {v}" for k, v in sorted(report.events.items())) or "0")
    table.add_row("poison (skipped)", ", ".join(f"{k} {v}" for k, v in sorted(report.poison.items())) or "0")
    table.add_row("ignored like the projector", ", ".join(f"{k} {v}" for k, v in sorted(report.ignored.items())) or "0")
    table.add_row("conflicting revisions", str(report.conflicts))
    table.add_row("passed by the live group, not in results", str(report.missing_in_results))
    table.add_row("divisions compared", str(report.divisions))
    table.add_row("divisions differing", str(len(report.differing)))
    table.add_row("seconds", f"{report.seconds:.1f} ({report.events_per_s:,.0f} messages/s)")
    return table


def replay(
    from_beginning: Annotated[bool, typer.Option("--from-beginning", help="Replay the whole retained log")] = False,
    from_time: Annotated[
        str | None, typer.Option("--from-time", help="Replay events from this ISO 8601 time (UTC if no offset)")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Compare only; exit 1 when standings differ")] = False,
    idle_timeout: Annotated[float, typer.Option(help="Give up on a partition after this many idle seconds")] = 10.0,
) -> None:
    """Recompute standings from the log (assign(), throwaway group, no commits) and repair divisions that differ."""
    if from_beginning == (from_time is not None):
        raise typer.BadParameter("give exactly one of --from-beginning or --from-time")
    when = parse_time(from_time) if from_time is not None else None
    settings = load_settings()
    columns = (
        TextColumn("[bold]replaying {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with (
        migrated_engine(settings) as engine,
        exit_on(ReplayError, 2, err),
        Progress(*columns, console=err, transient=True) as progress,
    ):
        task = progress.add_task(settings.kafka.topic, total=None)
        report = run_replay(
            settings,
            engine,
            from_time=when,
            dry_run=dry_run,
            on_progress=lambda done, total: progress.update(task, completed=done, total=total),
            idle_timeout_s=idle_timeout,
        )
    out.print(summary(report))
    if report.incomplete_partitions:
        err.print(f"[yellow]partitions not read to their end: {report.incomplete_partitions}[/yellow]")
    for diff in report.differing:
        action = "would rewrite" if dry_run else f"rewrote {diff.rows_written} rows of"
        out.print(f"{action} {diff.tournament_id}/{diff.division_id}: athletes {', '.join(diff.athletes)}")
    if dry_run and not report.equal:
        raise typer.Exit(1)
