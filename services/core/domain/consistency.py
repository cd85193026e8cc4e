"""Score consistency rules of a ruleset: which methods the technical points must agree with. Pure.

A federation's ruleset says, as data, where the score decides the bout: a win on ``points`` or by
``technical_superiority`` needs the winner ahead on technical points, and a ``draw`` needs level
scores. Every other method (``ko``, ``submission``, ``disqualification``, ``decision``…) leaves the
score unconstrained: a finish can come from behind.

A rule is a named *check* (one of :class:`ScoreCheck`, the only part that is code) applied to the
results whose method is in ``methods`` or whose winner is in ``winners``::

    "score_rules": {
        "winner_leads": {"check": "winner_leads", "methods": ["points", "technical_superiority"]},
        "draw_level": {"check": "level", "methods": ["draw"], "winners": ["draw"]},
    }

These rules are checked where a result enters the system (the intake). Results already accepted
are not re-judged: standings count whatever was accepted (SPEC §3).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from services.core.domain.results import Method, Score, Winner


class ScoreCheck(StrEnum):
    """What a rule demands of the technical points."""

    WINNER_LEADS = "winner_leads"  # the winner (red or blue) has more technical points than the loser
    LEVEL = "level"  # both sides have the same technical points


RULE_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_RULE_KEYS = frozenset({"check", "methods", "winners"})
# Methods and winners that name no winner: a "winner_leads" rule on them could never hold.
_NO_WINNER_METHODS = frozenset({Method.DRAW, Method.NO_CONTEST})
_NO_WINNER = frozenset({Winner.DRAW, Winner.NONE})


@dataclass(frozen=True, slots=True)
class RuleViolation:
    """A result that breaks rule ``rule`` of ruleset ``ruleset``; ``detail`` says how, for people."""

    ruleset: str
    rule: str
    detail: str


@dataclass(frozen=True, slots=True)
class ScoreRule:
    name: str
    check: ScoreCheck
    methods: frozenset[Method]
    winners: frozenset[Winner] = frozenset()

    def applies(self, winner: Winner, method: Method) -> bool:
        return method in self.methods or winner in self.winners

    def holds(self, winner: Winner, score: Score) -> bool:
        if self.check is ScoreCheck.LEVEL:
            return score.red == score.blue
        if winner is Winner.RED:
            return score.red > score.blue
        if winner is Winner.BLUE:
            return score.blue > score.red
        return False  # no winner to lead (excluded from such rules when they are parsed)

    def requirement(self, winner: Winner, method: Method) -> str:
        """What the rule asks of this result, e.g. "method points requires the winner to lead …"."""
        subject = f"method {method.value}" if method in self.methods else f"winner {winner.value}"
        if self.check is ScoreCheck.LEVEL:
            return f"{subject} requires equal technical points"
        return f"{subject} requires the winner to lead on technical points"


def score_violations(
    ruleset_name: str, rules: Iterable[ScoreRule], winner: Winner, method: Method, score: Score
) -> list[RuleViolation]:
    """Every rule of ``rules`` the result breaks, in rule order (empty: consistent)."""
    return [
        RuleViolation(
            ruleset_name,
            rule.name,
            f"{rule.requirement(winner, method)} (ruleset {ruleset_name} rule {rule.name}; "
            f"score red {score.red} : blue {score.blue})",
        )
        for rule in rules
        if rule.applies(winner, method) and not rule.holds(winner, score)
    ]


def spec_object(spec: object, where: str, keys: frozenset[str], problems: list[str]) -> Mapping[str, Any] | None:
    """``spec`` when it is an object (keys other than ``keys`` are reported), else None (reported)."""
    if not isinstance(spec, Mapping):
        problems.append(f"{where} must be an object")
        return None
    extra = set(spec) - keys
    if extra:
        problems.append(f"{where}: unknown keys {sorted(map(str, extra))}")
    return spec


def enum_set(raw: object, enum: type[Method] | type[Winner], where: str, problems: list[str]) -> frozenset[Any]:
    """The names listed in ``raw`` as ``enum`` members (absent: none); appends to ``problems``."""
    if raw is None:
        return frozenset()
    if isinstance(raw, str) or not isinstance(raw, list | tuple | set | frozenset):
        problems.append(f"{where} must be a list of {enum.__name__.lower()} names")
        return frozenset()
    values = set()
    for item in raw:
        try:
            values.add(enum(item))
        except ValueError:
            problems.append(f"{where}: unknown {enum.__name__.lower()} {item!r}")
    return frozenset(values)


def parse_score_rules(raw: object, problems: list[str]) -> tuple[ScoreRule, ...]:
    """The ``score_rules`` of a ruleset description (absent: none); appends to ``problems``."""
    if raw is None:
        return ()
    if not isinstance(raw, Mapping):
        problems.append("score_rules must be an object mapping rule name -> {check, methods[, winners]}")
        return ()
    rules: list[ScoreRule] = []
    for name, spec in raw.items():
        where = f"score_rules.{name}"
        if not isinstance(name, str) or not RULE_NAME_PATTERN.fullmatch(name):
            problems.append(f"score_rules: rule name {name!r} must match {RULE_NAME_PATTERN.pattern}")
            continue
        spec = spec_object(spec, where, _RULE_KEYS, problems)
        if spec is None:
            continue
        try:
            check = ScoreCheck(str(spec.get("check")))
        except ValueError:
            problems.append(f"{where}.check must be one of {', '.join(c.value for c in ScoreCheck)}")
            continue
        methods: frozenset[Method] = enum_set(spec.get("methods"), Method, f"{where}.methods", problems)
        winners: frozenset[Winner] = enum_set(spec.get("winners"), Winner, f"{where}.winners", problems)
        if not methods and not winners:
            problems.append(f"{where} applies to nothing: list methods and/or winners")
        if check is ScoreCheck.WINNER_LEADS:
            no_winner = sorted(m.value for m in methods & _NO_WINNER_METHODS) + sorted(
                w.value for w in winners & _NO_WINNER
            )
            if no_winner:
                problems.append(f"{where}: winner_leads cannot apply to {', '.join(no_winner)} (no winner)")
        rules.append(ScoreRule(name, check, methods, winners))
    return tuple(rules)


def score_rules_to_dict(rules: Iterable[ScoreRule]) -> dict[str, dict[str, Any]]:
    """The JSON-able description of ``rules`` (inverse of parse_score_rules)."""
    out: dict[str, dict[str, Any]] = {}
    for rule in rules:
        entry: dict[str, Any] = {"check": rule.check.value, "methods": sorted(m.value for m in rule.methods)}
        if rule.winners:
            entry["winners"] = sorted(w.value for w in rule.winners)
        out[rule.name] = entry
    return out
