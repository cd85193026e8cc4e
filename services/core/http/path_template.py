"""A route's URL template with one regex per parameter, for ASGI fast paths in front of FastAPI routes.

A hot URL's declaration serves both its FastAPI route (the path string) and the fast path (a compiled
regex that accepts exactly the values the route validates), so the two cannot disagree about which
URLs are that route's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Path
from fastapi.routing import APIRoute

from services.core.domain.ids import ID_MAX_LENGTH, SLUG


def slug_path(description: str, example: str) -> Any:
    """A slug path parameter's FastAPI declaration (the fast paths match it with ``SLUG_SEGMENT``)."""
    return Path(min_length=1, max_length=ID_MAX_LENGTH, pattern=SLUG, description=description, examples=[example])


_PARAM = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True, slots=True)
class PathTemplate:
    """A route template (``/v1/tournaments/{tournament_id}``) with a regex segment per parameter."""

    path: str
    params: Mapping[str, str]
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = _PARAM.findall(self.path)
        if sorted(names) != sorted(self.params):
            raise ValueError(f"{self.path}: parameters {names} do not match {sorted(self.params)}")
        parts = _PARAM.split(self.path)  # literal, name, literal, name, ..., literal
        pattern = "".join(re.escape(part) if i % 2 == 0 else f"({self.params[part]})" for i, part in enumerate(parts))
        object.__setattr__(self, "regex", re.compile(pattern))

    def match(self, path: str) -> tuple[str, ...] | None:
        """The parameter values in template order when ``path`` is this route's URL, else None."""
        m = self.regex.fullmatch(path)  # not match + "$", which also accepts a trailing newline
        return None if m is None else m.groups()

    def route_in(self, router: APIRouter, method: str = "GET") -> APIRoute:
        """``router``'s route declared with this template (what a fast path reports to the metrics)."""
        for route in router.routes:
            if isinstance(route, APIRoute) and route.path == self.path and method in (route.methods or ()):
                return route
        raise LookupError(f"no {method} route {self.path}")
