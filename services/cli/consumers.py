"""``standings consumers``: who is in a consumer group, what they own, how far behind, and who drifts."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from services.cli.context import engine_for, load_settings
from services.ops.consumers import GroupReport, default_ttl_s, group_report, kafka_watermarks


def render(report: GroupReport) -> Table:
    """The report as a rich table, one row per member (stale members dimmed at the end)."""
    drift = report.drift
    expected = drift.expected_fingerprint[:12] if drift.expected_fingerprint else "none (split)"
    table = Table(
        title=f"consumer group {report.group} on {report.topic}",
        caption=(
            f"expected fingerprint {expected} · {drift.drifted} drifting · "
            f"total lag {report.total_lag if report.total_lag is not None else '?'} · "
            f"stale after {report.ttl_s:g}s"
        ),
    )
    for column in ("member", "host/pid", "assigned", "lag", "fingerprint", "drift"):
        table.add_column(column, justify="right" if column == "lag" else "left")
    for verdict in drift.members:
        m = verdict.member
        lag = report.member_lag(m)
        flag = "[bold red]DRIFT[/]" if verdict.drifted else "[green]ok[/]"
        if verdict.differences:
            flag += "\n" + "\n".join(f"{k}={a} (group {b})" for k, (a, b) in verdict.differences.items())
        table.add_row(
            m.member_id,
            f"{m.host}/{m.pid}",
            ",".join(map(str, m.assigned)) or "-",
            "?" if lag is None else str(lag),
            m.fingerprint[:12],
            flag,
        )
    for m in drift.stale:
        table.add_row(m.member_id, f"{m.host}/{m.pid}", "-", "-", m.fingerprint[:12], "[dim]stale[/]", style="dim")
    return table


def consumers(
    group: Annotated[str | None, typer.Option(help="Consumer group (default: the projector group)")] = None,
    ttl: Annotated[float | None, typer.Option(help="Seconds without heartbeat before a member is stale")] = None,
    lag: Annotated[bool, typer.Option("--lag/--no-lag", help="Read high watermarks from Kafka")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
    check: Annotated[bool, typer.Option("--check", help="Exit 1 when a member drifts")] = False,
) -> None:
    """Members of a consumer group: host/pid, partitions, lag, config fingerprint and DRIFT flag."""
    settings = load_settings()
    name = group or settings.projector.group_id
    ttl_s = ttl if ttl is not None else default_ttl_s(settings)
    engine = engine_for(settings)
    try:
        with Session(engine) as session:
            if lag:
                with kafka_watermarks(settings.kafka) as marks:
                    report = group_report(session, name, settings.kafka.topic, ttl_s, marks)
            else:
                report = group_report(session, name, settings.kafka.topic, ttl_s, None)
    finally:
        engine.dispose()
    out, err = Console(), Console(stderr=True)
    if as_json:
        out.print_json(json.dumps(report.to_dict()))
    else:
        out.print(render(report))
        if report.kafka_error:
            err.print(f"[yellow]lag unknown: {report.kafka_error}[/yellow]")
        partitions = Table(title="partitions")
        for column in ("partition", "position (PG)", "high watermark", "lag", "owner"):
            partitions.add_column(column)
        for p in report.partitions:
            partitions.add_row(
                str(p.partition),
                "-" if p.next_offset is None else str(p.next_offset),
                "?" if p.high_watermark is None else str(p.high_watermark),
                "?" if p.lag is None else str(p.lag),
                p.owner or "[red]unowned[/red]",
            )
        out.print(partitions)
    if check and report.drift.drifted:
        raise typer.Exit(1)
