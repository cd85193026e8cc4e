"""Result validation and effective results from the revision log (SPEC §2-§3)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.core.domain import results
from services.core.domain.results import BoutResult, BoutVoid, InvalidResult, Method, Revision, Score, Winner


def res(bout: str, rev: int, winner: Winner = Winner.RED, method: Method = Method.KO, red: int = 0, blue: int = 0):
    return BoutResult(bout, rev, winner, method, Score(red, blue))


# -- check_result_fields ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("winner", "method"),
    [
        (Winner.RED, Method.KO),
        (Winner.BLUE, Method.DECISION),
        (Winner.DRAW, Method.DRAW),
        (Winner.NONE, Method.NO_CONTEST),
        (Winner.RED, Method.WALKOVER),
    ],
)
def test_valid_combinations(winner: Winner, method: Method) -> None:
    results.check_result_fields(winner, method, Score(0, results.MAX_SCORE), 1)
    res("b", 3, winner, method, 2, 1).validate()


@pytest.mark.parametrize(
    ("winner", "method", "score", "revision", "fragment"),
    [
        (Winner.RED, Method.KO, Score(0, 0), 0, "revision must be >= 1"),
        (Winner.RED, Method.KO, Score(-1, 0), 1, "score.red"),
        (Winner.RED, Method.KO, Score(0, results.MAX_SCORE + 1), 1, "score.blue"),
        (Winner.RED, Method.DRAW, Score(0, 0), 1, "method 'draw' needs winner 'draw'"),
        (Winner.DRAW, Method.DECISION, Score(0, 0), 1, "winner 'draw' needs method 'draw'"),
        (Winner.BLUE, Method.NO_CONTEST, Score(0, 0), 1, "method 'no_contest' needs winner 'none'"),
        (Winner.NONE, Method.KO, Score(0, 0), 1, "winner 'none' needs method 'no_contest'"),
    ],
)
def test_check_result_fields_errors(winner: Winner, method: Method, score: Score, revision: int, fragment: str) -> None:
    with pytest.raises(InvalidResult, match=fragment):
        results.check_result_fields(winner, method, score, revision)
    with pytest.raises(ValueError):  # InvalidResult is a ValueError
        BoutResult("b", revision, winner, method, score).validate()


def test_all_problems_listed() -> None:
    with pytest.raises(InvalidResult) as exc:
        results.check_result_fields(Winner.NONE, Method.DRAW, Score(-1, 1000), 0)
    msg = str(exc.value)
    for fragment in ("revision", "score.red", "score.blue", "needs winner 'draw'", "winner 'none' needs"):
        assert fragment in msg


# -- effective_results -----------------------------------------------------------------


def test_highest_revision_wins() -> None:
    r1, r2, r3 = res("b", 1), res("b", 2, Winner.BLUE), res("b", 3, Winner.BLUE, Method.FALL)
    assert results.effective_results([r3, r1, r2]) == {"b": r3}


def test_void_annuls_and_higher_result_reinstates() -> None:
    r1, v2, r3 = res("b", 1), BoutVoid("b", 2), res("b", 3, Winner.BLUE)
    assert results.effective_results([r1, v2]) == {}
    assert results.effective_results([v2, r1]) == {}
    assert results.effective_results([r3, v2, r1]) == {"b": r3}
    # a void lower than the result does not annul it
    assert results.effective_results([BoutVoid("b", 1), res("b", 2)]) == {"b": res("b", 2)}


def test_conflict_at_same_revision_is_deterministic() -> None:
    a, b = res("b", 1), res("b", 1, Winner.BLUE)
    assert results.effective_results([a, b]) == results.effective_results([b, a])
    # a void and a result at the same revision: the void wins either way
    assert results.effective_results([a, BoutVoid("b", 1)]) == results.effective_results([BoutVoid("b", 1), a]) == {}


def test_is_same_payload_and_results_for_bouts() -> None:
    assert results.is_same_payload(res("b", 1), res("b", 1))
    assert not results.is_same_payload(res("b", 1), res("b", 1, Winner.BLUE))
    both = {"x": res("x", 1), "y": res("y", 1)}
    assert results.results_for_bouts(both, ["y", "z"]) == {"y": res("y", 1)}


_methods = st.sampled_from(list(Method))


@st.composite
def revisions(draw: st.DrawFn) -> list[Revision]:
    out: list[Revision] = []
    for bout in draw(st.lists(st.sampled_from("abcd"), unique=True)):
        for rev in draw(st.lists(st.integers(1, 6), unique=True, min_size=1, max_size=4)):
            if draw(st.booleans()):
                out.append(BoutVoid(bout, rev))
            else:
                method = draw(_methods)
                winner = {Method.DRAW: Winner.DRAW, Method.NO_CONTEST: Winner.NONE}.get(
                    method, draw(st.sampled_from([Winner.RED, Winner.BLUE]))
                )
                out.append(res(bout, rev, winner, method, draw(st.integers(0, 9)), draw(st.integers(0, 9))))
    return out


@given(revisions(), st.randoms(use_true_random=False), st.data())
def test_effective_results_ignores_order_and_duplicates(revs: list[Revision], rnd, data) -> None:
    shuffled = revs + data.draw(st.lists(st.sampled_from(revs), max_size=6) if revs else st.just([]))
    rnd.shuffle(shuffled)
    assert results.effective_results(shuffled) == results.effective_results(revs)


@given(revisions())
def test_effective_result_is_the_highest_revision_if_not_a_void(revs: list[Revision]) -> None:
    eff = results.effective_results(revs)
    for bout in {r.bout_id for r in revs}:
        top = max((r for r in revs if r.bout_id == bout), key=lambda r: r.revision)
        if isinstance(top, BoutVoid):
            assert bout not in eff
        else:
            assert eff[bout] == top


def test_domain_is_pure() -> None:
    """The domain package imports only the standard library and itself (no I/O frameworks)."""
    import ast
    import sys
    from pathlib import Path

    import services.core.domain as domain

    for path in Path(domain.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                root = name.split(".")[0]
                ok = root in sys.stdlib_module_names or name.startswith("services.core.domain")
                assert ok, f"{path.name} imports {name}"
