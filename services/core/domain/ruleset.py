"""Classification-point rulesets (SPEC §3). Pure: no I/O, no clock.

A ruleset is data, not code: it is described by a plain JSON-able dict (so it can be stored,
versioned and shipped with a tournament) and turned into a validated :class:`Ruleset` by
:func:`ruleset_from_dict`. Besides classification points it may declare ``score_rules``: where the
technical points must agree with the method (see :mod:`services.core.domain.consistency`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from services.core.domain.consistency import (
    RuleViolation,
    ScoreRule,
    enum_set,
    parse_score_rules,
    score_rules_to_dict,
    score_violations,
    spec_object,
)
from services.core.domain.results import BoutResult, Method, Score, Winner


class InvalidRuleset(ValueError):
    """A ruleset description that cannot be used (the message lists every problem)."""


class UnknownRuleset(KeyError):
    """No ruleset is registered under that name."""


@dataclass(frozen=True, slots=True)
class MethodPoints:
    """Classification points for a method. ``loser_if_scored`` applies when the loser's
    technical points in the score are > 0 (``None``: the loser always gets ``loser``)."""

    winner: int
    loser: int
    loser_if_scored: int | None = None

    def loser_points(self, loser_scored: bool) -> int:
        if loser_scored and self.loser_if_scored is not None:
            return self.loser_if_scored
        return self.loser


@dataclass(frozen=True, slots=True)
class Ruleset:
    name: str
    version: str
    # hash=False: a mapping is not hashable; equality still compares it.
    points: Mapping[Method, MethodPoints] = field(hash=False)
    finishes: frozenset[Method]
    not_played: frozenset[Method]
    # Where the technical points must agree with the method (checked at intake, not when scoring).
    score_rules: tuple[ScoreRule, ...] = ()

    def score_violations(self, winner: Winner, method: Method, score: Score) -> list[RuleViolation]:
        """Every score rule the result breaks (empty: the score agrees with the method)."""
        return score_violations(self.name, self.score_rules, winner, method, score)

    def is_played(self, result: BoutResult) -> bool:
        """False for results that count for nothing (no bout, points or technical points).

        ``winner == none`` is only valid with a not-played method (see check_result_fields);
        treating it as not played keeps the standings invariants even for unvalidated input.
        """
        return result.method not in self.not_played and result.winner is not Winner.NONE

    def is_finish(self, result: BoutResult) -> bool:
        return result.method in self.finishes

    def classification_points(self, result: BoutResult) -> tuple[int, int]:
        """(red_points, blue_points) for a result. A draw gives both sides the winner points."""
        if not self.is_played(result):
            return (0, 0)
        mp = self.points[result.method]
        if result.winner is Winner.DRAW:
            return (mp.winner, mp.winner)
        if result.winner is Winner.RED:
            return (mp.winner, mp.loser_points(result.score.blue > 0))
        return (mp.loser_points(result.score.red > 0), mp.winner)


COMBAT_DEFAULT_DATA: dict[str, Any] = {
    "name": "combat-default",
    "version": "1",
    "points": {
        "ko": {"winner": 5, "loser": 0},
        "tko": {"winner": 5, "loser": 0},
        "submission": {"winner": 5, "loser": 0},
        "fall": {"winner": 5, "loser": 0},
        "disqualification": {"winner": 5, "loser": 0},
        "walkover": {"winner": 5, "loser": 0},
        "technical_superiority": {"winner": 4, "loser": 0, "loser_if_scored": 1},
        "decision": {"winner": 3, "loser": 0, "loser_if_scored": 1},
        "points": {"winner": 3, "loser": 0, "loser_if_scored": 1},
        "draw": {"winner": 1, "loser": 1},
        "no_contest": {"winner": 0, "loser": 0},
    },
    "finishes": ["ko", "tko", "submission", "fall"],
    "not_played": ["no_contest"],
    # Where the score decides the bout. Finishes, disqualification, walkover, decision and
    # no_contest are not listed: the score does not decide them (a finish can come from behind).
    "score_rules": {
        "winner_leads": {"check": "winner_leads", "methods": ["points", "technical_superiority"]},
        "draw_level": {"check": "level", "methods": ["draw"], "winners": ["draw"]},
    },
}

_METHOD_POINT_KEYS = frozenset({"winner", "loser", "loser_if_scored"})


def _is_points_value(value: object) -> bool:
    # bool is an int subclass; "true" points are a data error, not 1.
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _parse_points(raw: object, problems: list[str]) -> dict[Method, MethodPoints]:
    if not isinstance(raw, Mapping):
        problems.append("points must be an object mapping method -> {winner, loser[, loser_if_scored]}")
        return {}
    points: dict[Method, MethodPoints] = {}
    for key, spec in raw.items():
        try:
            method = Method(key)
        except ValueError:
            problems.append(f"points: unknown method {key!r}")
            continue
        spec = spec_object(spec, f"points.{key}", _METHOD_POINT_KEYS, problems)
        if spec is None:
            continue
        ok = True
        for name in ("winner", "loser"):
            if not _is_points_value(spec.get(name)):
                problems.append(f"points.{key}.{name} must be an integer >= 0")
                ok = False
        if_scored = spec.get("loser_if_scored")
        if if_scored is not None and not _is_points_value(if_scored):
            problems.append(f"points.{key}.loser_if_scored must be an integer >= 0 or null")
            ok = False
        if ok:
            points[method] = MethodPoints(spec["winner"], spec["loser"], if_scored)
    missing = [m.value for m in Method if m not in points and m.value not in raw]
    if missing:
        problems.append(f"points: methods not mapped: {', '.join(missing)}")
    return points


def ruleset_from_dict(data: Mapping[str, Any]) -> Ruleset:
    """Validate a ruleset description and build the Ruleset; raise InvalidRuleset listing all problems."""
    if not isinstance(data, Mapping):
        raise InvalidRuleset("ruleset must be an object")
    problems: list[str] = []
    name, version = data.get("name"), data.get("version")
    if not isinstance(name, str) or not name.strip():
        problems.append("name must be a non-empty string")
    if not isinstance(version, str) or not version.strip():
        problems.append("version must be a non-empty string")
    unknown = set(data) - {"name", "version", "points", "finishes", "not_played", "score_rules"}
    if unknown:
        problems.append(f"unknown keys {sorted(map(str, unknown))}")
    points = _parse_points(data.get("points"), problems)
    finishes: frozenset[Method] = enum_set(data.get("finishes"), Method, "finishes", problems)
    not_played: frozenset[Method] = enum_set(data.get("not_played"), Method, "not_played", problems)
    score_rules = parse_score_rules(data.get("score_rules"), problems)
    both = finishes & not_played
    if both:
        problems.append(f"methods both finish and not played: {', '.join(sorted(both))}")
    for method in (Method.DRAW, Method.NO_CONTEST):
        if method in finishes:
            problems.append(f"finishes: {method.value!r} has no winner and cannot be a finish")
    if problems:
        raise InvalidRuleset("; ".join(problems))
    assert isinstance(name, str) and isinstance(version, str)
    return Ruleset(
        name=name,
        version=version,
        points=MappingProxyType(dict(points)),
        finishes=finishes,
        not_played=not_played,
        score_rules=score_rules,
    )


def ruleset_to_dict(ruleset: Ruleset) -> dict[str, Any]:
    """The JSON-able description of a ruleset (inverse of ruleset_from_dict)."""
    points: dict[str, dict[str, int]] = {}
    for method in Method:
        mp = ruleset.points[method]
        entry = {"winner": mp.winner, "loser": mp.loser}
        if mp.loser_if_scored is not None:
            entry["loser_if_scored"] = mp.loser_if_scored
        points[method.value] = entry
    return {
        "name": ruleset.name,
        "version": ruleset.version,
        "points": points,
        "finishes": sorted(m.value for m in ruleset.finishes),
        "not_played": sorted(m.value for m in ruleset.not_played),
        "score_rules": score_rules_to_dict(ruleset.score_rules),
    }


COMBAT_DEFAULT = ruleset_from_dict(COMBAT_DEFAULT_DATA)
DEFAULT_RULESET_NAME = COMBAT_DEFAULT.name

RULESETS: dict[str, Ruleset] = {COMBAT_DEFAULT.name: COMBAT_DEFAULT}


def get_ruleset(name: str) -> Ruleset:
    try:
        return RULESETS[name]
    except KeyError:
        raise UnknownRuleset(name) from None
