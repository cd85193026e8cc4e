"""PostgreSQL schema (system of record). Changed only through Alembic migrations."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

TS = DateTime(timezone=True)
# Ids order rows that share a rank (and lists). The domain orders them by code point; the "C"
# collation is that order on every locale (en_US.utf8 would put "a-b" after "ab" and fold case).
Id = String(64, collation="C")

# Columns that many tables declare alike (SQLAlchemy takes the column from the Annotated type).
IdKey = Annotated[str, mapped_column(Id, primary_key=True)]  # an id in the primary key
IdRef = Annotated[str, mapped_column(Id)]  # an id outside the primary key
DbNow = Annotated[dt.datetime, mapped_column(TS, server_default=func.now())]  # the insert's time by default


def _in_division() -> ForeignKeyConstraint:
    """A row of a division's table: ``(tournament_id, division_id)`` names the division, and goes with it."""
    return ForeignKeyConstraint(
        ["tournament_id", "division_id"],
        ["divisions.tournament_id", "divisions.division_id"],
        ondelete="CASCADE",
    )


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSONB, dt.datetime: TS}


class Tournament(Base):
    __tablename__ = "tournaments"
    tournament_id: Mapped[IdKey]
    name: Mapped[str] = mapped_column(Text)
    tier: Mapped[str] = mapped_column(String(16))
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), server_default="scheduled")
    ruleset: Mapped[str] = mapped_column(String(64), server_default="combat-default")
    finalized_at: Mapped[dt.datetime | None] = mapped_column(TS)
    __table_args__ = (
        CheckConstraint("tier in ('world','continental','national','open')", name="tier"),
        CheckConstraint("status in ('scheduled','live','finalized')", name="status"),
        CheckConstraint("end_date >= start_date", name="dates"),
    )


class Division(Base):
    __tablename__ = "divisions"
    tournament_id: Mapped[str] = mapped_column(
        Id, ForeignKey("tournaments.tournament_id", ondelete="CASCADE"), primary_key=True
    )
    division_id: Mapped[IdKey]
    name: Mapped[str] = mapped_column(Text)
    category: Mapped[IdRef]
    formats: Mapped[list[str]] = mapped_column(ARRAY(String(16)))
    # ``round_robin``, ``elimination`` or ``pools_then_elimination`` (SPEC §7).
    format: Mapped[str] = mapped_column(String(32), server_default="round_robin")
    # A bracket division's description as registered: repechage, third_place, advance and the
    # resolved first-round draw (or, for pools_then_elimination, the pools). Null for round robin.
    bracket: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))  # None: SQL NULL
    # Bumped on every committed change; the read API's ETag.
    version: Mapped[int] = mapped_column(BigInteger, server_default="0")
    last_event_at: Mapped[dt.datetime | None] = mapped_column(TS)
    last_partition: Mapped[int | None] = mapped_column(Integer)
    last_offset: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[dt.datetime | None] = mapped_column(TS)
    # Set by the projector when the division's tournament_finalized event is applied (once).
    finalized_at: Mapped[dt.datetime | None] = mapped_column(TS)
    __table_args__ = (Index(None, "category"),)


class Athlete(Base):
    __tablename__ = "athletes"
    athlete_id: Mapped[IdKey]
    full_name: Mapped[str] = mapped_column(Text)
    country: Mapped[str] = mapped_column(String(3))
    club: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (CheckConstraint("country ~ '^[A-Z]{3}$'", name="country_alpha3"),)


class DivisionEntry(Base):
    """An athlete entered in a division (a standings row exists even before their first bout)."""

    __tablename__ = "division_entries"
    tournament_id: Mapped[IdKey]
    division_id: Mapped[IdKey]
    athlete_id: Mapped[str] = mapped_column(Id, ForeignKey("athletes.athlete_id"), primary_key=True)
    __table_args__ = (_in_division(),)


class BoutRow(Base):
    __tablename__ = "bouts"
    bout_id: Mapped[IdKey]
    tournament_id: Mapped[IdRef]
    division_id: Mapped[IdRef]
    mat: Mapped[int] = mapped_column(Integer, server_default="1")
    bout_order: Mapped[int] = mapped_column(Integer, server_default="0")
    # Null for a bracket bout: who stands in its slots is bracket state (``bracket_bouts``).
    red_athlete_id: Mapped[str | None] = mapped_column(Id, ForeignKey("athletes.athlete_id"))
    blue_athlete_id: Mapped[str | None] = mapped_column(Id, ForeignKey("athletes.athlete_id"))
    __table_args__ = (
        _in_division(),
        CheckConstraint("red_athlete_id <> blue_athlete_id", name="distinct_athletes"),
        Index(None, "tournament_id", "division_id"),
    )


class BracketBout(Base):
    """One position of a bracket division as its results stand (SPEC §7): who is in each slot, and
    the bout's status. Written in the transaction that changes the division (projector or
    registration), like its standings rows; read by the intake (the athletes of a post, or the 409
    naming the open slot) and the read API."""

    __tablename__ = "bracket_bouts"
    bout_id: Mapped[str] = mapped_column(Id, ForeignKey("bouts.bout_id", ondelete="CASCADE"), primary_key=True)
    tournament_id: Mapped[IdRef]
    division_id: Mapped[IdRef]
    # main | final | repechage | bronze; round and index as in the bout id; half top | bottom | null
    phase: Mapped[str] = mapped_column(String(16))
    round: Mapped[int] = mapped_column(Integer)
    idx: Mapped[int] = mapped_column(Integer)
    half: Mapped[str | None] = mapped_column(String(8))
    # waiting | open | decided | bye | invalidated
    status: Mapped[str] = mapped_column(String(16))
    red_athlete_id: Mapped[str | None] = mapped_column(Id)
    blue_athlete_id: Mapped[str | None] = mapped_column(Id)
    # What an open slot waits for, in words (the intake's 409), when a slot is not determined.
    waiting_for: Mapped[str | None] = mapped_column(Text)
    winner_athlete_id: Mapped[str | None] = mapped_column(Id)
    # The revision that decides the bout, and the stored revision that no longer counts (invalidated).
    counted_revision: Mapped[int | None] = mapped_column(Integer)
    invalidated_revision: Mapped[int | None] = mapped_column(Integer)
    __table_args__ = (
        _in_division(),
        CheckConstraint("status in ('waiting','open','decided','bye','invalidated')", name="status"),
        Index(None, "tournament_id", "division_id"),
    )


class ResultRow(Base):
    """Every applied revision of a bout (result or void). ``is_effective`` marks the one that counts."""

    __tablename__ = "results"
    bout_id: Mapped[str] = mapped_column(Id, ForeignKey("bouts.bout_id"), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    event_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    is_effective: Mapped[bool] = mapped_column(Boolean, server_default="false")
    occurred_at: Mapped[dt.datetime] = mapped_column(TS)
    source_partition: Mapped[int] = mapped_column(Integer)
    source_offset: Mapped[int] = mapped_column(BigInteger)
    applied_at: Mapped[DbNow]
    __table_args__ = (
        CheckConstraint("kind in ('result','void')", name="kind"),
        CheckConstraint("revision >= 1", name="revision_positive"),
        Index(None, "source_partition", "source_offset"),
    )


class ResultConflict(Base):
    """A second, different payload for an already applied (bout, revision): kept, never merged."""

    __tablename__ = "result_conflicts"
    conflict_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    tournament_id: Mapped[IdRef]
    division_id: Mapped[IdRef]
    bout_id: Mapped[IdRef]
    revision: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    applied_payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    source_partition: Mapped[int] = mapped_column(Integer)
    source_offset: Mapped[int] = mapped_column(BigInteger)
    detected_at: Mapped[DbNow]
    __table_args__ = (
        # One conflict row per distinct message: a replayed conflict is not recorded twice.
        Index(None, "source_partition", "source_offset", unique=True),
        Index(None, "tournament_id", "division_id"),
    )


class StandingsRow(Base):
    __tablename__ = "standings_rows"
    tournament_id: Mapped[IdKey]
    division_id: Mapped[IdKey]
    athlete_id: Mapped[IdKey]
    rank: Mapped[int] = mapped_column(Integer)
    previous_rank: Mapped[int | None] = mapped_column(Integer)
    bouts: Mapped[int] = mapped_column(Integer)
    wins: Mapped[int] = mapped_column(Integer)
    losses: Mapped[int] = mapped_column(Integer)
    draws: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer)
    finishes: Mapped[int] = mapped_column(Integer)
    tp_for: Mapped[int] = mapped_column(Integer)
    tp_against: Mapped[int] = mapped_column(Integer)
    tie_unresolved: Mapped[bool] = mapped_column(Boolean)


class RankingAward(Base):
    """Placing points a division awarded to an athlete; provisional while the tournament is live."""

    __tablename__ = "ranking_awards"
    tournament_id: Mapped[IdKey]
    division_id: Mapped[IdKey]
    athlete_id: Mapped[IdKey]
    category: Mapped[IdRef]
    placing: Mapped[int] = mapped_column(Integer)
    points: Mapped[float] = mapped_column(Numeric(10, 1, asdecimal=False))
    end_date: Mapped[dt.date] = mapped_column(Date)
    provisional: Mapped[bool] = mapped_column(Boolean)
    awarded_at: Mapped[DbNow]
    __table_args__ = (Index(None, "category", "athlete_id"),)


class Ranking(Base):
    __tablename__ = "rankings"
    category: Mapped[IdKey]
    athlete_id: Mapped[IdKey]
    rank: Mapped[int] = mapped_column(Integer)
    points: Mapped[float] = mapped_column(Numeric(10, 1, asdecimal=False))
    best_award: Mapped[float] = mapped_column(Numeric(10, 1, asdecimal=False))
    awards: Mapped[int] = mapped_column(Integer)
    provisional_points: Mapped[float] = mapped_column(Numeric(10, 1, asdecimal=False), server_default="0")
    ranking_date: Mapped[dt.date] = mapped_column(Date)
    # Monotonic per document: the search index write uses it as the external version.
    version: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[DbNow]


class RankingChange(Base):
    """The change feed to the search index: a row per ranking document (re)written.

    No lock orders the writers: ``txid`` is the writing transaction's id, and the indexer reads the
    feed in ``(txid, change_id)`` order only below the oldest transaction still running (its
    horizon), so a row committed late is never skipped (``services.rankings.feed``).
    """

    __tablename__ = "ranking_changes"
    change_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    category: Mapped[IdRef]
    athlete_id: Mapped[IdRef]
    created_at: Mapped[DbNow]
    txid: Mapped[int] = mapped_column(BigInteger, server_default=text("(pg_current_xact_id()::text)::bigint"))
    __table_args__ = (Index(None, "txid", "change_id"),)


class RankingRequest(Base):
    """A category whose ranking list must be recomputed (its awards changed). Insert-only for the
    projector, so no member waits on another; the rankings stage coalesces them per category."""

    __tablename__ = "ranking_requests"
    request_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    category: Mapped[IdRef]
    requested_at: Mapped[DbNow]
    __table_args__ = (Index(None, "category"),)


class FeedPosition(Base):
    """How far a reader of the ranking change feed got: every row up to ``(txid, change_id)``."""

    __tablename__ = "feed_positions"
    reader: Mapped[str] = mapped_column(String(64), primary_key=True)
    txid: Mapped[int] = mapped_column(BigInteger)
    change_id: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[DbNow]


class ConsumerPosition(Base):
    """Position of a consumer in a log: Kafka (group, topic, partition) or the ranking outbox."""

    __tablename__ = "consumer_positions"
    consumer_group: Mapped[str] = mapped_column(String(128), primary_key=True)
    topic: Mapped[str] = mapped_column(String(128), primary_key=True)
    partition: Mapped[int] = mapped_column(Integer, primary_key=True)
    next_offset: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[DbNow]


class ConsumerMember(Base):
    """Heartbeat and effective-config fingerprint of each consumer-group member (drift detection)."""

    __tablename__ = "consumer_members"
    consumer_group: Mapped[str] = mapped_column(String(128), primary_key=True)
    member_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    host: Mapped[str] = mapped_column(Text)
    pid: Mapped[int] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String(64))
    config: Mapped[dict[str, Any]] = mapped_column(JSONB)
    assigned: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    lag: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    started_at: Mapped[DbNow]
    heartbeat_at: Mapped[DbNow]


class ApiToken(Base):
    __tablename__ = "api_tokens"
    token_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    name: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    tournaments: Mapped[list[str]] = mapped_column(ARRAY(String(64)), server_default="{}")
    created_at: Mapped[DbNow]
    revoked_at: Mapped[dt.datetime | None] = mapped_column(TS)
    __table_args__ = (CheckConstraint("role in ('referee','ops','admin')", name="role"),)


class ReindexJob(Base):
    __tablename__ = "reindex_jobs"
    job_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    index_name: Mapped[str | None] = mapped_column(String(128))
    total: Mapped[int] = mapped_column(BigInteger, server_default="0")
    done: Mapped[int] = mapped_column(BigInteger, server_default="0")
    caught_up: Mapped[int] = mapped_column(BigInteger, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[DbNow]
    finished_at: Mapped[dt.datetime | None] = mapped_column(TS)


class AdminAction(Base):
    """Audit trail of admin actions with ranking effects (who, when, why, what changed)."""

    __tablename__ = "admin_actions"
    action_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    action: Mapped[str] = mapped_column(String(32))
    tournament_id: Mapped[IdRef]
    token_id: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    at: Mapped[DbNow]
    __table_args__ = (Index(None, "tournament_id", "at"),)


metadata = Base.metadata
