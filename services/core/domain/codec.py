"""The stored form of a revision (``results.kind`` + ``results.payload``), encoded and decoded here only.

A revision is stored as its kind, ``result`` or ``void``, and a canonical payload: for a result the
event's result object ``{"winner", "method", "score": {"red", "blue"}, "duration_s", "referee_id"}``,
for a void ``{}``. A bracket bout's result also carries the two athletes it was fought between,
``red_athlete_id`` and ``blue_athlete_id`` (SPEC §7); a round-robin result has neither key, so its
stored form is what it always was. The canonical payload is the identity of a (bout, revision): two submissions are
duplicates exactly when their stored forms are equal (SPEC §6).

Decoding is strict: a result payload needs a winner, a method and a score with both sides (a missing
score is not read as 0:0, it makes the payload unreadable). The result fields may sit at the top level
or under ``result`` (the event's layout); the athletes sit at the top level in both. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, NamedTuple, Protocol, TypeVar

from services.core.domain.brackets.fought import BracketRevision, FoughtResult
from services.core.domain.results import BoutResult, BoutVoid, Method, Revision, Score, Winner

RESULT = "result"
VOID = "void"
RED_ATHLETE = "red_athlete_id"
BLUE_ATHLETE = "blue_athlete_id"

Payload = dict[str, Any]
_E = TypeVar("_E", bound=StrEnum)


class StoredRevision(NamedTuple):
    """A stored (or planned) revision: ``kind`` result|void and its canonical payload ({} for a void)."""

    kind: str
    payload: Payload


class UndecodablePayload(ValueError):
    """A stored revision whose kind or payload this codec cannot read."""


class _ScoreFields(Protocol):
    @property
    def red(self) -> int: ...

    @property
    def blue(self) -> int: ...


class ResultFields(Protocol):
    """A result's fields: a domain ``BoutResult`` or an event's result object."""

    @property
    def winner(self) -> Winner: ...

    @property
    def method(self) -> Method: ...

    @property
    def score(self) -> _ScoreFields: ...

    @property
    def duration_s(self) -> int | None: ...

    @property
    def referee_id(self) -> str | None: ...


def result_from_fields(bout_id: str, revision: int, fields: ResultFields) -> BoutResult:
    """The domain value of result ``revision`` of ``bout_id`` from its fields (an event's result
    object or a posted result)."""
    score = Score(fields.score.red, fields.score.blue)
    return BoutResult(bout_id, revision, fields.winner, fields.method, score, fields.duration_s, fields.referee_id)


def encode_revision(revision: Revision) -> StoredRevision:
    """The stored form of ``revision`` (its bout and revision number are the row's key, not payload)."""
    if isinstance(revision, BoutVoid):
        return StoredRevision(VOID, {})
    return encode_result(revision)


def encode_result(result: ResultFields, red: str | None = None, blue: str | None = None) -> StoredRevision:
    """The stored form of a result revision from its fields (the projector encodes an event's result
    object without building the domain value first); ``red``/``blue``: a bracket bout's athletes."""
    payload: Payload = {
        # ``_value_``, not ``.value``: the property lookup was most of this function's time.
        "winner": result.winner._value_,
        "method": result.method._value_,
        "score": {"red": result.score.red, "blue": result.score.blue},
        "duration_s": result.duration_s,
        "referee_id": result.referee_id,
    }
    if red is not None or blue is not None:
        payload[RED_ATHLETE] = red
        payload[BLUE_ATHLETE] = blue
    return StoredRevision(RESULT, payload)


def encode_bracket_revision(revision: BracketRevision) -> StoredRevision:
    """The stored form of a bracket revision (a result with the athletes it was fought between, or a void)."""
    if isinstance(revision, BoutVoid):
        return StoredRevision(VOID, {})
    return encode_result(revision.result, revision.red, revision.blue)


def athletes_of(payload: Mapping[str, Any]) -> tuple[str, str] | None:
    """The (red, blue) athletes a stored or posted payload names, or None when it names no two."""
    red, blue = payload.get(RED_ATHLETE), payload.get(BLUE_ATHLETE)
    if isinstance(red, str) and isinstance(blue, str):
        return red, blue
    return None


def decode_bracket_revision(
    bout_id: str, revision: int, kind: str, payload: Mapping[str, Any]
) -> BracketRevision | BoutResult:
    """A stored revision of a bracket bout: a FoughtResult when it names its athletes, a void, or a
    bare BoutResult (a result without athletes, which no bracket position can count); raises
    UndecodablePayload."""
    decoded = decode_revision(bout_id, revision, kind, payload)
    pair = athletes_of(payload) if isinstance(decoded, BoutResult) else None
    if pair is None or not isinstance(decoded, BoutResult):
        return decoded
    return FoughtResult(decoded, *pair)


def decode_revision(bout_id: str, revision: int, kind: str, payload: Mapping[str, Any]) -> Revision:
    """The domain value of a stored revision; raises UndecodablePayload when it cannot be read."""
    if kind == VOID:
        return BoutVoid(bout_id=bout_id, revision=revision)
    if kind != RESULT:
        raise UndecodablePayload(f"unknown revision kind {kind!r}")
    fields = payload.get("result", payload)
    if not isinstance(fields, Mapping):
        raise UndecodablePayload("the result payload is not an object")
    return BoutResult(
        bout_id=bout_id,
        revision=revision,
        winner=_enum(Winner, fields, "winner"),
        method=_enum(Method, fields, "method"),
        score=_score(fields.get("score")),
        duration_s=_optional_int(fields, "duration_s"),
        referee_id=_optional_str(fields, "referee_id"),
    )


def _enum(enum: type[_E], fields: Mapping[str, Any], name: str) -> _E:
    try:
        value = fields[name]
    except KeyError:
        raise UndecodablePayload(f"the result payload has no {name!r}") from None
    # The member map first (a stored payload's plain string): the enum call was most of a decode's time.
    member: _E | None = enum._value2member_map_.get(value) if isinstance(value, str) else None  # type: ignore[assignment]
    if member is not None:
        return member
    try:
        return enum(value)
    except ValueError:
        raise UndecodablePayload(f"{name} {value!r} is not one of {[m.value for m in enum]}") from None


def _score(raw: Any) -> Score:
    if not isinstance(raw, Mapping):
        raise UndecodablePayload("the result payload needs a score object with red and blue")
    red, blue = raw.get("red"), raw.get("blue")
    if not (isinstance(red, int) and isinstance(blue, int)) or isinstance(red, bool) or isinstance(blue, bool):
        raise UndecodablePayload("score.red and score.blue must be integers")
    return Score(red, blue)


def _optional_int(fields: Mapping[str, Any], name: str) -> int | None:
    value = fields.get(name)
    if value is None or _is_int(value):
        return value
    raise UndecodablePayload(f"{name} must be an integer or null")


def _optional_str(fields: Mapping[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if value is None or isinstance(value, str):
        return value
    raise UndecodablePayload(f"{name} must be a string or null")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
