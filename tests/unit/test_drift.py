"""Consumer-group config drift (pure) and the pure pieces of the consumer report and replay."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from services.core.domain.codec import StoredRevision
from services.core.domain.standings import StandingRow, StoredStanding
from services.ops.consumers import GroupReport, PartitionLag
from services.ops.drift import MemberRow, assess, config_differences, is_live
from services.ops.replay import ReplayReport, Window, _diff, _first_in_log

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
TTL = dt.timedelta(seconds=15)
GOOD: dict[str, Any] = {"max.poll.interval.ms": "300000", "session.timeout.ms": "45000", "app_version": "0.1.0"}
SLOW: dict[str, Any] = {**GOOD, "max.poll.interval.ms": "60000"}


def member(
    member_id: str,
    config: Mapping[str, Any] = GOOD,
    *,
    age_s: float = 1.0,
    assigned: tuple[int, ...] = (),
    lag: Mapping[int, int] | None = None,
) -> MemberRow:
    return MemberRow(
        member_id=member_id,
        fingerprint="fp-" + "-".join(f"{k}={config[k]}" for k in sorted(config)),
        config=dict(config),
        heartbeat_at=NOW - dt.timedelta(seconds=age_s),
        host=f"host-{member_id}",
        pid=100,
        assigned=assigned,
        lag=dict(lag or {}),
    )


def test_one_member_of_six_with_a_different_poll_interval_is_flagged() -> None:
    """The Saturday incident: five pods at 300 s, one at 60 s."""
    members = [member(f"m{i}") for i in range(5)] + [member("m5", SLOW)]
    report = assess("standings-projector", members, NOW, TTL)
    assert report.drifted == 1
    assert report.expected_fingerprint == members[0].fingerprint
    (flagged,) = [v for v in report.members if v.drifted]
    assert flagged.member.member_id == "m5"
    assert flagged.differences == {"max.poll.interval.ms": ("60000", "300000")}
    assert not report.split


def test_all_members_agreeing_is_no_drift() -> None:
    report = assess("g", [member("a"), member("b"), member("c")], NOW, TTL)
    assert report.drifted == 0
    assert all(not v.differences for v in report.members)


def test_stale_members_are_ignored_and_reported_apart() -> None:
    # The stale row of a crashed pod with an old config must neither raise nor decide anything.
    members = [member("a"), member("b"), member("old", SLOW, age_s=60)]
    report = assess("g", members, NOW, TTL)
    assert report.drifted == 0
    assert [m.member_id for m in report.stale] == ["old"]
    assert {v.member.member_id for v in report.members} == {"a", "b"}


def test_stale_majority_does_not_outvote_live_members() -> None:
    members = [member("new", SLOW), member("x", age_s=100), member("y", age_s=100)]
    report = assess("g", members, NOW, TTL)
    assert report.expected_fingerprint == members[0].fingerprint
    assert report.drifted == 0


def test_split_group_without_majority_flags_every_member() -> None:
    report = assess("g", [member("a"), member("b", SLOW)], NOW, TTL)
    assert report.expected_fingerprint is None
    assert report.split
    assert report.drifted == 2
    by_id = {v.member.member_id: v for v in report.members}
    assert by_id["a"].differences == {"max.poll.interval.ms": ("300000", "60000")}
    assert by_id["b"].differences == {"max.poll.interval.ms": ("60000", "300000")}


def test_empty_group() -> None:
    report = assess("g", [], NOW, TTL)
    assert report.drifted == 0 and report.expected_fingerprint is None and not report.split


def test_heartbeat_exactly_at_ttl_is_live_and_future_heartbeat_is_live() -> None:
    assert is_live(member("a", age_s=15), NOW, TTL)
    assert not is_live(member("a", age_s=15.001), NOW, TTL)
    assert is_live(member("a", age_s=-2), NOW, TTL)  # DB clock slightly ahead


def test_config_differences_compare_as_strings_and_see_missing_keys() -> None:
    assert config_differences({"a": 6000}, {"a": "6000"}) == {}
    assert config_differences({"a": "1", "b": "x"}, {"a": "1"}) == {"b": ("x", None)}


configs = st.sampled_from([GOOD, SLOW, {**GOOD, "session.timeout.ms": "6000"}])


@given(st.lists(st.tuples(configs, st.booleans()), max_size=12))
def test_drift_invariants(specs: list[tuple[dict[str, Any], bool]]) -> None:
    members = [member(f"m{i:02d}", cfg, age_s=60 if stale else 1) for i, (cfg, stale) in enumerate(specs)]
    report = assess("g", members, NOW, TTL)
    live = [m for m in members if is_live(m, NOW, TTL)]
    assert len(report.members) == len(live) and len(report.stale) == len(members) - len(live)
    fingerprints = {m.fingerprint for m in live}
    if len(fingerprints) <= 1:
        assert report.drifted == 0
    elif report.expected_fingerprint is None:
        assert report.drifted == len(live)
    else:
        expected_count = sum(1 for m in live if m.fingerprint == report.expected_fingerprint)
        assert report.drifted == len(live) - expected_count
        assert expected_count > max(
            sum(1 for m in live if m.fingerprint == fp) for fp in fingerprints - {report.expected_fingerprint}
        )
    # Order of rows does not matter.
    again = assess("g", list(reversed(members)), NOW, TTL)
    assert again.drifted == report.drifted and again.expected_fingerprint == report.expected_fingerprint


# --- consumer report --------------------------------------------------------------------------------


def test_member_lag_uses_computed_partition_lag_then_the_members_own_report() -> None:
    a = member("a", assigned=(0, 1), lag={0: 7, 1: 9})
    b = member("b", assigned=(2,), lag={2: 4})
    report = GroupReport(
        group="g",
        topic="t",
        generated_at=NOW,
        ttl_s=15,
        drift=assess("g", [a, b], NOW, TTL),
        partitions=(
            PartitionLag(0, 10, 15, 5, "a"),
            PartitionLag(1, 10, 13, 3, "a"),
            PartitionLag(2, 0, None, None, "b"),
        ),
    )
    assert report.member_lag(a) == 8
    assert report.member_lag(b) == 4
    assert report.total_lag is None
    body = report.to_dict()
    assert body["drifted_members"] == 0
    assert [m["member_id"] for m in body["members"]] == ["a", "b"]


# --- replay helpers -----------------------------------------------------------------------------------


def test_window_decides_what_comes_from_the_log_and_what_from_the_database() -> None:
    w = Window(partition=0, start=10, target=50, reached=40, live_position=30)
    assert [o for o in (5, 10, 29, 30, 39, 40) if w.replayed(o)] == [10, 29]
    assert [o for o in (5, 10, 39, 40, 45) if w.from_database(o)] == [5, 40, 45]
    no_live = Window(partition=0, start=0, target=5, reached=5)
    assert no_live.replayed(4) and not no_live.replayed(5)


def test_first_payload_in_log_order_wins_and_later_different_ones_are_conflicts() -> None:
    report = ReplayReport(topic="t", group="g", dry_run=True)
    key = ("t1", "d1")
    first = StoredRevision("result", {"winner": "red"})
    other = StoredRevision("result", {"winner": "blue"})
    chosen = _first_in_log(
        [
            (0, 9, key, "b1", 1, other),
            (0, 3, key, "b1", 1, first),
            (0, 5, key, "b1", 1, first),  # duplicate, not a conflict
            (0, 4, key, "b1", 2, StoredRevision("void", {})),
        ],
        report,
    )
    assert chosen[key][("b1", 1)] == first
    assert chosen[key][("b1", 2)].kind == "void"
    assert report.conflicts == 1


def row(athlete: str, rank: int, wins: int = 0) -> StandingRow:
    return StandingRow(athlete, rank, wins, wins, 0, 0, 3 * wins, 0, 0, 0, False)


def test_diff_names_changed_missing_and_extra_athletes() -> None:
    stored = {
        "a": StoredStanding(row("a", 1, 2), None),
        "b": StoredStanding(row("b", 2, 1), 1),
        "x": StoredStanding(row("x", 3), None),
    }
    assert _diff([row("a", 1, 2), row("b", 2, 1), row("x", 3)], stored) == ()
    assert _diff([row("a", 1, 2), row("b", 2, 0), row("c", 3)], stored) == ("b", "c", "x")
