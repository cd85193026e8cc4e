"""Every `standings` command README.md shows runs as written against the stack `standings up` started.

A user who has just run `standings up` in a checkout types the README's commands in another terminal of
the same directory, exporting nothing. This test does the same: one-shot commands run for real and must
exit 0 (and say which stack they use); commands that serve until stopped (`up`, the four services,
`simulate`) show their `--help` instead, after their arguments were parsed like the CLI parses them;
`standings down` runs last and must stop the stack. The README's `bash scripts/…` lines are checked in
tests/unit/test_readme_commands.py (one of them is this suite).
"""

from __future__ import annotations

import re
from pathlib import Path

from services.cli.main import app
from tests.e2e.cli_support import running_up, standings
from tests.readme_commands import PLACEHOLDERS, Shown, check_parses, readme_commands, to_argv

SERVING = {("up",), ("intake",), ("projector",), ("indexer",), ("api",), ("simulate",)}
TOKEN_ID = re.compile(r"token_id: (tok_[0-9a-f]+)")


def _path(shown: Shown) -> tuple[str, ...]:
    return tuple(check_parses(app, shown.argv)[1:])


def test_the_readme_commands_run_as_written(tmp_path: Path) -> None:
    shown = [c for c in readme_commands() if c.is_standings]
    assert len(shown) >= 18
    placeholders = dict(PLACEHOLDERS)
    ran: list[str] = []
    with running_up(tmp_path, "--no-services") as up:
        for command in [c for c in shown if _path(c) != ("down",)]:
            argv = to_argv(command.text, command.where, placeholders)
            path = _path(command)
            if path in SERVING:
                result = standings(tmp_path, *path, "--help")
                assert result.returncode == 0 and "Usage:" in result.stdout, (command.where, result.stderr)
                continue
            result = standings(tmp_path, *argv[1:], timeout=180)
            assert result.returncode == 0, f"{command.where}: `{command.text}` exited {result.returncode}:\n" + (
                result.stdout + result.stderr
            )
            assert f"using the stack started by `standings up` (pid {up.proc.pid})" in result.stderr, command.where
            if path == ("token", "create"):
                match = TOKEN_ID.search(result.stderr)
                assert match is not None, result.stderr
                placeholders["TOKEN_ID"] = match.group(1)
            ran.append(" ".join(argv))
        downs = [c for c in shown if _path(c) == ("down",)]
        assert downs, "the README no longer shows `standings down`"
        for command in downs:
            result = standings(tmp_path, *to_argv(command.text, command.where, placeholders)[1:])
            assert result.returncode == 0 and "stopped" in result.stdout, result.stdout + result.stderr
        assert up.proc.wait(timeout=60) == 0, up.output
    assert not (tmp_path / ".state" / "stack.json").exists()
    # the one-shot commands really ran (a README of only --help would prove nothing)
    for expected in ("standings migrate", "standings import", "standings token create", "standings replay"):
        assert any(line.startswith(expected) for line in ran), ran
