"""Every command README.md (and the docs' code blocks) show parses as the CLI would parse it, and has help.

Running them against a live stack is tests/e2e/test_readme_commands.py; this tier needs no stack, so a
README edit that shows an option the CLI does not take fails here first.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli.main import app
from tests.readme_commands import (
    ROOT,
    ReadmeCommandError,
    Shown,
    check_parses,
    docs_commands,
    readme_commands,
    script_standings_argv,
    table_commands,
    to_argv,
)

README_COMMANDS = readme_commands()
STANDINGS_COMMANDS = [c for c in README_COMMANDS + docs_commands() if c.is_standings]


@pytest.fixture(autouse=True)
def _no_standings_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Options with an env var (``--token`` / STANDINGS_TOKEN) must be given on the shown line itself."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("STANDINGS_"):
            monkeypatch.delenv(name)


def test_the_readme_shows_its_fresh_machine_scripts_and_the_whole_command_table() -> None:
    blocks = [c.argv for c in README_COMMANDS if "(code block)" in c.where]
    assert blocks == [("bash", "scripts/demo"), ("bash", "scripts/test")]
    table = {" ".join(c.argv[:3]) for c in README_COMMANDS if "(command table)" in c.where}
    for expected in ("standings up", "standings down", "standings token create", "standings token revoke"):
        assert any(t.startswith(expected) for t in table), (expected, table)
    assert len([c for c in README_COMMANDS if "(command table)" in c.where]) >= 18


def test_every_readme_command_is_one_we_can_check() -> None:
    """A new kind of command (another tool) needs a check here before the README may show it."""
    unknown = [
        c
        for c in README_COMMANDS
        if not (c.is_standings or c.argv[:2] in {("bash", "scripts/demo"), ("bash", "scripts/test")})
    ]
    assert unknown == []


@pytest.mark.parametrize("shown", STANDINGS_COMMANDS, ids=lambda c: f"{c.where}: {c.text}")
def test_standings_command_parses_and_has_help(shown: Shown) -> None:
    path = check_parses(app, shown.argv)
    result = CliRunner().invoke(app, [*path[1:], "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


@pytest.mark.parametrize(
    "shown", [c for c in README_COMMANDS if c.argv[:1] == ("bash",)], ids=lambda c: f"{c.where}: {c.text}"
)
def test_readme_script_exists_is_valid_bash_and_what_it_runs_parses(shown: Shown) -> None:
    # Neither script can run inside the suite (one *is* the suite, the other serves until Ctrl-C), so
    # check the file and every `standings` command it would run with the README's arguments.
    script = ROOT / shown.argv[1]
    assert script.is_file(), f"{shown.where}: {script} does not exist"
    syntax = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, timeout=30)
    assert syntax.returncode == 0, syntax.stderr
    for argv in script_standings_argv(script, shown.argv[2:]):
        check_parses(app, argv)


# -- the checks can fail ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("standings token create --role referee -t TOURNAMENT", "Missing option '--name'"),  # the old README line
        ("standings tokens list", "has no command 'tokens'"),
        ("standings audit --bogus", "No such option: --bogus"),
        ("standings consumers --lag 3", "unexpected extra argument"),
        ("standings rankings", "needs a subcommand"),
        ("standings simulate --rate N", "Missing option '--token'"),
        ("standings replay --idle-timeout soon", "Invalid value"),
    ],
)
def test_a_wrong_command_is_caught(text: str, message: str) -> None:
    with pytest.raises(ReadmeCommandError, match=message):
        check_parses(app, to_argv(text, "test"))


def test_a_missing_file_and_unknown_placeholder_are_caught(tmp_path: Path) -> None:
    with pytest.raises(ReadmeCommandError, match="does not exist"):
        check_parses(app, ("standings", "import", str(tmp_path / "missing.json")))
    with pytest.raises(ReadmeCommandError, match="unknown placeholder TOURNAMENT_ID"):
        to_argv("standings token create --name x --role referee -t TOURNAMENT_ID", "test")
    with pytest.raises(ReadmeCommandError, match="not one command"):
        to_argv("standings replay --from-beginning | --from-time T", "test")


def test_a_table_row_must_show_whole_commands() -> None:
    markdown = "## The `standings` command\n\n| command | what |\n|---|---|\n| `standings intake` / `projector` | x |\n"
    with pytest.raises(ReadmeCommandError, match="write `standings projector`"):
        list(table_commands(markdown, "README.md"))
    with pytest.raises(ReadmeCommandError, match="no rows"):
        list(table_commands("## The `standings` command\n\nnothing here\n", "README.md"))


def test_optional_parts_are_checked_as_if_given() -> None:
    assert to_argv("standings audit [--sample N] [--repair]", "test") == (
        "standings",
        "audit",
        "--sample",
        "5",
        "--repair",
    )


def test_the_old_readme_replay_line_parses_but_fails_when_run() -> None:
    """Why tests/e2e/test_readme_commands.py also runs them: some rules live in the command, not its options."""
    result = CliRunner().invoke(app, ["replay"])
    assert result.exit_code == 2
    assert "--from-beginning" in result.output
