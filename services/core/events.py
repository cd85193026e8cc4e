"""The wire format of topic ``match-events`` (SPEC §5).

Every event carries ``type`` and ``schema_version`` from message one. Decoding is strict:
anything that does not match is a :class:`PoisonMessage` and goes to the DLQ with its reason.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

import msgspec

from services.core.domain.codec import result_from_fields
from services.core.domain.ids import ID_MAX_LENGTH, SLUG_PATTERN
from services.core.domain.results import (
    BoutResult,
    BoutVoid,
    InvalidResult,
    Method,
    Revision,
    Score,
    Winner,
    check_result_fields,
)

SCHEMA_VERSION = 1
SUPPORTED_SCHEMA_VERSIONS = frozenset({1})
EVENT_NAMESPACE = uuid.UUID("6c1b3f0e-5d43-4b8e-9a51-3f7d0c2a9b17")

Slug = Annotated[str, msgspec.Meta(min_length=1, max_length=ID_MAX_LENGTH, pattern=SLUG_PATTERN)]
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=ID_MAX_LENGTH)]
Points = Annotated[int, msgspec.Meta(ge=0, le=999)]
RevisionNo = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]


class PoisonMessage(Exception):
    """A message that cannot be handled; ``reason`` is a short machine-readable class."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class ScorePayload(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    red: Points
    blue: Points


class ResultPayload(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    winner: Winner
    method: Method
    score: ScorePayload
    duration_s: Annotated[int, msgspec.Meta(ge=0, le=86_400)] | None = None
    referee_id: Id | None = None


class _Envelope(msgspec.Struct, forbid_unknown_fields=True, frozen=True, tag_field="type"):
    schema_version: int
    event_id: uuid.UUID
    occurred_at: datetime
    tournament_id: Slug
    division_id: Slug


class ResultRecorded(_Envelope, frozen=True, omit_defaults=True, tag="result_recorded"):
    """``red_athlete_id``/``blue_athlete_id``: the athletes a bracket bout was fought between (SPEC
    §7), filled by the intake from the slots; absent for a round-robin bout (and left out of the
    encoded event then, so a round-robin event is byte for byte what it was)."""

    bout_id: Id
    revision: RevisionNo
    result: ResultPayload
    red_athlete_id: Id | None = None
    blue_athlete_id: Id | None = None

    def to_domain(self) -> BoutResult:
        return result_from_fields(self.bout_id, self.revision, self.result)

    @property
    def athletes(self) -> tuple[str, str] | None:
        """(red, blue) of a bracket result, None for a round-robin one."""
        if self.red_athlete_id is None or self.blue_athlete_id is None:
            return None
        return self.red_athlete_id, self.blue_athlete_id


class ResultVoided(_Envelope, frozen=True, tag="result_voided"):
    bout_id: Id
    revision: RevisionNo

    def to_domain(self) -> BoutVoid:
        return BoutVoid(bout_id=self.bout_id, revision=self.revision)


class TournamentFinalized(_Envelope, frozen=True, tag="tournament_finalized"):
    pass


MatchEvent = ResultRecorded | ResultVoided | TournamentFinalized

_decoder = msgspec.json.Decoder(MatchEvent)
_encoder = msgspec.json.Encoder()
_KNOWN_TYPES = frozenset({"result_recorded", "result_voided", "tournament_finalized"})


class _Probe(msgspec.Struct):
    type: str | None = None
    schema_version: int | None = None


_probe = msgspec.json.Decoder(_Probe)


def event_id_for(bout_id: str, revision: int, kind: str = "result") -> uuid.UUID:
    """Deterministic id: a retry of the same (bout, revision) carries the same id."""
    return uuid.uuid5(EVENT_NAMESPACE, f"{kind}:{bout_id}:{revision}")


def partition_key(tournament_id: str, division_id: str) -> str:
    return f"{tournament_id}:{division_id}"


def now_utc() -> datetime:
    return datetime.now(UTC)


def result_recorded(
    tournament_id: str,
    division_id: str,
    result: BoutResult,
    occurred_at: datetime,
    athletes: tuple[str, str] | None = None,
) -> ResultRecorded:
    """``athletes``: (red, blue) of a bracket bout as its slots stand when the post is accepted."""
    red, blue = athletes if athletes is not None else (None, None)
    return ResultRecorded(
        schema_version=SCHEMA_VERSION,
        event_id=event_id_for(result.bout_id, result.revision),
        occurred_at=occurred_at,
        tournament_id=tournament_id,
        division_id=division_id,
        bout_id=result.bout_id,
        revision=result.revision,
        result=ResultPayload(
            winner=result.winner,
            method=result.method,
            score=ScorePayload(result.score.red, result.score.blue),
            duration_s=result.duration_s,
            referee_id=result.referee_id,
        ),
        red_athlete_id=red,
        blue_athlete_id=blue,
    )


def result_voided(tournament_id: str, division_id: str, void: BoutVoid, occurred_at: datetime) -> ResultVoided:
    return ResultVoided(
        schema_version=SCHEMA_VERSION,
        event_id=event_id_for(void.bout_id, void.revision, "void"),
        occurred_at=occurred_at,
        tournament_id=tournament_id,
        division_id=division_id,
        bout_id=void.bout_id,
        revision=void.revision,
    )


def tournament_finalized(tournament_id: str, division_id: str, occurred_at: datetime) -> TournamentFinalized:
    """One per division, so each division's partition sees its own finalize in order."""
    return TournamentFinalized(
        schema_version=SCHEMA_VERSION,
        event_id=uuid.uuid5(EVENT_NAMESPACE, f"finalize:{tournament_id}:{division_id}"),
        occurred_at=occurred_at,
        tournament_id=tournament_id,
        division_id=division_id,
    )


def encode(event: MatchEvent) -> bytes:
    return _encoder.encode(event)


def decode(value: bytes | None) -> MatchEvent:
    """Decode and validate one message value, or raise PoisonMessage naming why."""
    if value is None:
        raise PoisonMessage("empty_value", "message has no value")
    try:
        event = _decoder.decode(value)
    except msgspec.DecodeError as exc:
        raise _classify_decode_error(value, exc) from None
    if event.schema_version not in SUPPORTED_SCHEMA_VERSIONS:
        raise PoisonMessage("unknown_schema_version", f"schema_version {event.schema_version} is not supported")
    if event.occurred_at.tzinfo is None:
        raise PoisonMessage("invalid_event", "occurred_at must carry a UTC offset")
    if isinstance(event, ResultRecorded):
        r = event.result
        try:
            check_result_fields(r.winner, r.method, Score(r.score.red, r.score.blue), event.revision)
        except InvalidResult as exc:
            raise PoisonMessage("invalid_result", str(exc)) from None
        if (event.red_athlete_id is None) != (event.blue_athlete_id is None) or (
            event.red_athlete_id is not None and event.red_athlete_id == event.blue_athlete_id
        ):
            raise PoisonMessage("invalid_result", "a bracket result names two different athletes, red and blue")
    return event


def _classify_decode_error(value: bytes, exc: msgspec.DecodeError) -> PoisonMessage:
    try:
        probe = _probe.decode(value)
    except msgspec.DecodeError:
        return PoisonMessage("not_json", f"value is not a JSON object: {exc}")
    if probe.type not in _KNOWN_TYPES:
        return PoisonMessage("unknown_type", f"unknown event type {probe.type!r}")
    if probe.schema_version is not None and probe.schema_version not in SUPPORTED_SCHEMA_VERSIONS:
        return PoisonMessage("unknown_schema_version", f"schema_version {probe.schema_version} is not supported")
    return PoisonMessage("invalid_event", str(exc))


def to_revision(event: ResultRecorded | ResultVoided) -> Revision:
    return event.to_domain()


EventType = Literal["result_recorded", "result_voided", "tournament_finalized"]
