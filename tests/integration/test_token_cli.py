"""``standings token`` against a real migrated database: the token printed once works, revoke kills it."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from services.cli.tokens import app
from services.core.auth import Role, hash_token
from services.core.db import tokens as token_repo
from tests.integration.intake_support import PEPPER, T_ALPHA, T_BETA, IntakeDb

pytest_plugins = ["tests.integration.intake_fixtures"]


@pytest.fixture
def env(intake_db: IntakeDb, monkeypatch: pytest.MonkeyPatch) -> IntakeDb:
    monkeypatch.setenv("STANDINGS_DATABASE__URL", intake_db.url)
    monkeypatch.setenv("STANDINGS_TOKEN_PEPPER", PEPPER)
    return intake_db


def test_create_prints_the_token_once_and_revoke_disables_it(env: IntakeDb):
    runner = CliRunner()
    created = runner.invoke(
        app, ["create", "--name", "mat 3", "--role", "referee", "--tournament", T_ALPHA, "-t", T_BETA]
    )
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("stk_")

    with env.session_factory() as session:
        principal = token_repo.find_by_hash(session, hash_token(token, PEPPER))
    assert principal is not None
    assert principal.role is Role.REFEREE and principal.tournaments == {T_ALPHA, T_BETA}

    listed = runner.invoke(app, ["list"])
    assert listed.exit_code == 0 and principal.token_id in listed.stdout and token not in listed.stdout

    assert runner.invoke(app, ["revoke", principal.token_id]).exit_code == 0
    with env.session_factory() as session:
        assert token_repo.find_by_hash(session, hash_token(token, PEPPER)) is None
    assert runner.invoke(app, ["revoke", principal.token_id]).exit_code == 1


def test_referee_without_tournament_is_refused(env: IntakeDb):
    result = CliRunner().invoke(app, ["create", "--name", "x", "--role", "referee"])
    assert result.exit_code != 0
    assert "stk_" not in result.output


def test_unknown_role_is_refused(env: IntakeDb):
    assert CliRunner().invoke(app, ["create", "--name", "x", "--role", "superuser"]).exit_code != 0
