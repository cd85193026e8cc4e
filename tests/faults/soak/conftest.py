"""Run the soak after everything else: it is the longest test and the one CI wants last."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.get_closest_marker("soak") is not None)  # stable: keeps the rest in order
