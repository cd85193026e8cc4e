"""The ruleset's consistency rules as the mat console's data (services/intake/mat_rules.py)."""

from __future__ import annotations

from services.core.domain.ruleset import COMBAT_DEFAULT, COMBAT_DEFAULT_DATA, ruleset_from_dict
from services.intake.mat_rules import ruleset_rules, winner_methods

WIN_METHODS = [
    "ko",
    "tko",
    "submission",
    "fall",
    "technical_superiority",
    "decision",
    "points",
    "disqualification",
    "walkover",
]


def test_winner_methods_are_the_domain_agreement() -> None:
    assert winner_methods() == {"red": WIN_METHODS, "blue": WIN_METHODS, "draw": ["draw"], "none": ["no_contest"]}


def test_combat_default_score_rules_as_data_with_their_wording() -> None:
    rules = ruleset_rules(COMBAT_DEFAULT)
    assert (rules["ruleset"], rules["version"], rules["max_score"], rules["max_duration_s"]) == (
        "combat-default",
        "1",
        999,
        86_400,
    )
    assert rules["score_rules"] == [
        {
            "rule": "winner_leads",
            "check": "winner_leads",
            "methods": ["points", "technical_superiority"],
            "winners": [],
            "requires_by_method": {
                "points": "method points requires the winner to lead on technical points",
                "technical_superiority": "method technical_superiority requires the winner to lead on technical points",
            },
            "requires_by_winner": {},
        },
        {
            "rule": "draw_level",
            "check": "level",
            "methods": ["draw"],
            "winners": ["draw"],
            "requires_by_method": {"draw": "method draw requires equal technical points"},
            "requires_by_winner": {"draw": "winner draw requires equal technical points"},
        },
    ]


def test_a_ruleset_without_score_rules_has_none_and_another_rule_follows_its_data() -> None:
    bare = ruleset_from_dict({k: v for k, v in COMBAT_DEFAULT_DATA.items() if k != "score_rules"} | {"name": "bare"})
    assert ruleset_rules(bare)["score_rules"] == []
    strict = ruleset_from_dict(
        {
            **COMBAT_DEFAULT_DATA,
            "name": "strict",
            "score_rules": {"decision_leads": {"check": "winner_leads", "methods": ["decision"]}},
        }
    )
    (rule,) = ruleset_rules(strict)["score_rules"]
    assert (rule["rule"], rule["methods"], rule["requires_by_method"]) == (
        "decision_leads",
        ["decision"],
        {"decision": "method decision requires the winner to lead on technical points"},
    )
