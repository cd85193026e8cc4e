"""The registration file (JSON) and its validation. Every problem is reported at once; nothing partial."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from typing import Annotated, Literal

import iso3166
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError

MAX_ID_LENGTH = 64  # the id columns are varchar(64)
# PostgreSQL text cannot hold NUL: a name with one was a 500 on write (psycopg DataError).
TEXT_PATTERN = r"^[^\x00]*$"
Text = Annotated[str, StringConstraints(pattern=TEXT_PATTERN)]
MAX_BOUT_ORDER = 2**31 - 1  # bouts.bout_order is a 32-bit integer (a larger order was a 500)
Slug = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_LENGTH, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
AthleteId = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_ID_LENGTH, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
]

_FULL_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _full_date(value: object) -> object:
    """Only an RFC 3339 full-date string (what the schema says); lax parsing read 0 or "0" as 1970-01-01."""
    if isinstance(value, dt.date) or (isinstance(value, str) and _FULL_DATE.fullmatch(value)):
        return value
    raise ValueError("a date must be a string YYYY-MM-DD")


# Field-level lax so a JSON string may become a date; the validator above refuses every other input.
IsoDate = Annotated[dt.date, Field(strict=False), BeforeValidator(_full_date)]


class _Strict(BaseModel):
    # strict: no coercions the schema does not describe ("3" or true for an integer, 0 for a date).
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)


class AthleteIn(_Strict):
    athlete_id: AthleteId
    full_name: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=TEXT_PATTERN)]
    country: Annotated[str, StringConstraints(min_length=3, max_length=3)]
    club: Text | None = None


class BoutIn(_Strict):
    bout_id: AthleteId
    red: AthleteId
    blue: AthleteId
    mat: int = Field(default=1, ge=1, le=100)
    order: int = Field(default=0, ge=0, le=MAX_BOUT_ORDER)


Format = Literal["round_robin", "elimination"]


def _default_formats() -> list[Format]:
    return ["round_robin"]


class DivisionIn(_Strict):
    division_id: Slug
    name: Text
    category: Slug
    formats: list[Format] = Field(default_factory=_default_formats)
    athletes: list[AthleteId]
    # Either explicit bouts, or "round_robin" to schedule every pair once.
    bouts: list[BoutIn] | Literal["round_robin"] = "round_robin"


class TournamentIn(_Strict):
    tournament_id: Slug
    name: Text
    tier: Literal["world", "continental", "national", "open"]
    start_date: IsoDate
    end_date: IsoDate
    status: Literal["scheduled", "live", "finalized"] = "scheduled"
    ruleset: Text = "combat-default"
    divisions: list[DivisionIn]


class RegistrationFile(_Strict):
    athletes: list[AthleteIn] = Field(default_factory=list)
    tournaments: list[TournamentIn] = Field(default_factory=list)


class RegistrationError(ValueError):
    """The file has problems; ``problems`` lists every one of them."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problem(s) in registration file:\n- " + "\n- ".join(problems))
        self.problems = problems


class RegistrationConflict(RegistrationError):
    """The file is valid but contradicts stored data that results depend on (a bout moved to another
    division, the athletes of a bout with results changed)."""


def round_robin_bouts(tournament_id: str, division_id: str, athletes: list[str]) -> list[BoutIn]:
    """Every pair once, in a stable order, ids ``{t}-{d}-{nnn}``."""
    pairs = list(itertools.combinations(athletes, 2))
    return [
        BoutIn(bout_id=f"{tournament_id}-{division_id}-{i:03d}", red=red, blue=blue, mat=1 + i % 2, order=i)
        for i, (red, blue) in enumerate(pairs, start=1)
    ]


def parse_registration(raw: bytes | str, known_athletes: set[str] | None = None) -> RegistrationFile:
    """Parse and validate; raise RegistrationError listing every problem.

    ``known_athletes`` are athletes already in the database, which bouts may reference.
    """
    try:
        reg = RegistrationFile.model_validate_json(raw)
    except ValidationError as exc:
        raise RegistrationError(
            [f"{'.'.join(str(p) for p in e['loc']) or '(file)'}: {e['msg']}" for e in exc.errors()]
        ) from None
    problems = _cross_checks(reg, known_athletes or set())
    if problems:
        raise RegistrationError(problems)
    return reg


def _cross_checks(reg: RegistrationFile, known: set[str]) -> list[str]:
    problems: list[str] = []
    athletes = set(known)
    seen: set[str] = set()
    for a in reg.athletes:
        if a.athlete_id in seen:
            problems.append(f"athlete {a.athlete_id}: duplicate athlete_id")
        seen.add(a.athlete_id)
        athletes.add(a.athlete_id)
        if a.country not in iso3166.countries_by_alpha3:
            problems.append(f"athlete {a.athlete_id}: country {a.country!r} is not an ISO 3166-1 alpha-3 code")
    tournaments: set[str] = set()
    bout_ids: set[str] = set()
    for t in reg.tournaments:
        if t.tournament_id in tournaments:
            problems.append(f"tournament {t.tournament_id}: duplicate tournament_id")
        tournaments.add(t.tournament_id)
        if t.end_date < t.start_date:
            problems.append(f"tournament {t.tournament_id}: end_date is before start_date")
        divisions: set[str] = set()
        for d in t.divisions:
            where = f"tournament {t.tournament_id} division {d.division_id}"
            if d.division_id in divisions:
                problems.append(f"{where}: duplicate division_id")
            divisions.add(d.division_id)
            if "round_robin" not in d.formats:
                problems.append(f"{where}: format round_robin is required")
            if len(set(d.athletes)) != len(d.athletes):
                problems.append(f"{where}: an athlete is entered twice")
            for a_id in d.athletes:
                if a_id not in athletes:
                    problems.append(f"{where}: unknown athlete {a_id}")
            entered = set(d.athletes)
            if not isinstance(d.bouts, list):
                # Generated ids are "{t}-{d}-NNN": long slugs would overflow the 64-character bout id.
                pairs = len(d.athletes) * (len(d.athletes) - 1) // 2
                longest = f"{t.tournament_id}-{d.division_id}-{pairs:03d}"
                if len(longest) > MAX_ID_LENGTH:
                    problems.append(
                        f"{where}: round-robin bout ids like {longest!r} would exceed {MAX_ID_LENGTH} characters; "
                        "list the bouts with shorter ids"
                    )
                    continue
            bouts = (
                d.bouts if isinstance(d.bouts, list) else round_robin_bouts(t.tournament_id, d.division_id, d.athletes)
            )
            for b in bouts:
                if b.bout_id in bout_ids:
                    problems.append(f"{where} bout {b.bout_id}: duplicate bout_id")
                bout_ids.add(b.bout_id)
                if b.red == b.blue:
                    problems.append(f"{where} bout {b.bout_id}: athlete {b.red} cannot fight themself")
                for side in (b.red, b.blue):
                    if side not in athletes:
                        problems.append(f"{where} bout {b.bout_id}: unknown athlete {side}")
                    elif side not in entered:
                        problems.append(f"{where} bout {b.bout_id}: athlete {side} is not entered in the division")
    return problems
