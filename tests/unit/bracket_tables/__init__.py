"""Hand-worked bracket tables (SPEC §7): every format with 8 and 16 athletes, and byes."""

from tests.unit.bracket_tables.load import load_cases
from tests.unit.bracket_tables.table import Case

CASES: list[Case] = load_cases()
