"""First applied wins (SPEC §6): new, duplicate or conflict, whatever was stored or offered before."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.core.domain.codec import RESULT, VOID, StoredRevision
from services.core.domain.first_applied import FirstAppliedWins, RevisionKey, Verdict

RED = StoredRevision(RESULT, {"winner": "red"})
BLUE = StoredRevision(RESULT, {"winner": "blue"})
ANNUL = StoredRevision(VOID, {})


def test_first_offer_is_new_the_same_again_a_duplicate_a_different_one_a_conflict() -> None:
    first = FirstAppliedWins()
    assert first.offer(("b1", 1), RED) == (Verdict.NEW, RED)
    assert first.offer(("b1", 1), RED) == (Verdict.DUPLICATE, RED)
    assert first.offer(("b1", 1), BLUE) == (Verdict.CONFLICT, RED)  # the first one stands
    assert first.offer(("b1", 1), ANNUL) == (Verdict.CONFLICT, RED)
    assert first.offer(("b1", 2), BLUE) == (Verdict.NEW, BLUE)
    assert dict(first.accepted) == {("b1", 1): RED, ("b1", 2): BLUE}


def test_stored_revisions_were_applied_first() -> None:
    first = FirstAppliedWins({("b1", 1): ANNUL})
    assert first.offer(("b1", 1), ANNUL).verdict is Verdict.DUPLICATE
    assert first.offer(("b1", 1), RED) == (Verdict.CONFLICT, ANNUL)
    assert first.offer(("b2", 1), RED).verdict is Verdict.NEW
    assert dict(first.accepted) == {("b2", 1): RED}
    assert first.standing() == {("b1", 1): ANNUL, ("b2", 1): RED}


keys = st.tuples(st.sampled_from(["b1", "b2", "b3"]), st.integers(1, 3))
payloads = st.sampled_from([RED, BLUE, ANNUL])
offers = st.lists(st.tuples(keys, payloads), max_size=30)


@given(st.dictionaries(keys, payloads, max_size=5), offers)
def test_the_first_payload_per_key_stands_and_a_replay_adds_nothing(
    stored: dict[RevisionKey, StoredRevision], offered: list[tuple[RevisionKey, StoredRevision]]
) -> None:
    first = FirstAppliedWins(stored)
    outcomes = [first.offer(key, revision) for key, revision in offered]
    expected: dict[RevisionKey, StoredRevision] = dict(stored)
    for key, revision in offered:
        expected.setdefault(key, revision)
    assert first.standing() == expected
    for (key, revision), outcome in zip(offered, outcomes, strict=True):
        assert outcome.applied == expected[key]
        if outcome.verdict is Verdict.NEW:
            assert key not in stored and first.accepted[key] == revision
        else:
            assert outcome.verdict is (Verdict.DUPLICATE if revision == expected[key] else Verdict.CONFLICT)
    assert sum(o.verdict is Verdict.NEW for o in outcomes) == len(first.accepted)

    # Replaying everything on top of what now stands accepts nothing new and keeps every verdict but NEW.
    again = FirstAppliedWins(first.standing())
    replayed = [again.offer(key, revision) for key, revision in offered]
    assert not again.accepted
    assert [o.applied for o in replayed] == [o.applied for o in outcomes]
