"""The commands README.md (and the docs' code blocks) show, extracted so that tests can check and run them.

Where commands come from:

* fenced ``bash``/``sh``/``console`` blocks: one command a line (``\\`` continuations joined, ``$ `` and
  ``# comments`` dropped);
* the first column of the table under "The `standings` command": every code span is one whole command;
* inline code spans elsewhere in README.md that start with ``standings``.

How they are written: ``[--opt VALUE]`` is an optional part (checked as if given), and upper-case words
(``FILE``, ``TOURNAMENT``, ``N``) are placeholders that ``PLACEHOLDERS`` fills with real values. A
placeholder that is not listed there, or a span that is not a whole ``standings …`` command, is an error:
the README must show something a reader can type.
"""

from __future__ import annotations

import datetime as dt
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
import typer.core
import typer.main

from services.registration.loader import DEMO_FILE

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
COMMAND_TABLE_HEADING = "## The `standings` command"

# Values for the placeholders the README may use; TOKEN_ID is replaced at run time by a token just created.
PLACEHOLDERS: dict[str, str] = {
    "FILE": str(DEMO_FILE),
    "TOURNAMENT": "world-championships-2026",
    "NAME": "readme-check",
    "N": "5",
    "TOKEN": "stk_readme-placeholder",
    "TOKEN_ID": "tok_0123456789abcdef",
    "YYYY-MM-DD": dt.date(2026, 12, 1).isoformat(),
}
_PLACEHOLDER = re.compile(r"^(?:[A-Z][A-Z0-9_]*|YYYY-MM-DD)$")
_FENCE = re.compile(r"^(\s*)```\s*([A-Za-z]*)\s*$")
_SPAN = re.compile(r"`([^`\n]+)`")
SHELL_LANGUAGES = {"bash", "sh", "shell", "console"}


class ReadmeCommandError(AssertionError):
    """A command shown in the README that a reader could not run as written."""


@dataclass(frozen=True)
class Shown:
    """One command as the document shows it, where, and the argv it stands for."""

    text: str
    where: str
    argv: tuple[str, ...]

    @property
    def is_standings(self) -> bool:
        return self.argv[:1] == ("standings",)


def to_argv(text: str, where: str, placeholders: Mapping[str, str] = PLACEHOLDERS) -> tuple[str, ...]:
    """Split a shown command into argv: optional ``[...]`` parts included, placeholders filled."""
    try:
        words = shlex.split(text, comments=True)
    except ValueError as exc:
        raise ReadmeCommandError(f"{where}: cannot split `{text}`: {exc}") from None
    argv: list[str] = []
    for word in words:
        part = word.lstrip("[").rstrip("]")
        if not part:
            continue
        if part == "|" or "…" in part or "..." in part:
            raise ReadmeCommandError(f"{where}: `{text}` is not one command (alternatives or ellipsis)")
        if _PLACEHOLDER.match(part):
            if part not in placeholders:
                raise ReadmeCommandError(f"{where}: `{text}`: unknown placeholder {part} (add it to PLACEHOLDERS)")
            part = placeholders[part]
        argv.append(part)
    if not argv:
        raise ReadmeCommandError(f"{where}: empty command")
    return tuple(argv)


def _block_lines(markdown: str, languages: set[str]) -> Iterator[tuple[int, str]]:
    """(line number, command) for each command line of the code blocks tagged with one of ``languages``."""
    in_block: str | None = None
    pending = ""
    pending_line = 0
    for number, line in enumerate(markdown.splitlines(), start=1):
        fence = _FENCE.match(line)
        if fence:
            in_block = None if in_block is not None else fence.group(2).lower()
            continue
        if in_block not in languages:
            continue
        text = line.strip()
        if text.startswith("$ "):
            text = text[2:]
        if not pending and (not text or text.startswith("#")):
            continue
        if not pending:
            pending_line = number
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        full = (pending + text).strip()
        pending = ""
        yield pending_line, full


def fenced_commands(markdown: str, source: str) -> Iterator[Shown]:
    """Commands in the shell code blocks of ``markdown``."""
    for number, text in _block_lines(markdown, SHELL_LANGUAGES):
        where = f"{source}:{number} (code block)"
        yield Shown(text, where, to_argv(text, where))


def table_commands(markdown: str, source: str) -> Iterator[Shown]:
    """The code spans in the first column of the `standings` command table: each one whole command."""
    lines = markdown.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == COMMAND_TABLE_HEADING)
    except StopIteration:
        raise ReadmeCommandError(f"{source}: no section {COMMAND_TABLE_HEADING!r}") from None
    rows = 0
    for number, line in enumerate(lines[start + 1 :], start=start + 2):
        if line.startswith("## "):
            break
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        first = line.strip("|").split("|")[0]
        spans = _SPAN.findall(first)
        if not spans or first.strip() == "command":
            continue
        rows += 1
        for span in spans:
            where = f"{source}:{number} (command table)"
            if not span.startswith("standings"):
                raise ReadmeCommandError(f"{where}: `{span}` is not a whole command; write `standings {span}`")
            yield Shown(span, where, to_argv(span, where))
    if rows == 0:
        raise ReadmeCommandError(f"{source}: the `standings` command table has no rows")


def inline_commands(markdown: str, source: str, *, skip_section: str | None = None) -> Iterator[Shown]:
    """Inline code spans starting with ``standings `` outside code blocks (and outside ``skip_section``)."""
    in_block = False
    skipping = False
    for number, line in enumerate(markdown.splitlines(), start=1):
        if _FENCE.match(line):
            in_block = not in_block
            continue
        if line.startswith("## "):
            skipping = skip_section is not None and line.strip() == skip_section
        if in_block or skipping:
            continue
        for span in _SPAN.findall(line):
            if span.startswith("standings "):
                where = f"{source}:{number} (inline)"
                yield Shown(span, where, to_argv(span, where))


def readme_commands(path: Path = README) -> list[Shown]:
    """Every command README.md shows, in document order per kind (blocks, table, inline)."""
    text = path.read_text()
    name = path.name
    return [
        *fenced_commands(text, name),
        *table_commands(text, name),
        *inline_commands(text, name, skip_section=COMMAND_TABLE_HEADING),
    ]


def docs_commands(docs: Path = DOCS) -> list[Shown]:
    """The ``standings …`` lines of the docs' shell and untagged code blocks (other tools are not ours to check)."""
    shown: list[Shown] = []
    for path in sorted(docs.glob("*.md")):
        for number, text in _block_lines(path.read_text(), SHELL_LANGUAGES | {""}):
            if text.startswith("standings "):
                where = f"docs/{path.name}:{number} (code block)"
                shown.append(Shown(text, where, to_argv(text, where)))
    return shown


# -- checking a `standings` command without running it ---------------------------------------------------


def resolve(app: typer.Typer, argv: tuple[str, ...]) -> tuple[list[str], Any, list[str]]:
    """The command path, the (typer-vendored click) command and its remaining arguments for ``standings …``."""
    if argv[:1] != ("standings",):
        raise ReadmeCommandError(f"not a standings command: {argv}")
    command: Any = typer.main.get_command(app)
    path = ["standings"]
    rest = list(argv[1:])
    while isinstance(command, typer.core.TyperGroup):
        if not rest or rest[0].startswith("-"):
            raise ReadmeCommandError(f"`{' '.join(argv)}`: `{' '.join(path)}` needs a subcommand")
        ctx = typer.Context(command)
        sub = command.get_command(ctx, rest[0])
        if sub is None:
            known = ", ".join(sorted(command.list_commands(ctx)))
            raise ReadmeCommandError(f"`{' '.join(argv)}`: `{' '.join(path)}` has no command {rest[0]!r} ({known})")
        path.append(rest.pop(0))
        command = sub
    return path, command, rest


def check_parses(app: typer.Typer, argv: tuple[str, ...]) -> list[str]:
    """Parse ``argv`` exactly as the CLI would, without calling the command; return the command path.

    Unknown commands and options, missing required options, bad values and missing files all raise
    ``ReadmeCommandError`` with click's own message.
    """
    path, command, rest = resolve(app, argv)
    if "--help" in rest:
        return path
    try:
        with command.make_context(" ".join(path), rest, resilient_parsing=False):
            pass
    except typer.TyperException as exc:  # click's UsageError, BadParameter, MissingParameter …
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        raise ReadmeCommandError(f"`{' '.join(argv)}`: {message}") from None
    except typer.Exit as exc:
        if exc.exit_code:
            raise ReadmeCommandError(f"`{' '.join(argv)}`: exits {exc.exit_code} while parsing") from None
    return path


SCRIPT_STANDINGS = re.compile(r"^\s*(?:exec\s+)?standings\s+(?P<args>.*)$")


def script_standings_argv(script: Path, args: tuple[str, ...]) -> list[tuple[str, ...]]:
    """The ``standings …`` invocations in a shell script, with ``"$@"`` replaced by ``args``."""
    found: list[tuple[str, ...]] = []
    for line in script.read_text().splitlines():
        match = SCRIPT_STANDINGS.match(line)
        if match is None:
            continue
        words = shlex.split(match.group("args"), comments=True)
        expanded: list[str] = []
        for word in words:
            if word == "$@":
                expanded += args
            elif "$" in word:
                raise ReadmeCommandError(f"{script.name}: cannot check `{line.strip()}` (shell variables)")
            else:
                expanded.append(word)
        found.append(("standings", *expanded))
    return found
