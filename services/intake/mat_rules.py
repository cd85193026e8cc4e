"""A ruleset's consistency rules as data for the mat-table console, derived from the domain.

The console checks a result before it sends it, but the rules live in one place: the winner/method
agreement is :func:`~services.core.domain.results.check_result_fields` (asked for every winner and
method), the score rules are the ruleset's :class:`~services.core.domain.consistency.ScoreRule`
objects with their own wording. The page only interprets this data (two checks: ``winner_leads``,
``level``); the intake still judges every post (422) with the same code.
"""

from __future__ import annotations

from typing import Any

from services.core.domain.consistency import ScoreRule
from services.core.domain.results import MAX_SCORE, InvalidResult, Method, Score, Winner, check_result_fields
from services.core.domain.ruleset import Ruleset
from services.intake.schemas import MAX_DURATION_S


def winner_methods() -> dict[str, list[str]]:
    """For each winner, the methods the domain accepts with it (in the domain's method order)."""
    allowed: dict[str, list[str]] = {}
    for winner in Winner:
        allowed[winner.value] = []
        for method in Method:
            try:
                check_result_fields(winner, method, Score(0, 0), 1)
            except InvalidResult:
                continue
            allowed[winner.value].append(method.value)
    return allowed


def score_rule_data(rule: ScoreRule) -> dict[str, Any]:
    """One score rule: its check, where it applies and, per method or winner, what it requires in words."""
    return {
        "rule": rule.name,
        "check": rule.check.value,
        "methods": sorted(m.value for m in rule.methods),
        "winners": sorted(w.value for w in rule.winners),
        "requires_by_method": {m.value: rule.requirement(Winner.RED, m) for m in sorted(rule.methods)},
        "requires_by_winner": {w.value: rule.requirement(w, _method_outside(rule)) for w in sorted(rule.winners)},
    }


def _method_outside(rule: ScoreRule) -> Method:
    """A method the rule does not list, so its requirement text names the winner (as the intake's does)."""
    return next((m for m in Method if m not in rule.methods), Method.NO_CONTEST)


def ruleset_rules(ruleset: Ruleset) -> dict[str, Any]:
    """The console's checks for ``ruleset``: winner/method pairs, score rules, score and duration bounds."""
    return {
        "ruleset": ruleset.name,
        "version": ruleset.version,
        "winner_methods": winner_methods(),
        "score_rules": [score_rule_data(rule) for rule in ruleset.score_rules],
        "max_score": MAX_SCORE,
        "max_duration_s": MAX_DURATION_S,
    }
