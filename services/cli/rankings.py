"""`standings rankings ...`: full reindex with a progress bar, drift audit, ranking recompute."""

from __future__ import annotations

import datetime as dt
from contextlib import closing

import orjson
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text
from sqlalchemy.orm import Session

from services.cli.context import engine_for, exit_on, load_settings, migrated_engine
from services.core.search.client import make_search_client
from services.rankings import rerank as repo
from services.rankings.audit import MAX_SAMPLE, run_audit
from services.rankings.model import utc_today
from services.rankings.reindex import ReindexAlreadyRunning, Reindexer, ReindexResult

app = typer.Typer(name="rankings", no_args_is_help=True, help="The federation ranking list and its search index.")
console = Console(stderr=True)


class _RateColumn(TextColumn):
    """Documents per second of the current phase."""

    def __init__(self) -> None:
        super().__init__("")

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:,.0f} docs/s")


def _run_with_progress(reindexer: Reindexer) -> ReindexResult:
    """The reindex with one progress bar per phase (snapshot, catch-up)."""
    columns = (
        TextColumn("{task.description:<9}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        tasks: dict[str, TaskID] = {}

        def on_progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = progress.add_task(phase, total=max(total, 1))
            progress.update(tasks[phase], completed=done, total=max(total, done, 1))

        return reindexer.run(on_progress)


@app.command()
def reindex() -> None:
    """Rebuild the rankings index from PostgreSQL and swap the alias (one at a time)."""
    settings = load_settings()
    with migrated_engine(settings) as engine, closing(make_search_client(settings.search)) as client:
        reindexer = Reindexer(engine, client, settings.search, catch_up_batch=settings.indexer.batch_size)
        with exit_on(ReindexAlreadyRunning, 3, console, "[yellow]{}[/yellow]"):
            result = _run_with_progress(reindexer)
    console.print(
        f"[green]alias {settings.search.alias} -> {result.index_name}[/green]: {result.total:,} documents "
        f"({result.docs_per_s:,.0f} docs/s), {result.caught_up} changes caught up, "
        f"kept {result.previous or 'nothing'} for rollback, deleted {len(result.deleted)} old indices "
        f"in {result.duration_s:.1f} s"
    )


@app.command()
def audit(
    sample: int = typer.Option(0, "--sample", min=0, max=MAX_SAMPLE, help="Check N random documents (0: all)."),
    repair: bool = typer.Option(False, "--repair", help="Rewrite the drifted documents."),
    json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Compare the rankings index with PostgreSQL; exit code 1 when drift was found (and not repaired)."""
    settings = load_settings()
    engine = engine_for(settings)
    client = make_search_client(settings.search)
    try:
        report = run_audit(engine, client, settings.search.alias, sample=sample or None, repair=repair)
    finally:
        client.close()
        engine.dispose()
    if json:
        typer.echo(orjson.dumps(report.to_dict()).decode())
    else:
        table = Table(title=f"rankings audit ({'all' if not sample else f'sample {sample}'})")
        for column in ("checked", "missing", "extra", "different", "pending", "repaired"):
            table.add_column(column, justify="right")
        table.add_row(
            str(report.checked),
            str(report.count("missing")),
            str(report.count("extra")),
            str(report.count("different")),
            str(report.pending),
            str(report.repaired),
        )
        console.print(table)
        for drift in report.drifts[:20]:
            fields = ", ".join(f"{k}: {pg!r} != {es!r}" for k, (pg, es) in drift.fields.items())
            console.print(f"  {drift.kind:<9} {drift.category}/{drift.athlete_id} {fields}")
    if report.drifts and not repair:
        raise typer.Exit(1)


@app.command()
def recompute(
    date: str = typer.Option("", "--date", help="Ranking date (YYYY-MM-DD, default today UTC)."),
) -> None:
    """Recompute every ranking list for a date (the daily expiry recompute); changed documents are re-indexed."""
    settings = load_settings()
    ranking_date = dt.date.fromisoformat(date) if date else utc_today()
    with migrated_engine(settings) as engine, Session(engine) as session, session.begin():
        changed = repo.recompute_all_rankings(session, ranking_date)
    console.print(f"rankings recomputed for {ranking_date}: {changed} documents changed")
