"""The bracket domain's errors."""

from __future__ import annotations

from collections.abc import Sequence


class InvalidBracket(ValueError):
    """A format, draw or pool list that cannot make a bracket; ``problems`` lists every problem at once."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(self.problems))


class UnknownBout(KeyError):
    """No bout position of the bracket has this id."""
