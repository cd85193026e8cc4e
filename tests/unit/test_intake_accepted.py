"""The intake's claims on accepted revisions (services/intake/accepted.py): a second device's
different payload or a stale revision is a 409 with its reason, an exact repost is not."""

from __future__ import annotations

import pytest

from services.core.domain.results import BoutResult, BoutVoid, Method, Score, Winner
from services.core.errors import Conflict
from services.intake.accepted import AcceptedRevisions


def ko(bout: str, revision: int, winner: Winner = Winner.RED) -> BoutResult:
    return BoutResult(bout, revision, winner, Method.KO, Score(0, 0))


def test_a_new_claim_then_an_exact_repost() -> None:
    accepted = AcceptedRevisions()
    assert accepted.claim(ko("b1", 1)) is True
    assert accepted.claim(ko("b1", 1)) is False
    assert accepted.latest("b1") == ko("b1", 1)


def test_a_different_payload_at_a_claimed_revision_is_a_conflicting_revision() -> None:
    accepted = AcceptedRevisions()
    accepted.claim(ko("b1", 1))
    with pytest.raises(Conflict) as refused:
        accepted.claim(ko("b1", 1, Winner.BLUE))
    assert refused.value.extra == {"applied_revision": 1, "reason": "conflicting_revision"}
    assert "post revision 2" in refused.value.detail
    with pytest.raises(Conflict):
        accepted.claim(BoutVoid("b1", 1))


def test_a_revision_below_a_claimed_one_is_stale_and_a_higher_one_is_a_correction() -> None:
    accepted = AcceptedRevisions()
    accepted.claim(ko("b1", 3))
    with pytest.raises(Conflict) as refused:
        accepted.claim(ko("b1", 2))
    assert refused.value.extra == {"applied_revision": 3, "reason": "stale_revision"}
    assert accepted.claim(BoutVoid("b1", 4)) is True
    assert accepted.latest("b1") == BoutVoid("b1", 4)


def test_a_released_claim_can_be_claimed_again_with_another_payload() -> None:
    accepted = AcceptedRevisions()
    accepted.claim(ko("b1", 1))
    accepted.release(ko("b1", 1))
    assert accepted.claim(ko("b1", 1, Winner.BLUE)) is True


def test_the_least_recently_posted_bout_is_forgotten_past_the_bound() -> None:
    accepted = AcceptedRevisions(max_bouts=2)
    for bout in ("b1", "b2"):
        accepted.claim(ko(bout, 1))
    accepted.claim(ko("b1", 2))  # b1 posted again: b2 is now the oldest
    accepted.claim(ko("b3", 1))
    assert accepted.latest("b2") is None
    assert accepted.latest("b1") == ko("b1", 2) and accepted.latest("b3") == ko("b3", 1)
