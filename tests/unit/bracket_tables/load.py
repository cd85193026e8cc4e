"""Build the hand-worked bracket Cases from their YAML files, one per format family.

A file maps each case's name to its ``format`` (BracketFormat's fields by value), ``seeds`` (a
string, one letter a seed) or ``pools`` (rows of PoolRow), ``draw``, ``initial`` slots, ``steps``
and ``placings``. Slots are a mapping, the name of a fragment in fragments.yaml, or a list of those
merged in order. A step is ``[bout, outcome]`` or ``[bout, outcome, slots it changes]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from services.core.domain.brackets import BracketFormat, FormatKind, Repechage, ThirdPlace
from tests.unit.bracket_tables.table import Case, PoolRow, Step

HERE = Path(__file__).parent
FAMILIES = ("single", "repechage", "byes", "pools")
_FORMAT_FIELDS: dict[str, Any] = {"kind": FormatKind, "repechage": Repechage, "third_place": ThirdPlace, "advance": int}
_CASE_KEYS = {"format", "seeds", "pools", "draw", "initial", "steps", "placings"}


def _read(name: str) -> dict[str, Any]:
    return yaml.safe_load((HERE / f"{name}.yaml").read_text())


FRAGMENTS = _read("fragments")


def _text(value: Any) -> str:
    assert isinstance(value, str), f"{value!r} is not a string (quote it in the YAML)"
    return value


def slots(raw: Any) -> dict[str, str]:
    """A mapping of position -> slots, a fragment's name, or a list of those merged in order."""
    if isinstance(raw, str):
        return slots(FRAGMENTS[raw])
    if isinstance(raw, list):
        merged: dict[str, str] = {}
        for part in raw:
            merged |= slots(part)
        return merged
    return {_text(bout): _text(text) for bout, text in raw.items()}


def _step(raw: list[Any]) -> Step:
    bout, outcome, *changed = raw
    assert len(changed) <= 1, raw
    return (_text(bout), _text(outcome), slots(changed[0]) if changed else {})


def _pool_row(raw: list[Any]) -> PoolRow:
    athlete, rank, wins, points, finishes, tp_for, tp_against = raw
    return (_text(athlete), rank, wins, points, finishes, tp_for, tp_against)


def case(name: str, raw: dict[str, Any]) -> Case:
    assert set(raw) <= _CASE_KEYS, f"{name}: unknown keys {sorted(set(raw) - _CASE_KEYS)}"
    entrants: dict[str, Any] = {}
    if "seeds" in raw:
        entrants["seeds"] = _text(raw["seeds"])
    if "pools" in raw:
        entrants["pools"] = [[_pool_row(row) for row in pool] for pool in raw["pools"]]
    return Case(
        name=name,
        format=BracketFormat(**{key: _FORMAT_FIELDS[key](value) for key, value in raw["format"].items()}),
        draw=_text(raw["draw"]),
        initial=slots(raw["initial"]),
        steps=[_step(step) for step in raw["steps"]],
        placings={int(place): _text(athletes) for place, athletes in raw["placings"].items()},
        **entrants,
    )


def load_cases() -> list[Case]:
    return [case(name, raw) for family in FAMILIES for name, raw in _read(family).items()]
