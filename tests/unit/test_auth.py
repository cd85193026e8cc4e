"""Tokens, hashing and who may do what (pure)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.core.auth import (
    MAX_TOKEN_LENGTH,
    TOKEN_PREFIX,
    Principal,
    Role,
    generate_token,
    generate_token_id,
    hash_token,
    looks_like_token,
    normalize_tournaments,
    parse_bearer,
)


def test_generated_tokens_have_the_prefix_and_enough_entropy():
    tokens = {generate_token() for _ in range(200)}
    assert len(tokens) == 200
    for token in tokens:
        assert token.startswith(TOKEN_PREFIX)
        assert re.fullmatch(r"stk_[A-Za-z0-9_-]{43}", token)
        assert looks_like_token(token)


def test_token_ids_fit_the_column_and_are_not_tokens():
    token_id = generate_token_id()
    assert len(token_id) <= 32
    assert not looks_like_token(token_id)


def test_hash_is_keyed_by_the_pepper():
    token = generate_token()
    assert hash_token(token, "pepper-a") == hash_token(token, "pepper-a")
    assert hash_token(token, "pepper-a") != hash_token(token, "pepper-b")
    assert re.fullmatch(r"[0-9a-f]{64}", hash_token(token, "pepper-a"))
    assert token not in hash_token(token, "pepper-a")


@given(st.text(max_size=300))
def test_looks_like_token_refuses_garbage(text: str):
    if looks_like_token(text):
        assert text.startswith(TOKEN_PREFIX) and len(text) <= MAX_TOKEN_LENGTH and text.isascii()


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer stk_abc", "stk_abc"),
        ("bearer   stk_abc  ", "stk_abc"),
        ("BEARER stk_abc", "stk_abc"),
        (None, None),
        ("", None),
        ("Bearer", None),
        ("Bearer   ", None),
        ("Basic dXNlcjpwYXNz", None),
        ("stk_abc", None),
    ],
)
def test_parse_bearer(header: str | None, token: str | None):
    assert parse_bearer(header) == token


def test_referee_writes_only_listed_tournaments():
    referee = Principal("tok_1", Role.REFEREE, frozenset({"t-1", "t-2"}))
    assert referee.can_write_results("t-1") and referee.can_write_results("t-2")
    assert not referee.can_write_results("t-3")
    assert not referee.can_operate()
    assert not referee.has_role(Role.OPS, Role.ADMIN)
    assert referee.has_role(Role.REFEREE)


def test_ops_operates_but_does_not_write_results():
    ops = Principal("tok_2", Role.OPS, frozenset({"t-1"}))
    assert ops.can_operate()
    assert not ops.can_write_results("t-1")
    assert ops.has_role(Role.OPS, Role.ADMIN)
    assert not ops.has_role(Role.ADMIN)


def test_admin_may_do_everything():
    admin = Principal("tok_3", Role.ADMIN)
    assert admin.can_operate() and admin.is_admin()
    assert admin.can_write_results("any-tournament")
    assert admin.has_role(Role.REFEREE) and admin.has_role(Role.OPS) and admin.has_role()


def test_normalize_tournaments_dedups_and_sorts():
    assert normalize_tournaments(["b", " a ", "b", "", "  "]) == ["a", "b"]
