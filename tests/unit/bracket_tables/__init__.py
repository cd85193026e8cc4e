"""Hand-worked bracket tables (SPEC §7): every format with 8 and 16 athletes, and byes."""

from tests.unit.bracket_tables import byes, pools, repechage, single
from tests.unit.bracket_tables.table import Case

CASES: list[Case] = [*single.CASES, *repechage.CASES, *byes.CASES, *pools.CASES]
