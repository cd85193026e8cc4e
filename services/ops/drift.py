"""Consumer-group config drift (pure: no I/O, no clock).

Every member of a consumer group records its effective-config fingerprint with each heartbeat
(``consumer_members``). The group's expected config is the one most live members run; members
that run anything else are drifting. A member whose heartbeat is older than the TTL is stale: it
is reported separately and never counted, so a crashed pod's leftover row neither raises nor
hides an alarm.

With no strict plurality (e.g. two members, two configs) nobody can say which config is right,
so every live member is flagged: the group is split either way.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class MemberRow:
    """One ``consumer_members`` row as drift detection sees it."""

    member_id: str
    fingerprint: str
    config: Mapping[str, Any]
    heartbeat_at: dt.datetime
    host: str = ""
    pid: int = 0
    assigned: tuple[int, ...] = ()
    lag: Mapping[int, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MemberVerdict:
    """A live member and how its config differs from the group's (key -> (member's, expected))."""

    member: MemberRow
    drifted: bool
    differences: Mapping[str, tuple[Any, Any]]


@dataclass(frozen=True, slots=True)
class DriftReport:
    group: str
    # None when the live members have no strict plurality fingerprint (or there are none).
    expected_fingerprint: str | None
    expected_config: Mapping[str, Any]
    members: tuple[MemberVerdict, ...]
    stale: tuple[MemberRow, ...]

    @property
    def drifted(self) -> int:
        """Live members whose config differs from the group's: the CONFIG_DRIFT gauge."""
        return sum(1 for m in self.members if m.drifted)

    @property
    def split(self) -> bool:
        """True when live members disagree and no config has a plurality."""
        return self.expected_fingerprint is None and len({m.member.fingerprint for m in self.members}) > 1


def config_differences(config: Mapping[str, Any], expected: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Keys whose values differ (compared as strings, like the fingerprint): key -> (value, expected)."""
    out: dict[str, tuple[Any, Any]] = {}
    for key in sorted(set(config) | set(expected)):
        mine, theirs = config.get(key), expected.get(key)
        if _norm(mine) != _norm(theirs):
            out[key] = (mine, theirs)
    return out


def _norm(value: Any) -> str | None:
    return None if value is None else str(value)


def is_live(member: MemberRow, now: dt.datetime, ttl: dt.timedelta) -> bool:
    """Heartbeat within ``ttl`` of ``now`` (a heartbeat slightly in the future counts as live)."""
    return now - member.heartbeat_at <= ttl


def assess(group: str, members: Iterable[MemberRow], now: dt.datetime, ttl: dt.timedelta) -> DriftReport:
    """Find the group's expected fingerprint among live members and flag the members that differ."""
    rows = sorted(members, key=lambda m: m.member_id)
    live = [m for m in rows if is_live(m, now, ttl)]
    stale = tuple(m for m in rows if not is_live(m, now, ttl))
    counts = Counter(m.fingerprint for m in live).most_common()
    expected: str | None = None
    if counts and (len(counts) == 1 or counts[0][1] > counts[1][1]):
        expected = counts[0][0]
    expected_config: Mapping[str, Any] = {}
    if expected is not None:
        # Members with the same fingerprint share the config; the freshest row is the reference.
        reference = max((m for m in live if m.fingerprint == expected), key=lambda m: m.heartbeat_at)
        expected_config = dict(reference.config)

    verdicts = []
    for member in live:
        if expected is None:
            drifted = len(counts) > 1
            differences = _differences_from_others(member, live) if drifted else {}
        else:
            drifted = member.fingerprint != expected
            differences = config_differences(member.config, expected_config) if drifted else {}
        verdicts.append(MemberVerdict(member, drifted, differences))
    return DriftReport(group, expected, expected_config, tuple(verdicts), stale)


def _differences_from_others(member: MemberRow, live: list[MemberRow]) -> dict[str, tuple[Any, Any]]:
    """Split group: the keys in which this member differs from some member with another fingerprint."""
    out: dict[str, tuple[Any, Any]] = {}
    for other in live:
        if other.fingerprint != member.fingerprint:
            for key, pair in config_differences(member.config, other.config).items():
                out.setdefault(key, pair)
    return out
