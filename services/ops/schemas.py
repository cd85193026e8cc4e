"""Response bodies of the ops endpoints."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ConfigDifference(BaseModel):
    member: Any = Field(description="The member's value")
    expected: Any = Field(description="The group's value (another member's in a split group)")


class MemberOut(BaseModel):
    member_id: str
    host: str
    pid: int
    assigned: list[int]
    lag: int | None = Field(description="Messages behind on the assigned partitions")
    fingerprint: str
    config: dict[str, Any]
    heartbeat_at: str
    drift: bool = Field(description="The member's effective config differs from the group's")
    differences: dict[str, ConfigDifference]


class StaleMemberOut(BaseModel):
    member_id: str
    host: str
    pid: int
    fingerprint: str
    heartbeat_at: str


class PartitionOut(BaseModel):
    partition: int
    next_offset: int | None = Field(description="The group's position stored with its effects in PostgreSQL")
    high_watermark: int | None
    lag: int | None
    owner: str | None = Field(description="member_id of the live member that owns the partition")


class ConsumerGroupOut(BaseModel):
    group: str
    topic: str
    generated_at: str
    ttl_s: float = Field(description="Heartbeats older than this mark a member stale (not counted)")
    expected_fingerprint: str | None = Field(description="The config most live members run (null: no majority)")
    expected_config: dict[str, Any]
    drifted_members: int = Field(
        description="Live members whose config differs: standings_consumer_config_drift_members"
    )
    split: bool = Field(description="Live members disagree and no config has a plurality")
    total_lag: int | None
    kafka_error: str | None
    members: list[MemberOut]
    stale_members: list[StaleMemberOut]
    partitions: list[PartitionOut]
