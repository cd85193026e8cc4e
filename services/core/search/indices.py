"""Versioned rankings indices behind one alias: create, finish, swap, list, clean up.

Index creation never ignores errors (no ``ignore=400``): a mapping the engine refuses must fail
the build loudly, not leave an index with a dynamic mapping behind the alias.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from elasticsearch import Elasticsearch, NotFoundError

from services.core.search.mapping import MAPPINGS, REFRESH_INTERVAL, index_settings, is_versioned_index


def alias_targets(client: Elasticsearch, alias: str) -> list[str]:
    """Indices behind ``alias`` (empty when the alias does not exist), newest name first."""
    try:
        body = client.indices.get_alias(name=alias).body
    except NotFoundError:
        return []
    return sorted(body, reverse=True)


def versioned_indices(client: Elasticsearch, alias: str) -> list[str]:
    """Every ``<alias>-v*`` index, oldest first (names sort by their UTC timestamp)."""
    try:
        body = client.indices.get(index=f"{alias}-v*", expand_wildcards="open,closed").body
    except NotFoundError:
        return []
    return sorted(name for name in body if is_versioned_index(name, alias))


def create_index(client: Elasticsearch, name: str, *, building: bool = False) -> None:
    """Create ``name`` with the explicit mapping; raises on any refusal (mapping error, name taken)."""
    client.indices.create(index=name, settings=index_settings(building=building), mappings=MAPPINGS)


def finish_build(client: Elasticsearch, name: str) -> None:
    """Turn refresh back on after a bulk load and make everything searchable now."""
    client.indices.put_settings(index=name, settings={"index": {"refresh_interval": REFRESH_INTERVAL}})
    client.indices.refresh(index=name)


def doc_count(client: Elasticsearch, index: str) -> int:
    return int(client.count(index=index).body["count"])


def swap_alias(client: Elasticsearch, alias: str, new: str, old: Iterable[str]) -> None:
    """Point ``alias`` at ``new`` only, in ONE ``_aliases`` call (readers never see no index or two)."""
    actions: list[dict[str, dict[str, str]]] = [
        {"remove": {"index": name, "alias": alias}} for name in old if name != new
    ]
    actions.append({"add": {"index": new, "alias": alias}})
    client.indices.update_aliases(actions=actions)


def delete_indices(client: Elasticsearch, names: Iterable[str]) -> list[str]:
    """Delete ``names`` (already gone is fine); returns what was asked for."""
    deleted = []
    for name in names:
        with contextlib.suppress(NotFoundError):
            client.indices.delete(index=name)
        deleted.append(name)
    return deleted
