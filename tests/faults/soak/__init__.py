"""Chaos soak: the whole pipeline on its own embedded stack under kills, outages, a reindex and a
rebalance, then checked against a from-scratch recomputation (run alone with ``pytest -m soak``)."""
