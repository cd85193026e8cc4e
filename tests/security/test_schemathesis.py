"""Schemathesis against both OpenAPI documents, every check on, on the apps served for real.

The intake and the read API run under uvicorn on the embedded stack with a seeded registration
(``tests.security.stack``). Every operation of both documents is fuzzed (examples, coverage and
fuzzing phases) and each generated request is sent as four identities: no token, a referee of
``sec-cup``, ops and admin. OpenAPI links drive two stateful runs: admin creates a tournament,
division or athlete and reads or replaces it; a referee posts a result, corrects it, voids it,
tries to finalize, and every accepted result is followed to the standings on the *read API* (a
cross-app link the documents cannot express, followed in ``after_call``).

Expected: no server error and no schema violation. Every built-in check is enabled, plus three of
ours: every error is problem+json, no response echoes the caller's token, and no role gets a
success it may not have (anonymous gets 401 or a refused body, nothing else). Where a built-in
check calls a documented, intentional behaviour a violation, ``_tolerated`` drops exactly that
failure and says why; no check and no operation is excluded.

The schemas are built from the apps' own ``openapi()`` at import time (schemathesis' lazy
``from_fixture`` breaks on pytest 9, which dropped ``Node._nodeid``); the first test checks the
served ``/openapi.json`` is that same document.

Bounded: deterministic generation (fixed seed, derandomized), a few examples per operation, short
stateful runs; the module runs in about 70 s on two cores.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx
import hypothesis
import orjson
import pytest
import schemathesis
from hypothesis.errors import FlakyStrategyDefinition
from schemathesis import Case, CheckContext, Response
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import Failure
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.schemas import BaseSchema

from services.core.http.problems import PROBLEM_MEDIA_TYPE
from services.embedded.waiting import wait_until
from tests.security.stack import D2, D_OTHER, T_OTHER, D, SecurityStack, T, bout_id, openapi_document

pytestmark = pytest.mark.timeout(240)

SEED = 20261126
IDENTITIES = ("anonymous", "referee", "ops", "admin")
MAX_EXAMPLES = {"intake": 40, "api": 20}
STATEFUL_SCENARIOS = 25
STATEFUL_STEPS = 8

BUILTIN_CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "positive_data_acceptance",
    "negative_data_rejection",
    "use_after_free",
    "ensure_resource_availability",
    "missing_required_header",
    "ignored_auth",
    "object_level_authorization",
    "unsupported_method",
    "allow_header_conformance",
)


# -- our own checks ------------------------------------------------------------------------------


def problem_details(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Every 4xx/5xx is RFC 9457 problem+json whose ``status`` is the response's."""
    if response.status_code < 400:
        return None
    media_type = response.headers.get("content-type", [""])[0].split(";")[0].strip()
    assert media_type == PROBLEM_MEDIA_TYPE, f"{response.status_code} served as {media_type!r}, not problem+json"
    body = orjson.loads(response.content)
    assert body["status"] == response.status_code, body
    assert body["type"].startswith("https://") and body["title"] and body["detail"], body
    return True


def token_not_echoed(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """The caller's token never comes back (no header or body reflects it)."""
    sent = response.request.headers.get("authorization", "")
    token = sent.partition(" ")[2].strip()
    if len(token) < 16:  # nothing worth protecting (absent, or a fuzzed scrap)
        return None
    assert token.encode() not in response.content, "the response body echoes the bearer token"
    assert all(token not in value for values in response.headers.values() for value in values), "header echo"
    return True


@dataclass(eq=False)  # hashable: schemathesis keeps checks in sets
class AuthorizationOracle:
    """A check: no response is a success unless the caller's role may do that; records what was seen.

    The caller is told apart by the token it sent (the stack issues one per role); anything else
    (no header, a fuzzed one) is anonymous.
    """

    tokens: dict[str, str]
    seen: dict[tuple[str, str], set[int]] = field(default_factory=dict)
    __name__ = "authorization_oracle"  # how schemathesis names a check in its reports

    def identity(self, response: Response) -> str:
        token = response.request.headers.get("authorization", "").partition(" ")[2].strip()
        return next((role for role, value in self.tokens.items() if value == token), "anonymous")

    def allowed(self, identity: str, case: Case) -> bool:
        path = case.operation.path
        if identity == "admin" or not case.operation.definition.raw.get("security"):
            return True
        if path.startswith("/v1/ops/") or path == "/v1/tournaments/{t}/finalize":
            return identity == "ops"
        if path in (_RESULTS, _VOID, _MAT_BOUTS):
            return identity == "referee" and case.path_parameters.get("t") == T
        return False  # the rest of the secured operations are admin's

    def __call__(self, ctx: CheckContext, response: Response, case: Case) -> bool | None:
        identity = self.identity(response)
        status = response.status_code
        label = f"{case.method.upper()} {case.operation.path}"
        self.seen.setdefault((label, identity), set()).add(status)
        if status < 300:
            assert self.allowed(identity, case), f"{identity} got {status} from {label}"
        routed = case.method.lower() == case.operation.method.lower()  # not an unexpected-method probe
        if identity == "anonymous" and routed and case.operation.definition.raw.get("security"):
            # Without a token: 401, or a body refused before anyone reads it (FastAPI parses the body
            # before running dependencies: too large, or one that cannot be parsed). Nothing else.
            assert status in (401, 413) or _unparsable_body(response), f"anonymous got {status} from {label}"
        return True


def _unparsable_body(response: Response) -> bool:
    """The shared handlers' 400 for a body that cannot be parsed (docs/problems.md)."""
    return response.status_code == 400 and _problem(response).get("type", "").endswith("/malformed-body")


def make_checks(oracle: AuthorizationOracle) -> list[Any]:
    return [problem_details, token_not_echoed, oracle]


# -- documented behaviours the built-in checks would call violations ------------------------------


_MISSING = object()


def _sent(body: Any, loc: list[str]) -> Any:
    """The value the request carried at a pydantic error ``loc`` (``["body", "score", "red"]``)."""
    value = body
    for part in loc[1:]:
        if "[" in part:  # a union branch label, e.g. "list[BoutIn]": not part of the document
            continue
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _union_branch(error: dict[str, Any]) -> bool:
    """An error pydantic reports for the other branch of a union, e.g. loc [..., "literal['round_robin']"]."""
    return any("[" in part for part in error.get("loc", [])) and error.get("type") == "literal_error"


def _whole_float_refused(error: dict[str, Any], body: Any) -> bool:
    """Integers are strict JSON integers: ``2.0`` is refused (tests/unit/test_intake_schemas.py), but
    JSON Schema 2020-12 counts 2.0 as an integer and has no keyword to say otherwise."""
    sent = _sent(body, error.get("loc", []))
    return error.get("type") == "int_type" and isinstance(sent, float) and sent.is_integer()


def _whitespace_stripped(error: dict[str, Any], body: Any) -> bool:
    """Registration strings are stripped before their length is checked (``str_strip_whitespace``:
    imports from spreadsheets carry stray blanks), so "  " is too short for a name of min length 1."""
    sent = _sent(body, error.get("loc", []))
    return str(error.get("type", "")).startswith("string_") and isinstance(sent, str) and sent != sent.strip()


def _documented_refusal(error: dict[str, Any], body: Any) -> bool:
    return _whole_float_refused(error, body) or _whitespace_stripped(error, body)


def _problem(response: Response) -> dict[str, Any]:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return {}
    return body if isinstance(body, dict) else {}


def _tolerated(failure: Failure, case: Case, response: Response) -> bool:
    """Failures that are the documented contract, each matched as narrowly as possible."""
    if not isinstance(failure, RejectedPositiveData):
        return False
    problem = _problem(response)
    operation = f"{case.method.upper()} {case.operation.path}"
    if response.status_code == 422 and problem.get("errors"):
        # Schema errors: tolerated only when each one is explained, at its own location, by one of the
        # two documented refusals (or is the other branch of a union one of them knocked out).
        errors = problem["errors"]
        return any(_documented_refusal(e, case.body) for e in errors) and all(
            _documented_refusal(e, case.body) or _union_branch(e) for e in errors
        )
    if (
        response.status_code == 422
        and operation == f"POST {_RESULTS}"
        and problem.get("type", "").endswith("/ruleset-violation")
        and problem.get("rule")
    ):
        # The tournament's ruleset constrains the score (a points win needs the winner ahead, a draw
        # level scores): a comparison of two fields JSON Schema cannot state. The 422 names the rule.
        return True
    if response.status_code == 422 and problem.get("problems") and "admin" in (case.operation.tags or []):
        # Registration rules that need the database or several records at once (ISO 3166 country,
        # end_date >= start_date, athletes registered and entered once, round_robin format present,
        # generated bout ids <= 64 characters): listed in the documented 422's ``problems``. A 422
        # with schema ``errors`` is never tolerated.
        return True
    # Documented 400s (OpenAPI lists them): whole-list reads need a category, country or q (a rule
    # across optional query parameters), and search_after must be a cursor this API returned; the
    # rankings page's `after` likewise (its 400 says so).
    if operation in ("GET /rankings", "GET /rankings/results"):
        return response.status_code == 400 and "not a cursor returned by this API" in problem.get("detail", "")
    return operation == "GET /v1/rankings" and response.status_code == 400


def filter_failure(context: Any, failure: Failure, case: Case, response: Response) -> bool:
    """Schemathesis hook: keep every failure that is not a documented behaviour."""
    return not _tolerated(failure, case, response)


# -- schemas ----------------------------------------------------------------------------------------


@dataclass
class Link:
    """An OpenAPI link added to the served document (FastAPI does not generate links)."""

    source: tuple[str, str, str]  # method, path, status
    name: str
    target: tuple[str, str]  # method, path
    parameters: dict[str, str] = field(default_factory=dict)


READ_API_LINKS = [
    Link(("post", "/v1/tournaments", "201"), "GetTournament", ("get", "/v1/tournaments/{tournament_id}"),
         {"tournament_id": "$request.body#/tournament_id"}),
    Link(("post", "/v1/tournaments", "201"), "GetTournamentStandings",
         ("get", "/v1/tournaments/{tournament_id}/standings"), {"tournament_id": "$request.body#/tournament_id"}),
    Link(("post", "/v1/tournaments", "201"), "ReplaceTournament", ("put", "/v1/tournaments/{tournament_id}"),
         {"tournament_id": "$request.body#/tournament_id"}),
    Link(("post", "/v1/tournaments", "201"), "AddDivision", ("post", "/v1/tournaments/{tournament_id}/divisions"),
         {"tournament_id": "$request.body#/tournament_id"}),
    Link(("put", "/v1/tournaments/{tournament_id}", "200"), "GetReplacedTournament",
         ("get", "/v1/tournaments/{tournament_id}"), {"tournament_id": "$request.path.tournament_id"}),
    Link(("post", "/v1/tournaments/{tournament_id}/divisions", "201"), "GetDivisionStandings",
         ("get", "/v1/tournaments/{tournament_id}/divisions/{division_id}/standings"),
         {"tournament_id": "$request.path.tournament_id", "division_id": "$request.body#/division_id"}),
    Link(("post", "/v1/tournaments/{tournament_id}/divisions", "201"), "GetDivisionConflicts",
         ("get", "/v1/tournaments/{tournament_id}/divisions/{division_id}/conflicts"),
         {"tournament_id": "$request.path.tournament_id", "division_id": "$request.body#/division_id"}),
    Link(("post", "/v1/tournaments/{tournament_id}/divisions", "201"), "GetDivisionOverlay",
         ("get", "/overlay/{tournament_id}/{division_id}"),
         {"tournament_id": "$request.path.tournament_id", "division_id": "$request.body#/division_id"}),
    Link(("post", "/v1/athletes", "201"), "ReplaceAthlete", ("put", "/v1/athletes/{athlete_id}"),
         {"athlete_id": "$request.body#/athlete_id"}),
    Link(("post", "/v1/ops/reindex", "202"), "GetReindexJob", ("get", "/v1/ops/reindex/{job_id}"),
         {"job_id": "$response.body#/job_id"}),
]  # fmt: skip

_RESULTS = "/v1/tournaments/{t}/bouts/{b}/results"
_VOID = "/v1/tournaments/{t}/bouts/{b}/void"
_MAT_BOUTS = "/v1/tournaments/{t}/mats/{mat}/bouts"  # the mat-table console reads with the referee token
_SAME_BOUT = {"t": "$request.path.t", "b": "$request.path.b"}
INTAKE_LINKS = [
    Link(("post", _RESULTS, "202"), "CorrectResult", ("post", _RESULTS), _SAME_BOUT),
    Link(("post", _RESULTS, "202"), "VoidResult", ("post", _VOID), _SAME_BOUT),
    Link(("post", _VOID, "202"), "ReinstateResult", ("post", _RESULTS), _SAME_BOUT),
    Link(("post", _RESULTS, "202"), "FinalizeTournament", ("post", "/v1/tournaments/{t}/finalize"),
         {"t": "$request.path.t"}),
]  # fmt: skip


def with_links(raw: dict[str, Any], links: list[Link]) -> dict[str, Any]:
    doc = copy.deepcopy(raw)
    for link in links:
        method, path, status = link.source
        target = doc["paths"][link.target[1]][link.target[0]]["operationId"]
        response = doc["paths"][path][method]["responses"][status]
        response.setdefault("links", {})[link.name] = {"operationId": target, "parameters": link.parameters}
    return doc


def seeded_ids() -> dict[str, dict[str, list[str]]]:
    """Registered identifiers, drawn for path parameters some of the time (the rest stays random)."""
    tournaments = [T, T_OTHER]
    divisions = [D, D2, D_OTHER]
    bouts = [bout_id(T, D, 1), bout_id(T, D, 2), bout_id(T, D2, 1), bout_id(T_OTHER, D_OTHER, 1)]
    athletes = [f"{T}-{D}-a01", f"{T}-{D}-a02", f"{T_OTHER}-{D_OTHER}-a01"]
    return {
        "tournaments": {"values": tournaments},
        "divisions": {"values": divisions},
        "bouts": {"values": bouts},
        "athletes": {"values": athletes},
        # Values registration bodies need to get past the cross-record rules some of the time.
        "countries": {"values": ["FRA", "JPN", "GEO", "BRA"]},
        "rulesets": {"values": ["combat-default"]},
        "dates": {"values": ["2026-11-26"]},
    }


def st_config(*, max_examples: int, id_probability: float) -> SchemathesisConfig:
    bind = {"probability": id_probability}
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "request-timeout": 10,
            # The SSE stream never ends by itself: read one event and hang up.
            "max-stream-events": 1,
            "generation": {
                "max-examples": max_examples,
                "deterministic": True,
                "database": "none",
                # No generated Authorization header: every request is sent as one of the identities
                # (a generated one would be overridden, and a case negated only there would then be
                # mislabelled). Bogus and malformed tokens are tests/security/test_authz.py's.
                "with-security-parameters": False,
            },
            "checks": {**{name: {"enabled": True} for name in BUILTIN_CHECKS}, "max_response_time": 10.0},
            # Only the links declared here (no inferred ones): the stateful runs follow what we name.
            "phases": {"stateful": {"max-steps": STATEFUL_STEPS, "inference": {"algorithms": []}}},
            "dictionaries": seeded_ids(),
            "parameters": {
                "path.t": {"dictionary": "tournaments", **bind},
                "path.tournament_id": {"dictionary": "tournaments", **bind},
                "path.division_id": {"dictionary": "divisions", **bind},
                "path.b": {"dictionary": "bouts", **bind},
                "path.bout_id": {"dictionary": "bouts", **bind},
                "path.athlete_id": {"dictionary": "athletes", **bind},
                "body.country": {"dictionary": "countries", **bind},
                "body.ruleset": {"dictionary": "rulesets", **bind},
                "body.start_date": {"dictionary": "dates", **bind},
                "body.end_date": {"dictionary": "dates", **bind},
            },
        }
    )


def load_schema(app: str, links: list[Link], *, max_examples: int = 10, id_probability: float = 0.5) -> BaseSchema:
    config = st_config(max_examples=max_examples, id_probability=id_probability)
    schema = schemathesis.openapi.from_dict(with_links(openapi_document(app), links), config=config)
    schema.hook(filter_failure)
    return schema


INTAKE = load_schema("intake", [], max_examples=MAX_EXAMPLES["intake"])
READ_API = load_schema("api", [], max_examples=MAX_EXAMPLES["api"])


@pytest.fixture(scope="module")
def oracle(stack: SecurityStack) -> AuthorizationOracle:
    return AuthorizationOracle(stack.tokens)


def call_as_every_identity(case: Case, base_url: str, stack: SecurityStack, oracle: AuthorizationOracle) -> None:
    """Send the case as each identity; every response must pass every check."""
    for identity in IDENTITIES:
        try:
            case.call_and_validate(
                base_url=base_url, headers=stack.bearer(identity), additional_checks=make_checks(oracle)
            )
        except AssertionError as exc:
            exc.add_note(f"identity: {identity}")
            raise


# -- every operation, every identity --------------------------------------------------------------


def test_served_documents_are_the_fuzzed_ones(stack: SecurityStack) -> None:
    for app, url in (("intake", stack.intake.url), ("api", stack.api.url)):
        served = httpx.get(f"{url}/openapi.json", timeout=10).raise_for_status().json()
        assert served == openapi_document(app), app


@INTAKE.parametrize()
def test_intake_conforms_to_its_openapi(case: Case, stack: SecurityStack, oracle: AuthorizationOracle) -> None:
    call_as_every_identity(case, stack.intake.url, stack, oracle)


@READ_API.parametrize()
def test_read_api_conforms_to_its_openapi(case: Case, stack: SecurityStack, oracle: AuthorizationOracle) -> None:
    call_as_every_identity(case, stack.api.url, stack, oracle)


def test_fuzzing_reached_the_core_logic(oracle: AuthorizationOracle) -> None:
    """The runs above got past authentication and the 404s, for the roles that may (not vacuous)."""
    if not oracle.seen:
        pytest.skip("run with the fuzzing tests above")

    def statuses(label: str, identity: str) -> set[int]:
        return oracle.seen.get((label, identity), set())

    assert 202 in statuses(f"POST {_RESULTS}", "referee"), oracle.seen
    assert 202 in statuses(f"POST {_VOID}", "admin"), oracle.seen
    assert 403 in statuses(f"POST {_RESULTS}", "ops"), oracle.seen
    assert 201 in statuses("POST /v1/athletes", "admin"), oracle.seen
    assert 200 in statuses("GET /v1/ops/audit", "ops"), oracle.seen
    assert 401 in statuses("POST /v1/athletes", "anonymous"), oracle.seen
    assert 403 in statuses("POST /v1/athletes", "ops"), oracle.seen


# -- stateful: the links ------------------------------------------------------------------------------


@dataclass
class Followed:
    """What a stateful run exercised (so a run that never got past 404s does not pass silently)."""

    statuses: dict[str, list[int]] = field(default_factory=dict)

    def add(self, case: Case, status: int) -> None:
        self.statuses.setdefault(f"{case.method.upper()} {case.operation.path}", []).append(status)

    def count(self, label: str, status: int) -> int:
        return self.statuses.get(label, []).count(status)

    def __repr__(self) -> str:
        return "; ".join(f"{k}: {dict(Counter(v))}" for k, v in sorted(self.statuses.items()))


_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_ATHLETE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_CREATED = {
    "/v1/tournaments": ("tournament_id", _SLUG),
    "/v1/tournaments/{tournament_id}/divisions": ("division_id", _SLUG),
    "/v1/athletes": ("athlete_id", _ATHLETE_ID),
}
_fresh = itertools.count(1)


def fresh_registration_ids(case: Case) -> None:
    """Give a created tournament, division or athlete an id never used before.

    Hypothesis picks the next rule from what earlier responses put in bundles; a generated id that
    an earlier scenario already created answers 409 instead of 201, and the run stops as flaky
    before it follows the links. Only a valid id is replaced, with another valid one.
    """
    created = _CREATED.get(case.operation.path)
    if case.method.upper() != "POST" or created is None or not isinstance(case.body, dict):
        return
    key, pattern = created
    if isinstance(case.body.get(key), str) and pattern.fullmatch(case.body[key]):
        case.body[key] = f"st{next(_fresh):05d}-{case.body[key]}"[:64]


@dataclass
class Target:
    """Where a state machine sends its requests, and as whom."""

    base_url: str
    headers: dict[str, str]


def wait_reindex_done(target: Target, status_url: str, timeout: float = 30.0) -> None:
    def done() -> bool:
        job = httpx.get(target.base_url + status_url, headers=target.headers, timeout=10).json()
        return job["state"] != "running"

    wait_until(done, timeout, "reindex job finished")


def run_state_machine(
    schema: BaseSchema,
    target: Target,
    followed: Followed,
    oracle: AuthorizationOracle,
    cross_app: tuple[BaseSchema, Target] | None = None,
) -> None:
    base = schema.as_state_machine()
    checks = make_checks(oracle)

    class Machine(base):  # type: ignore[misc, valid-type]
        def before_call(self, case: Case) -> None:
            super().before_call(case)
            fresh_registration_ids(case)

        def get_call_kwargs(self, case: Case) -> dict[str, Any]:
            return {"base_url": target.base_url, "headers": target.headers}

        def after_call(self, response: Response, case: Case) -> None:
            super().after_call(response, case)
            followed.add(case, response.status_code)
            if case.operation.path == "/v1/ops/reindex" and response.status_code == 202:
                # One reindex at a time (409 while one runs): let it finish, so the next step's answer
                # depends on the request and not on timing.
                wait_reindex_done(target, response.json()["status_url"])
            if cross_app is not None and response.status_code == 202 and case.operation.path in (_RESULTS, _VOID):
                # The cross-app link: a result accepted by the intake -> the standings on the read API.
                other, where = cross_app
                standings = other["/v1/tournaments/{tournament_id}/standings"]["GET"]
                follow = standings.Case(path_parameters={"tournament_id": case.path_parameters["t"]})
                answer = follow.call_and_validate(
                    base_url=where.base_url, headers=where.headers, additional_checks=checks
                )
                followed.add(follow, answer.status_code)

        def validate_response(
            self, response: Response, case: Case, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            super().validate_response(response, case, additional_checks=checks, **kwargs)

    settings = hypothesis.settings(
        schema.config.get_hypothesis_settings(phase="stateful"),
        max_examples=STATEFUL_SCENARIOS,
        # What schemathesis' own stateful runner uses: no shrinking (a replay meets a server whose
        # state moved on), no health checks (rules depend on responses).
        phases=[hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    # Rules are chosen from what earlier responses put in bundles; a later scenario replaying a prefix
    # against the changed server state (409 where there was a 201) makes Hypothesis stop generating.
    # Schemathesis' own runner ends the phase there too. Check failures are not this exception (one
    # that does not reproduce is a FlakyFailure, and is raised).
    with contextlib.suppress(FlakyStrategyDefinition):
        Machine.run(settings=settings)


def test_referee_result_then_correction_void_finalize_and_standings(
    stack: SecurityStack, oracle: AuthorizationOracle
) -> None:
    """Intake links as the referee of sec-cup, each accepted result followed to the read API's standings."""
    intake = load_schema("intake", INTAKE_LINKS, id_probability=0.9)
    referee = stack.bearer("referee")
    followed = Followed()
    run_state_machine(
        intake,
        Target(stack.intake.url, referee),
        followed,
        oracle,
        cross_app=(READ_API, Target(stack.api.url, referee)),
    )
    assert followed.count(f"POST {_RESULTS}", 202) >= 1, followed
    assert followed.count("GET /v1/tournaments/{tournament_id}/standings", 200) >= 1, followed
    # Finalize needs the ops role: the link is followed and refused.
    assert set(followed.statuses.get("POST /v1/tournaments/{t}/finalize", [403])) <= {403, 404, 422}


def test_admin_creates_then_reads_registration(stack: SecurityStack, oracle: AuthorizationOracle) -> None:
    """Read API links as admin: create a tournament / division / athlete, then read or replace it."""
    # Only the operations the links connect, so the rules that follow them are drawn often enough.
    linked = {path for link in READ_API_LINKS for path in (link.source[1], link.target[1])}
    read = load_schema("api", READ_API_LINKS).include(path=sorted(linked))
    followed = Followed()
    run_state_machine(read, Target(stack.api.url, stack.bearer("admin")), followed, oracle)
    assert followed.count("POST /v1/tournaments", 201) >= 1, followed
    assert followed.count("GET /v1/tournaments/{tournament_id}", 200) >= 1, followed
