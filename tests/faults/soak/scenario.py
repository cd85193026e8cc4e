"""The soak's scenario, all from one seed: three tournaments of a season, the event stream produced
straight to the topic (results, corrections, voids, out-of-order revisions, exact retries,
conflicting payloads, re-produced blocks, poison messages) and the referees' HTTP script.

Each tournament also has two bracket divisions (SPEC §7), fought on the direct stream to their
finals: a judo bracket of 13 (byes, repechage) and a pools_then_elimination division, with
corrections that re-route downstream slots, voids, retries and results posted into open slots.

Each tournament's traffic spans its own slice of the production window (``window``, fractions of
it), overlapping the next one like a real season; the ops finalize it through the intake at
``finalize_at``, a little before its last events, so late corrections of a finalized tournament
are part of the run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from services.core import events
from services.core.domain.bracket_division import DivisionBracket
from services.core.domain.results import Bout, BoutResult, Method, Score, Winner
from services.core.domain.ruleset import COMBAT_DEFAULT
from tests.bracket_support import StreamRates, add_bracket_division, bracket_description, bracket_stream, pool_bouts
from tests.projector_support import Planned, Registration, generate_events, planned, random_result

SEED = 20261126


@dataclass(frozen=True, slots=True)
class TournamentPlan:
    tournament_id: str
    tier: str
    end_days_ago: int
    window: tuple[float, float]
    finalize_at: float


TOURNAMENTS = (
    TournamentPlan("soak-worlds", "world", 40, (0.0, 0.5), 0.45),
    TournamentPlan("soak-continental", "continental", 25, (0.25, 0.82), 0.78),
    TournamentPlan("soak-nationals", "national", 10, (0.5, 1.0), 1.0),
)
CATEGORIES = ("m-60kg", "m-66kg", "m-73kg", "m-81kg", "w-48kg", "w-52kg", "w-57kg", "w-63kg")
POOL = 40  # athletes per weight category; each tournament enters ENTRANTS of them
ENTRANTS = 30  # round robin: 435 bouts per division
HTTP_BOUTS_PER_DIVISION = 15  # bouts whose results come only through the intake HTTP API
DIRECT_EVENTS_PER_TOURNAMENT = 15_600  # before re-produced blocks and poison
REPRODUCED_BLOCKS = 20
REPRODUCED_BLOCK_SIZE = 50
POISON_PER_KIND = 50
HTTP_ACTIONS_PER_TOURNAMENT = 800
# The divisions the overlay poller watches (one per tournament).
POLLED = (("soak-worlds", "m-73kg"), ("soak-continental", "w-57kg"), ("soak-nationals", "m-81kg"))

# Bracket divisions per tournament: (suffix, category, format); athletes from the category's pool.
BRACKET_CATEGORIES = ("m-90kg", "w-70kg")
BRACKETS = (("judo", "m-90kg", "elimination"), ("pools", "w-70kg", "pools_then_elimination"))
BRACKET_ENTRANTS = 13  # judo: a 16-draw with 3 byes
POOL_SIZE, POOLS = 4, 3  # 3 pools of 4, 2 advance: an 8-draw with 2 byes
BRACKET_RATES = StreamRates(corrections=5, voids=2, early=2, pool_corrections=1)

POISON_KINDS = ("not_json", "unknown_type", "unknown_schema_version", "unknown_bout", "invalid_result")
BULK_HEADERS = (("producer-id", b"soak-bulk"), ("traceparent", b"00-" + b"a" * 32 + b"-" + b"b" * 16 + b"-01"))

_FIRST = ("Shōhei", "Zoë", "Łukasz", "Иван", "明", "محمد", "Søren", "José", "Ayşe", "Nino", "Thiago", "Aiko")
_LAST = ("Ōno", "Müller", "Kowalski", "Петров", "李", "علي", "Ødegård", "Nuñez", "Yılmaz", "Beridze", "Silva", "Abe")
_COUNTRIES = ("JPN", "GER", "POL", "RUS", "CHN", "EGY", "DEN", "ESP", "TUR", "GEO", "BRA", "FRA")


@dataclass(frozen=True, slots=True)
class Timed:
    """A message of the direct stream and when (fraction of the production window) to produce it."""

    at: float
    message: Planned
    kind: str  # "event", "reproduced" or "poison:<reason>"


HttpKind = Literal["result", "void", "finalize"]


@dataclass(frozen=True, slots=True)
class HttpAction:
    """One referee (or ops) request; ``repost`` marks an exact re-post of an earlier request."""

    at: float
    kind: HttpKind
    tournament_id: str
    bout_id: str = ""
    revision: int = 0
    body: dict[str, Any] = field(default_factory=dict)
    repost: bool = False


@dataclass
class Scenario:
    reg: Registration
    plans: dict[str, TournamentPlan]
    direct: list[Timed]
    http: list[HttpAction]
    http_bouts: set[str]
    today: dt.date
    brackets: dict[tuple[str, str], tuple[DivisionBracket, list[Bout]]]
    division_of: dict[str, tuple[str, str]] = field(init=False)

    def __post_init__(self) -> None:
        self.division_of = self.reg.bout_division()

    def division_category(self) -> dict[tuple[str, str], str]:
        return {(d["tournament_id"], d["division_id"]): str(d["category"]) for d in self.reg.divisions}

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for t in self.direct:
            out[t.kind] = out.get(t.kind, 0) + 1
        return dict(sorted(out.items()))


def build_scenario(seed: int = SEED, today: dt.date | None = None) -> Scenario:
    rng = random.Random(seed)
    today = today or dt.datetime.now(dt.UTC).date()
    reg = _registration(rng, today)
    brackets = _bracket_divisions(rng, reg)
    http_bouts = _pick_http_bouts(rng, reg, brackets)
    plans = {p.tournament_id: p for p in TOURNAMENTS}
    direct = _direct_stream(rng, reg, http_bouts, seed, brackets)
    http = _http_script(rng, reg, http_bouts)
    return Scenario(reg, plans, direct, http, http_bouts, today, brackets)


def _registration(rng: random.Random, today: dt.date) -> Registration:
    reg = Registration()
    pools: dict[str, list[str]] = {}
    for ci, category in enumerate(CATEGORIES + BRACKET_CATEGORIES):
        ids = [f"soak-{category}-{i:02d}" for i in range(POOL)]
        pools[category] = ids
        for i, athlete in enumerate(ids):
            reg.athletes.append(
                {
                    "athlete_id": athlete,
                    "full_name": f"{_FIRST[(i + ci) % len(_FIRST)]} {_LAST[(i * 7 + ci) % len(_LAST)]} {i}",
                    "country": _COUNTRIES[(i + 3 * ci) % len(_COUNTRIES)],
                    "club": None,
                }
            )
    for plan in TOURNAMENTS:
        end = today - dt.timedelta(days=plan.end_days_ago)
        reg.tournaments.append(
            {
                "tournament_id": plan.tournament_id,
                "name": plan.tournament_id.replace("-", " ").title(),
                "tier": plan.tier,
                "start_date": end - dt.timedelta(days=2),
                "end_date": end,
            }
        )
        for category in CATEGORIES:
            t, d = plan.tournament_id, category
            reg.divisions.append(
                {
                    "tournament_id": t,
                    "division_id": d,
                    "name": d,
                    "category": category,
                    "formats": ["round_robin"],
                    "format": "round_robin",
                    "bracket": None,
                }
            )
            entrants = sorted(rng.sample(pools[category], ENTRANTS))
            reg.entries += [{"tournament_id": t, "division_id": d, "athlete_id": a} for a in entrants]
            reg.add_round_robin(t, d, entrants, id_digits=3)
    return reg


def _bracket_divisions(
    rng: random.Random, reg: Registration
) -> dict[tuple[str, str], tuple[DivisionBracket, list[Bout]]]:
    """Each tournament's bracket divisions; ids carry the tournament (bracket bout ids are global)."""
    out: dict[tuple[str, str], tuple[DivisionBracket, list[Bout]]] = {}
    for plan in TOURNAMENTS:
        t = plan.tournament_id
        for suffix, category, fmt in BRACKETS:
            d = f"{t}-{suffix}-{category}"
            pool_ids = [f"soak-{category}-{i:02d}" for i in range(POOL)]
            if fmt == "elimination":
                bracket = bracket_description(fmt, repechage="judo", seeds=rng.sample(pool_ids, BRACKET_ENTRANTS))
            else:
                drawn = rng.sample(pool_ids, POOL_SIZE * POOLS)
                pools = [drawn[i * POOL_SIZE : (i + 1) * POOL_SIZE] for i in range(POOLS)]
                bracket = bracket_description(fmt, repechage="none", third_place="bronze_bout", pools=pools)
            spec = add_bracket_division(reg, t, d, bracket, category=category, name=f"{category} {suffix}")
            out[(t, d)] = (spec, pool_bouts(t, d, bracket))
    return out


def _bracket_stream(
    rng: random.Random, reg: Registration, brackets: dict[tuple[str, str], tuple[DivisionBracket, list[Bout]]]
) -> list[Timed]:
    """Every bracket division fought to its final over its tournament's window."""
    described = {(d["tournament_id"], d["division_id"]): d["bracket"] for d in reg.divisions if d.get("bracket")}
    plans = {p.tournament_id: p for p in TOURNAMENTS}
    out: list[Timed] = []
    for t, d in brackets:
        stream = bracket_stream(rng, t, d, described[(t, d)], rates=BRACKET_RATES)
        a, b = plans[t].window
        b = a + (b - a) * 0.95  # fought before the tournament's last events
        out += [
            Timed(a + (b - a) * j / len(stream), dataclasses.replace(planned(e), headers=BULK_HEADERS), "event")
            for j, e in enumerate(stream)
        ]
    return out


def _pick_http_bouts(
    rng: random.Random, reg: Registration, brackets: dict[tuple[str, str], tuple[DivisionBracket, list[Bout]]]
) -> set[str]:
    by_division: dict[tuple[str, str], list[str]] = {}
    for b in reg.bouts:
        if (b["tournament_id"], b["division_id"]) in brackets:
            continue  # bracket bouts are fought on the direct stream
        by_division.setdefault((b["tournament_id"], b["division_id"]), []).append(b["bout_id"])
    return {bout for bouts in by_division.values() for bout in rng.sample(bouts, HTTP_BOUTS_PER_DIVISION)}


def _sub_registration(reg: Registration, tournament_id: str, exclude: set[str]) -> Registration:
    """The tournament's round-robin divisions, without the ``exclude`` bouts."""
    divisions = [d for d in reg.divisions if d["tournament_id"] == tournament_id and not d.get("bracket")]
    keys = {d["division_id"] for d in divisions}
    return Registration(
        tournaments=[t for t in reg.tournaments if t["tournament_id"] == tournament_id],
        divisions=divisions,
        entries=[e for e in reg.entries if e["tournament_id"] == tournament_id and e["division_id"] in keys],
        bouts=[
            b
            for b in reg.bouts
            if b["tournament_id"] == tournament_id and b["division_id"] in keys and b["bout_id"] not in exclude
        ],
    )


def _direct_stream(
    rng: random.Random,
    reg: Registration,
    http_bouts: set[str],
    seed: int,
    brackets: dict[tuple[str, str], tuple[DivisionBracket, list[Bout]]],
) -> list[Timed]:
    stream: list[Timed] = _bracket_stream(rng, reg, brackets)
    for k, plan in enumerate(TOURNAMENTS):
        sub = _sub_registration(reg, plan.tournament_id, http_bouts)
        messages = generate_events(sub, DIRECT_EVENTS_PER_TOURNAMENT, seed=seed + k, duplicate_rate=0.06)
        a, b = plan.window
        n = len(messages)
        stream += [
            Timed(a + (b - a) * j / n, dataclasses.replace(m, headers=BULK_HEADERS), "event")
            for j, m in enumerate(messages)
        ]
    stream += _poison(rng, reg, brackets)
    stream.sort(key=lambda t: t.at)
    # Re-produced blocks: a producer replaying a stretch it had already sent (same keys and values).
    for _ in range(REPRODUCED_BLOCKS):
        at = len(stream) - 1 - rng.randrange(len(stream) // 2)
        start = rng.randrange(at // 4, at - 4 * REPRODUCED_BLOCK_SIZE)
        block = [
            Timed(stream[at].at, t.message, "reproduced")
            for t in stream[start : start + REPRODUCED_BLOCK_SIZE]
            if t.kind == "event"
        ]
        stream[at:at] = block
    return stream


def _poison(
    rng: random.Random, reg: Registration, brackets: dict[tuple[str, str], tuple[DivisionBracket, list[Bout]]]
) -> list[Timed]:
    out: list[Timed] = []
    headers = (("producer-id", b"soak-poison"),)
    bouts = [b for b in reg.bouts if (b["tournament_id"], b["division_id"]) not in brackets]
    at_base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for kind in POISON_KINDS:
        for i in range(POISON_PER_KIND):
            b = rng.choice(bouts)
            t, d = str(b["tournament_id"]), str(b["division_id"])
            key = events.partition_key(t, d)
            valid = events.encode(
                events.result_recorded(
                    t, d, BoutResult(b["bout_id"], 500 + i, Winner.RED, Method.POINTS, Score(3, 1)), at_base
                )
            )
            if kind == "not_json":
                value = b"\x00\xffnot json {" + str(i).encode()
            elif kind == "unknown_type":
                doc = orjson.loads(valid)
                doc["type"] = "result_amended"
                doc["event_id"] = str(uuid.uuid4())
                value = orjson.dumps(doc)
            elif kind == "unknown_schema_version":
                doc = orjson.loads(valid)
                doc["schema_version"] = 2
                value = orjson.dumps(doc)
            elif kind == "unknown_bout":
                ghost = BoutResult(f"{t}-{d}-ghost-{i}", 1, Winner.BLUE, Method.KO, Score(0, 4))
                value = events.encode(events.result_recorded(t, d, ghost, at_base))
            else:  # invalid_result: winner and method disagree
                bad = BoutResult(b["bout_id"], 700 + i, Winner.RED, Method.DRAW, Score(1, 1))
                value = events.encode(events.result_recorded(t, d, bad, at_base))
            out.append(Timed(rng.uniform(0.02, 0.98), Planned(key, value, None, headers), f"poison:{kind}"))
    return out


def agreeing(result: BoutResult) -> BoutResult:
    """``result`` with its score made to agree with its method the way the intake demands
    (combat-default's score rules: a points or technical-superiority winner leads, a draw is level).

    The referees' HTTP script needs this: the intake answers 422 otherwise. The direct stream keeps
    ``random_result``'s scores as they are (an unequal draw, a points win from level): events already
    in Kafka are scored as they were accepted, never re-validated.
    """
    if not COMBAT_DEFAULT.score_violations(result.winner, result.method, result.score):
        return result
    red, blue = result.score.red, result.score.blue
    if result.winner is Winner.DRAW:
        return dataclasses.replace(result, score=Score(red, red))
    hi, lo = max(red, blue), min(red, blue)
    hi = max(hi, lo + 1)
    return dataclasses.replace(result, score=Score(hi, lo) if result.winner is Winner.RED else Score(lo, hi))


def http_result(rng: random.Random, bout: str, revision: int) -> BoutResult:
    return agreeing(random_result(rng, bout, revision))


def result_body(result: BoutResult) -> dict[str, Any]:
    body: dict[str, Any] = {
        "revision": result.revision,
        "winner": result.winner.value,
        "method": result.method.value,
        "score": {"red": result.score.red, "blue": result.score.blue},
    }
    if result.duration_s is not None:
        body["duration_s"] = result.duration_s
    if result.referee_id is not None:
        body["referee_id"] = result.referee_id
    return body


def _http_script(rng: random.Random, reg: Registration, http_bouts: set[str]) -> list[HttpAction]:
    """Per tournament: every HTTP bout's first result, then corrections, voids, reinstatements and
    exact re-posts (a referee retrying), spread over the tournament's window; then its finalize."""
    division_of = reg.bout_division()
    actions: list[HttpAction] = []
    for plan in TOURNAMENTS:
        bouts = sorted(b for b in http_bouts if division_of[b][0] == plan.tournament_id)
        rng.shuffle(bouts)
        latest: dict[str, HttpAction] = {}
        script: list[HttpAction] = []
        t = plan.tournament_id
        for bout in bouts:
            action = HttpAction(0.0, "result", t, bout, 1, result_body(http_result(rng, bout, 1)))
            latest[bout] = action
            script.append(action)
        while len(script) < HTTP_ACTIONS_PER_TOURNAMENT:
            bout = rng.choice(bouts)
            last = latest[bout]
            roll = rng.random()
            if roll < 0.25:
                script.append(dataclasses.replace(last, repost=True))
                continue
            revision = last.revision + 1
            if roll < 0.4 and last.kind == "result":
                action = HttpAction(0.0, "void", t, bout, revision, {"revision": revision})
            else:
                action = HttpAction(0.0, "result", t, bout, revision, result_body(http_result(rng, bout, revision)))
            latest[bout] = action
            script.append(action)
        a, b = plan.window
        n = len(script)
        actions += [dataclasses.replace(x, at=a + (b - a) * j / n) for j, x in enumerate(script)]
        actions.append(HttpAction(plan.finalize_at, "finalize", t))
    actions.sort(key=lambda x: (x.at, x.kind == "finalize"))
    return actions
