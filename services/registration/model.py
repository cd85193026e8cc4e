"""The registration file (JSON) and its validation. Every problem is reported at once; nothing partial."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from typing import Annotated, Literal

import iso3166
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError
from pydantic.json_schema import JsonDict

from services.core.domain.brackets import Repechage, ThirdPlace
from services.core.domain.ids import ID_MAX_LENGTH, SLUG_PATTERN, TEXT_PATTERN
from services.registration.brackets import (
    BRACKET_FIELDS,
    BRACKET_FORMATS,
    BracketPlan,
    ScheduledBout,
    bracket_athletes,
    bracket_plan,
    stored_formats,
)

MAX_ID_LENGTH = ID_MAX_LENGTH
Text = Annotated[str, StringConstraints(pattern=TEXT_PATTERN)]
MAX_BOUT_ORDER = 2**31 - 1  # bouts.bout_order is a 32-bit integer (a larger order was a 500)
Slug = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_LENGTH, pattern=SLUG_PATTERN)]
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
"""An entry of the legacy ``formats`` list (a division with it is round robin)."""
DivisionFormat = Literal["round_robin", "elimination", "pools_then_elimination"]
MAX_BRACKET = 256  # athletes (or draw positions) of one bracket: bounds the work of one request
PoolId = Annotated[str, StringConstraints(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")]


def _default_formats() -> list[Format]:
    return ["round_robin"]


def _choices(enum: type[Repechage] | type[ThirdPlace]) -> JsonDict:
    # Documented in the schema; the values are checked by the bracket domain (format_from_dict).
    return {"enum": [e.value for e in enum]}


class PoolIn(_Strict):
    pool_id: PoolId
    athletes: list[AthleteId] = Field(max_length=MAX_BRACKET)


class DivisionBody(_Strict):
    """A division without its id. Round robin: ``athletes`` and ``bouts``. A bracket (SPEC §7):
    ``repechage``, ``third_place``, ``advance``, ``seeds`` or ``draw`` (elimination) or ``pools``
    (pools_then_elimination), ``mat``; its entries are the bracket's athletes (``athletes``, when
    given, must name exactly them) and its bouts come from the draw. See services/registration/brackets.py."""

    name: Text
    category: Slug
    format: DivisionFormat | None = Field(default=None, description="round_robin when not given")
    formats: list[Format] = Field(
        default_factory=_default_formats,
        description="Legacy list: a division that gives only formats is round robin",
    )
    athletes: list[AthleteId] | None = None
    # Either explicit bouts, or "round_robin" to schedule every pair once.
    bouts: list[BoutIn] | Literal["round_robin"] = "round_robin"
    repechage: str | None = Field(default=None, json_schema_extra=_choices(Repechage))
    third_place: str | None = Field(default=None, json_schema_extra=_choices(ThirdPlace))
    # Bounded for the transport (a JSON integer past 64 bits was a 500); ``advance >= 1`` is the domain's.
    advance: int | None = Field(default=None, ge=0, le=MAX_BRACKET)
    seeds: list[AthleteId] | None = Field(
        default=None, max_length=MAX_BRACKET, description="elimination: athletes in seed order"
    )
    draw: list[AthleteId | None] | None = Field(
        default=None,
        max_length=MAX_BRACKET,
        description="elimination: the first-round positions from the top, null for a bye",
    )
    pools: list[PoolIn] | None = Field(default=None, max_length=64)
    mat: int | None = Field(default=None, ge=1, le=100, description="the mat of a bracket division's bouts (1)")

    @property
    def kind(self) -> str:
        return self.format or "round_robin"

    @property
    def bracket(self) -> bool:
        return self.kind in BRACKET_FORMATS

    def entrants(self) -> list[str]:
        """The division's entries: ``athletes``, or the bracket's athletes when not given."""
        return list(self.athletes) if self.athletes is not None else bracket_athletes(self)


class DivisionIn(DivisionBody):
    division_id: Slug


class TournamentBody(_Strict):
    """A tournament's own fields (without its id and divisions)."""

    name: Text
    tier: Literal["world", "continental", "national", "open"]
    start_date: IsoDate
    end_date: IsoDate
    status: Literal["scheduled", "live", "finalized"] = "scheduled"
    ruleset: Text = "combat-default"


class TournamentIn(TournamentBody):
    tournament_id: Slug
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


def bracket_plans(reg: RegistrationFile) -> dict[tuple[str, str], BracketPlan]:
    """Each bracket division's plan (the file must be valid: see parse_registration)."""
    plans: dict[tuple[str, str], BracketPlan] = {}
    for t in reg.tournaments:
        for d in t.divisions:
            if d.bracket:
                plan, problems = bracket_plan(t.tournament_id, d)
                if plan is None:
                    raise RegistrationError(problems)
                plans[(t.tournament_id, d.division_id)] = plan
    return plans


def scheduled_bouts(tournament_id: str, division: DivisionIn, plan: BracketPlan | None = None) -> list[ScheduledBout]:
    """Every bout the division schedules: its bracket plan's, its listed bouts or its round robin."""
    if plan is not None:
        return plan.bouts
    bouts = (
        division.bouts
        if isinstance(division.bouts, list)
        else round_robin_bouts(tournament_id, division.division_id, division.entrants())
    )
    return [ScheduledBout(b.bout_id, b.red, b.blue, b.mat, b.order) for b in bouts]


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
            problems += _division_checks(where, t.tournament_id, d, athletes, bout_ids)
    return problems


def _format_problems(d: DivisionIn) -> list[str]:
    """``format`` and the legacy ``formats`` agree; a field goes with its format."""
    problems: list[str] = []
    if d.format is None and "round_robin" not in d.formats:
        problems.append("format round_robin is required")
    if d.format is not None and "formats" in d.model_fields_set and list(d.formats) != stored_formats(d):
        problems.append(f"formats is the legacy list; with format {d.format} give format alone")
    if not d.bracket:
        given = [f for f in BRACKET_FIELDS if getattr(d, f) is not None]
        problems += [f"{f} applies only to formats elimination and pools_then_elimination" for f in given]
        if d.athletes is None:
            problems.append("athletes is required for a round_robin division")
    return problems


def _division_checks(where: str, t_id: str, d: DivisionIn, athletes: set[str], bout_ids: set[str]) -> list[str]:
    plan, own = bracket_plan(t_id, d) if d.bracket else (None, [])
    problems = [f"{where}: {p}" for p in _division_problems(d, own, athletes)]
    if d.bracket and plan is None:
        return problems
    if not isinstance(d.bouts, list) and not d.bracket:
        # Generated ids are "{t}-{d}-NNN": long slugs would overflow the 64-character bout id.
        pairs = len(d.entrants()) * (len(d.entrants()) - 1) // 2
        longest = f"{t_id}-{d.division_id}-{pairs:03d}"
        if len(longest) > MAX_ID_LENGTH:
            problems.append(
                f"{where}: round-robin bout ids like {longest!r} would exceed {MAX_ID_LENGTH} characters; "
                "list the bouts with shorter ids"
            )
            return problems
    entered = set(d.entrants())
    for b in scheduled_bouts(t_id, d, plan):
        at = f"{where} bout {b.bout_id}"
        if b.bout_id in bout_ids:
            problems.append(f"{at}: duplicate bout_id")
        bout_ids.add(b.bout_id)
        if b.red == b.blue and plan is None:
            problems.append(f"{at}: athlete {b.red} cannot fight themself")
        for side in () if plan else (b.red, b.blue):  # a bracket's bouts are of its entrants
            if side not in athletes:
                problems.append(f"{at}: unknown athlete {side}")
            elif side not in entered:
                problems.append(f"{at}: athlete {side} is not entered in the division")
    return problems


def _division_problems(d: DivisionIn, bracket_problems: list[str], athletes: set[str]) -> list[str]:
    """The division's own problems: its format and fields, its bracket, its entries."""
    problems = [*_format_problems(d), *bracket_problems]
    entrants = d.entrants()
    if len(set(entrants)) != len(entrants):
        problems.append("an athlete is entered twice")
    problems += [f"unknown athlete {a_id}" for a_id in entrants if a_id not in athletes]
    return problems
