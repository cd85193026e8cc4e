"""The replay's report: its own rate, printed by ``standings replay`` beside its duration."""

from __future__ import annotations

from rich.console import Console

from services.cli.replay import summary
from services.ops.replay import ReplayReport


def test_the_rate_is_messages_over_the_whole_replay() -> None:
    report = ReplayReport(topic="match-events", group="g", dry_run=True, messages=12_000, seconds=4.0)
    assert report.events_per_s == 3000.0
    assert ReplayReport(topic="t", group="g", dry_run=True).events_per_s == 0.0  # nothing read, no division by 0


def test_the_summary_prints_the_rate_beside_the_seconds() -> None:
    report = ReplayReport(topic="match-events", group="g", dry_run=True, messages=12_000, seconds=4.0)
    console = Console(width=120, record=True)
    console.print(summary(report))
    assert "4.0 (3,000 messages/s)" in console.export_text()
