"""Authentication, authorization and request hardening across both apps, served for real.

What tests/integration/test_intake_api.py already covers for the intake is not repeated here
(missing/garbage/revoked tokens on results, referee of another tournament on results and void,
referee finalize, ops posting results, the per-token 429 on results, 413 with a token, the
capfd log check). This module covers the rest: every ops endpoint (read API ``/v1/ops/*``,
reindex, intake finalize) and every admin endpoint against every role, extra fields on every
write endpoint with a body, 413 on the read API and before authentication, the rate-limit bucket
shared by all of a token's intake writes, problem+json with its media type on every error
status, and tokens absent from the logs of both real processes at DEBUG.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

from services.core.auth import generate_token
from services.core.db.tokens import create_token
from services.core.http.problems import PROBLEM_MEDIA_TYPE
from services.core.settings import IntakeSettings, Settings, settings_to_env
from services.embedded.waiting import free_port, wait_until
from tests.chunked_body import oversized_json
from tests.read_api_helpers import UvicornThread
from tests.security.stack import D2, T_OTHER, D, SecurityStack, T, bout_id

pytestmark = pytest.mark.timeout(180)

ROOT = Path(__file__).resolve().parents[2]
A1, A2, A3 = (f"{T}-{D}-a0{i}" for i in (1, 2, 3))
RESULT = {"revision": 1, "winner": "red", "method": "points", "score": {"red": 5, "blue": 2}}


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def assert_problem(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, f"{resp.request.method} {resp.request.url}: {resp.status_code} {resp.text}"
    assert resp.headers["content-type"] == PROBLEM_MEDIA_TYPE, resp.headers
    body: dict[str, Any] = resp.json()
    assert body["status"] == status and body["title"] and body["detail"], body
    assert body["type"].startswith("https://standings.example/problems/"), body
    return body


# -- the endpoints, with bodies that are valid for the seeded registration -------------------------


@dataclass(frozen=True)
class AdminWrite:
    method: str
    path: str
    body: dict[str, Any]
    nested: dict[str, Any] | None = None  # the body with an extra field inside a nested object

    @property
    def top_level_extra(self) -> dict[str, Any]:
        return {**self.body, "is_admin": True}


def _tournament() -> dict[str, Any]:
    return {"name": "Authz Cup", "tier": "open", "start_date": "2026-11-26", "end_date": "2026-11-27"}


def admin_writes() -> dict[str, AdminWrite]:
    """Every admin endpoint with a body an admin gets a 2xx for (fresh ids on every call)."""
    new_division = {"division_id": uid("d"), "name": "Open", "category": "m-90kg", "athletes": [A1, A2]}
    roster_d2 = [f"{T}-{D2}-a0{i}" for i in (1, 2, 3)]
    extra_bout = [{"bout_id": uid("b"), "red": A1, "blue": A2, "is_admin": True}]
    athlete = {"athlete_id": uid("imp"), "full_name": "程训钊", "country": "CHN"}
    return {
        "create-tournament": AdminWrite(
            "POST",
            "/v1/tournaments",
            {**_tournament(), "tournament_id": uid("authz")},
            {**_tournament(), "tournament_id": uid("authz"), "divisions": [{**new_division, "is_admin": True}]},
        ),
        "put-tournament": AdminWrite("PUT", f"/v1/tournaments/{uid('authz')}", _tournament()),
        "create-division": AdminWrite(
            "POST", f"/v1/tournaments/{T}/divisions", new_division, {**new_division, "bouts": extra_bout}
        ),
        "put-division": AdminWrite(
            "PUT",
            f"/v1/tournaments/{T}/divisions/{D2}",
            {"name": "Women -57 kg", "category": D2, "athletes": roster_d2},
            {"name": "Women -57 kg", "category": D2, "athletes": roster_d2, "bouts": extra_bout},
        ),
        "create-athlete": AdminWrite(
            "POST", "/v1/athletes", {"athlete_id": uid("ath"), "full_name": "Zoë Müller-Łukasz", "country": "DEU"}
        ),
        "put-athlete": AdminWrite("PUT", f"/v1/athletes/{A3}", {"full_name": "ლაშა შავდათუაშვილი", "country": "GEO"}),
        "create-bout": AdminWrite(
            "POST", f"/v1/tournaments/{T}/divisions/{D}/bouts", {"bout_id": uid("b"), "red": A1, "blue": A3}
        ),
        "put-bout": AdminWrite(
            "PUT", f"/v1/tournaments/{T}/divisions/{D}/bouts/{bout_id(T, D, 1)}", {"red": A1, "blue": A2, "mat": 2}
        ),
        "import": AdminWrite(
            "POST",
            "/v1/registration/import",
            {"athletes": [athlete], "tournaments": []},
            {"athletes": [{**athlete, "is_admin": True}], "tournaments": []},
        ),
    }


ADMIN_WRITES = list(admin_writes())
NESTED_WRITES = [name for name, write in admin_writes().items() if write.nested is not None]
OPS_READ_API = [
    ("GET", "/v1/ops/consumers?lag=false"),
    ("POST", "/v1/ops/reindex"),
    ("GET", "/v1/ops/reindex/no-such-job"),
    ("GET", "/v1/ops/audit?sample=10"),
]


@pytest.fixture(scope="module")
def api(stack: SecurityStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.api.url, timeout=15) as client:
        yield client


@pytest.fixture(scope="module")
def intake(stack: SecurityStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.intake.url, timeout=15) as client:
        yield client


def wait_reindex_idle(api: httpx.Client, headers: dict[str, str], job_url: str) -> None:
    wait_until(lambda: api.get(job_url, headers=headers).json()["state"] != "running", 30, "reindex job finished")


# -- ops endpoints: 401 without a token, 403 without the role ---------------------------------------


@pytest.mark.parametrize(("method", "path"), OPS_READ_API)
def test_read_api_ops_endpoints_without_a_token_are_401(api: httpx.Client, method: str, path: str) -> None:
    resp = api.request(method, path)
    assert_problem(resp, 401)
    assert resp.headers["www-authenticate"] == 'Bearer realm="standings"'


@pytest.mark.parametrize("role", ["referee", "referee_other"])
@pytest.mark.parametrize(("method", "path"), OPS_READ_API)
def test_read_api_ops_endpoints_without_the_role_are_403(
    stack: SecurityStack, api: httpx.Client, method: str, path: str, role: str
) -> None:
    assert_problem(api.request(method, path, headers=stack.bearer(role)), 403)


@pytest.mark.parametrize("role", ["ops", "admin"])
def test_ops_and_admin_pass_every_ops_endpoint(stack: SecurityStack, api: httpx.Client, role: str) -> None:
    headers = stack.bearer(role)
    assert api.get("/v1/ops/consumers", params={"lag": "false"}, headers=headers).status_code == 200
    started = api.post("/v1/ops/reindex", headers=headers)
    assert started.status_code == 202, started.text
    wait_reindex_idle(api, headers, started.headers["location"])
    assert api.get(started.headers["location"], headers=headers).json()["state"] == "done"
    assert api.get("/v1/ops/audit", params={"sample": 10}, headers=headers).status_code == 200


def test_finalize_without_a_token_is_401(intake: httpx.Client) -> None:
    resp = intake.post(f"/v1/tournaments/{T}/finalize")
    assert_problem(resp, 401)
    assert resp.headers["www-authenticate"].startswith("Bearer")


def test_finalize_by_a_referee_of_another_tournament_is_403(stack: SecurityStack, intake: httpx.Client) -> None:
    assert_problem(intake.post(f"/v1/tournaments/{T}/finalize", headers=stack.bearer("referee_other")), 403)


@pytest.mark.parametrize("role", ["ops", "admin"])
def test_ops_and_admin_may_finalize(stack: SecurityStack, intake: httpx.Client, role: str) -> None:
    resp = intake.post(f"/v1/tournaments/{T_OTHER}/finalize", headers=stack.bearer(role))
    assert resp.status_code == 202, resp.text
    assert len(resp.json()["events"]) == 1


# -- admin endpoints: 401 without a token, 403 for every other role ---------------------------------


@pytest.mark.parametrize("name", ADMIN_WRITES)
def test_admin_endpoints_without_a_token_are_401(api: httpx.Client, name: str) -> None:
    write = admin_writes()[name]
    resp = api.request(write.method, write.path, json=write.body)
    assert_problem(resp, 401)
    assert resp.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("role", ["referee", "referee_other", "ops"])
@pytest.mark.parametrize("name", ADMIN_WRITES)
def test_admin_endpoints_without_admin_are_403(stack: SecurityStack, api: httpx.Client, name: str, role: str) -> None:
    """Including the referee of sec-cup changing sec-cup's own registration: results only, not data."""
    write = admin_writes()[name]
    assert_problem(api.request(write.method, write.path, json=write.body, headers=stack.bearer(role)), 403)


def test_admin_passes_every_admin_endpoint(stack: SecurityStack, api: httpx.Client) -> None:
    """The same requests succeed for admin: the 403s above are the role, not the body."""
    for name, write in admin_writes().items():
        resp = api.request(write.method, write.path, json=write.body, headers=stack.bearer("admin"))
        assert resp.status_code in (200, 201), f"{name}: {resp.status_code} {resp.text}"


def test_a_token_of_another_deployment_is_401(api: httpx.Client, intake: httpx.Client) -> None:
    """A well-formed token never issued here (or issued under another pepper) authenticates nothing."""
    foreign = {"Authorization": f"Bearer {generate_token()}"}
    assert_problem(api.post("/v1/ops/reindex", headers=foreign), 401)
    assert_problem(intake.post(f"/v1/tournaments/{T}/finalize", headers=foreign), 401)


# -- extra fields: 422 on every write endpoint with a body -----------------------------------------


@pytest.mark.parametrize("name", ADMIN_WRITES)
def test_admin_writes_refuse_an_extra_field(stack: SecurityStack, api: httpx.Client, name: str) -> None:
    write = admin_writes()[name]
    resp = api.request(write.method, write.path, json=write.top_level_extra, headers=stack.bearer("admin"))
    problem = assert_problem(resp, 422)
    assert "is_admin" in str(problem.get("errors") or problem.get("problems")), problem


@pytest.mark.parametrize("name", NESTED_WRITES)
def test_admin_writes_refuse_an_extra_field_in_a_nested_object(
    stack: SecurityStack, api: httpx.Client, name: str
) -> None:
    write = admin_writes()[name]
    resp = api.request(write.method, write.path, json=write.nested, headers=stack.bearer("admin"))
    problem = assert_problem(resp, 422)
    assert "is_admin" in str(problem.get("errors") or problem.get("problems")), problem


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (f"/v1/tournaments/{T}/bouts/{bout_id(T, D, 3)}/void", {"revision": 2, "reason": "typo"}),
        (f"/v1/tournaments/{T}/bouts/{bout_id(T, D, 3)}/results", {**RESULT, "score": {"red": 5, "blue": 2, "x": 1}}),
        (f"/v1/tournaments/{T}/bouts/{bout_id(T, D, 3)}/results", {**RESULT, "tournament_id": T_OTHER}),
    ],
    ids=["void", "results-nested", "results-tournament-override"],
)
def test_intake_writes_refuse_extra_fields(
    stack: SecurityStack, intake: httpx.Client, path: str, body: dict[str, Any]
) -> None:
    problem = assert_problem(intake.post(path, json=body, headers=stack.bearer("referee")), 422)
    assert problem["errors"][0]["type"] == "extra_forbidden", problem


# -- oversized bodies: 413 before anything else reads them ------------------------------------------


@pytest.mark.parametrize("role", ["anonymous", "admin"])
def test_read_api_oversized_body_is_413_even_before_authentication(
    stack: SecurityStack, api: httpx.Client, role: str
) -> None:
    limit = stack.settings.api.max_body_bytes
    doc = {"athletes": [], "tournaments": [], "padding": "x" * (limit + 1)}
    assert_problem(api.post("/v1/registration/import", json=doc, headers=stack.bearer(role)), 413)


def test_read_api_oversized_chunked_body_is_413(stack: SecurityStack, api: httpx.Client) -> None:
    limit = stack.settings.api.max_body_bytes

    headers = {**stack.bearer("admin"), "Content-Type": "application/json"}
    resp = api.post(
        "/v1/registration/import",
        content=oversized_json(b'{"athletes": [], "tournaments": [], "padding": "', limit, 65_536),
        headers=headers,
    )
    assert "content-length" not in resp.request.headers
    assert_problem(resp, 413)


def test_intake_oversized_body_is_413_before_authentication(stack: SecurityStack, intake: httpx.Client) -> None:
    padded = {**RESULT, "referee_id": "x" * (stack.settings.intake.max_body_bytes + 1)}
    assert_problem(intake.post(f"/v1/tournaments/{T}/bouts/{bout_id(T, D, 1)}/results", json=padded), 413)


# -- rate limit: one bucket per token across every intake write ----------------------------------------


@pytest.fixture(scope="module")
def limited_intake(stack: SecurityStack) -> Iterator[str]:
    """A second intake on the same database and topic, with a tiny per-token bucket."""
    from services.intake.app import create_app

    settings = stack.settings.model_copy(update={"intake": IntakeSettings(rate_limit_per_s=0.05, rate_limit_burst=3)})
    with UvicornThread(create_app(settings)).running() as server:
        yield server.url


def test_results_void_and_finalize_share_the_token_bucket(stack: SecurityStack, limited_intake: str) -> None:
    with Session(stack.engine) as session, session.begin():
        _, token = create_token(session, uid("rl"), "admin", pepper=stack.settings.token_pepper.get_secret_value())
    headers = {"Authorization": f"Bearer {token}"}
    results = f"/v1/tournaments/{T}/bouts/no-such-bout/results"
    void = f"/v1/tournaments/{T}/bouts/no-such-bout/void"
    finalize = f"/v1/tournaments/{T_OTHER}/finalize"
    with httpx.Client(base_url=limited_intake, timeout=15) as client:
        assert client.post(results, json=RESULT, headers=headers).status_code == 404
        assert client.post(void, json={"revision": 2}, headers=headers).status_code == 404
        assert client.post(finalize, headers=headers).status_code == 202  # the burst of 3 is spent
        for path, body in ((results, RESULT), (void, {"revision": 2}), (finalize, None)):
            resp = client.post(path, json=body, headers=headers)
            assert_problem(resp, 429)
            assert int(resp.headers["retry-after"]) >= 1


# -- problem+json on every error status --------------------------------------------------------------


def test_every_error_status_is_problem_json(stack: SecurityStack, api: httpx.Client, intake: httpx.Client) -> None:
    admin, referee = stack.bearer("admin"), stack.bearer("referee")
    results = f"/v1/tournaments/{T}/bouts/{bout_id(T, D, 1)}/results"
    json_header = {"Content-Type": "application/json"}
    cases: list[tuple[int, httpx.Response]] = [
        (400, intake.post(results, content=b'{"revision": 1' + b"0" * 5000 + b"}", headers={**admin, **json_header})),
        (400, api.get("/v1/rankings")),  # no filter: whole-list reads are refused
        (401, api.post("/v1/athletes", json={})),
        (403, intake.post(f"/v1/tournaments/{T_OTHER}/bouts/x/results", json=RESULT, headers=referee)),
        (404, api.get("/v1/tournaments/no-such-cup")),
        (404, intake.post("/v1/nowhere", json=RESULT, headers=admin)),
        (405, api.delete("/v1/tournaments", headers=admin)),
        (409, api.post("/v1/tournaments", json={**_tournament(), "tournament_id": T}, headers=admin)),
        (413, api.post("/v1/athletes", content=b"x" * (stack.settings.api.max_body_bytes + 1), headers=json_header)),
        (415, intake.post(results, content=b"{}", headers={**referee, "Content-Type": "text/plain"})),
        (422, api.get(f"/v1/tournaments/{T}/divisions/{D}/standings", params={"as_of_offset": -1})),
        (422, intake.post(results, json={**RESULT, "method": "draw"}, headers=referee)),
    ]
    for status, resp in cases:
        assert_problem(resp, status)


def test_405_names_every_method_of_the_path(stack: SecurityStack, api: httpx.Client) -> None:
    """RFC 9110: Allow lists what the resource supports (GET and PUT live in two routes here)."""
    resp = api.delete(f"/v1/tournaments/{T}", headers=stack.bearer("admin"))
    assert_problem(resp, 405)
    assert {m.strip() for m in resp.headers["allow"].split(",")} >= {"GET", "PUT"}


# -- tokens never reach the logs ---------------------------------------------------------------------


class ServiceProcess:
    """``python -m services.<app>.main`` with its output in a file; stopped with SIGTERM (bounded)."""

    def __init__(self, module: str, env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", module], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    def wait_live(self, url: str, timeout: float = 60.0) -> None:
        def live() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"exited: {self.log_path.read_text(errors='replace')[-2000:]}")
            try:
                return httpx.get(f"{url}/livez", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(live, timeout, url, interval=0.2)

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def test_tokens_never_reach_the_logs_of_either_process(stack: SecurityStack, tmp_path: Path) -> None:
    """Both real processes at DEBUG (console renderer): valid, wrong-role, unknown and malformed tokens."""
    settings: Settings = stack.settings.model_copy(
        update={
            "log_level": "DEBUG",
            "log_json": False,
            "api": stack.settings.api.model_copy(update={"port": free_port()}),
            "intake": stack.settings.intake.model_copy(update={"port": free_port()}),
        }
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("STANDINGS_")} | settings_to_env(settings)
    api_url, intake_url = f"http://127.0.0.1:{settings.api.port}", f"http://127.0.0.1:{settings.intake.port}"
    unknown = generate_token()
    processes = [
        ServiceProcess("services.api.main", env, tmp_path / "api.log"),
        ServiceProcess("services.intake.main", env, tmp_path / "intake.log"),
    ]
    try:
        processes[0].wait_live(api_url)
        processes[1].wait_live(intake_url)
        tokens = stack.tokens
        bearer = stack.bearer
        with httpx.Client(timeout=15) as http:
            reindex = http.post(f"{api_url}/v1/ops/reindex", headers=bearer("ops"))
            assert reindex.status_code == 202
            wait_until(
                lambda: (
                    http.get(api_url + reindex.headers["location"], headers=bearer("ops")).json()["state"] != "running"
                ),
                30,
                "reindex job finished",
            )
            requests: list[tuple[str, str, dict[str, str], Any]] = [
                ("POST", f"{api_url}/v1/athletes", bearer("admin"), {"athlete_id": uid("log"), "full_name": "L"}),
                ("GET", f"{api_url}/v1/ops/audit", bearer("referee"), None),
                ("GET", f"{api_url}/v1/ops/audit", {"Authorization": f"Bearer {unknown}"}, None),
                ("GET", f"{api_url}/v1/ops/audit", {"Authorization": f"Basic {tokens['admin']}"}, None),
                ("GET", f"{api_url}/v1/tournaments?access_token={tokens['admin']}", {}, None),
                ("POST", f"{intake_url}/v1/tournaments/{T}/bouts/{bout_id(T, D2, 2)}/results", bearer("referee"), RESULT),
                ("POST", f"{intake_url}/v1/tournaments/{T}/bouts/x/results", bearer("referee_other"), RESULT),
                ("POST", f"{intake_url}/v1/tournaments/{T}/bouts/x/results", {"Authorization": f"Bearer {unknown}x"}, {}),
                ("POST", f"{intake_url}/v1/tournaments/{T}/finalize", bearer("ops"), None),
            ]  # fmt: skip
            statuses = [http.request(m, url, headers=h, json=body).status_code for m, url, h, body in requests]
        assert statuses == [422, 403, 401, 401, 200, 202, 403, 401, 202], statuses
    finally:
        for process in processes:
            process.stop()
    logs = "\n".join(p.log_path.read_text(errors="replace") for p in processes)
    assert "api_started" in logs and "intake_started" in logs and "reindex_requested" in logs, logs[-3000:]
    for token in [*stack.tokens.values(), unknown]:
        assert token not in logs and token.removeprefix("stk_") not in logs
