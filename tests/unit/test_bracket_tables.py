"""The hand-worked bracket tables (tests/unit/bracket_tables): the draw, every slot after each
result, and the final placings, for each format."""

from __future__ import annotations

import pytest

from tests.unit.bracket_tables import CASES
from tests.unit.bracket_tables.table import Case, check_case


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_table(case: Case) -> None:
    check_case(case)
