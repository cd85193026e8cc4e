"""Referee POST → intake → Kafka → projector → PostgreSQL → read API, on both brokers.

The expected standings are never hard-coded: they are the pure domain's from-scratch computation
over every event the intake accepted (202), in log order, first applied (bout, revision) winning.
"""

from __future__ import annotations

import random
from typing import Any

import httpx

from services.intake.app import create_app as create_intake
from tests.e2e.pipeline import Pipeline
from tests.read_api_helpers import UvicornThread, api_rows

WIN_METHODS = ["ko", "tko", "submission", "fall", "technical_superiority", "decision", "points", "disqualification"]


def _result(rng: random.Random) -> dict[str, Any]:
    roll = rng.random()
    if roll < 0.08:
        return {"revision": 1, "winner": "draw", "method": "draw", "score": {"red": 2, "blue": 2}}
    if roll < 0.12:
        return {"revision": 1, "winner": "none", "method": "no_contest", "score": {"red": 0, "blue": 0}}
    winner = rng.choice(["red", "blue"])
    hi = rng.randint(1, 12)
    lo = rng.randint(0, min(5, hi - 1))  # the winner leads: the ruleset's score rules hold for every method
    score = {"red": hi, "blue": lo} if winner == "red" else {"red": lo, "blue": hi}
    return {
        "revision": 1,
        "winner": winner,
        "method": rng.choice(WIN_METHODS),
        "score": score,
        "duration_s": rng.randint(20, 300),
        "referee_id": "ref-1",
    }


def _assert_matches_oracle(p: Pipeline, division: str) -> None:
    body = p.standings(division)
    assert api_rows(body) == p.oracle(division), f"standings of {division} differ from the recomputation"


def test_results_corrections_voids_and_out_of_order_revisions(pipeline: Pipeline) -> None:
    p = pipeline
    rng = random.Random(7)
    division = p.divisions()[0]
    bouts = [b["bout_id"] for b in p.bouts(division)]
    for bout in bouts:
        assert p.post_result(bout, _result(rng)).status_code == 202
    # A correction (revision 2) and a void (revision 2) of other bouts.
    assert p.post_result(bouts[0], {**_result(rng), "revision": 2}).status_code == 202
    assert p.post_void(bouts[1], 2).status_code == 202
    # Out of order: revision 4 then 3 of one bout, back to back. The intake may not have seen 4
    # applied yet (202) or may have (409); either way 4 must be what counts.
    assert p.post_result(bouts[2], {**_result(rng), "revision": 4}).status_code == 202
    assert p.post_result(bouts[2], {**_result(rng), "revision": 3}).status_code in (202, 409)
    # A void reinstated by a higher result revision.
    assert p.post_void(bouts[3], 2).status_code == 202
    assert p.post_result(bouts[3], {**_result(rng), "revision": 3}).status_code == 202
    p.wait_applied()
    _assert_matches_oracle(p, division)
    body = p.standings(division)
    assert body["version"] >= 1
    assert sum(r["bouts"] for r in body["rows"]) > 0


def test_a_result_posted_twice_counts_once(pipeline: Pipeline) -> None:
    p = pipeline
    division = p.divisions()[1]
    bout = p.bouts(division)[0]["bout_id"]
    result = {"revision": 1, "winner": "red", "method": "ko", "score": {"red": 3, "blue": 0}}
    first = p.post_result(bout, result)
    second = p.post_result(bout, result)  # a retry: same event id
    assert first.status_code == second.status_code == 202
    assert first.json()["event_id"] == second.json()["event_id"]
    p.wait_applied()
    _assert_matches_oracle(p, division)
    red = p.bouts(division)[0]["red_athlete_id"]
    row = next(r for r in p.standings(division)["rows"] if r["athlete_id"] == red)
    assert row["wins"] >= 1
    wins_before = row["wins"]
    # Once applied, the same post again still has one effect.
    assert p.post_result(bout, result).status_code == 202
    p.wait_applied()
    row = next(r for r in p.standings(division)["rows"] if r["athlete_id"] == red)
    assert row["wins"] == wins_before


def test_conflicting_payloads_first_applied_wins_and_conflict_is_visible(pipeline: Pipeline) -> None:
    p = pipeline
    division = p.divisions()[1]
    bout = p.bouts(division)[1]["bout_id"]
    a = {"revision": 1, "winner": "red", "method": "points", "score": {"red": 5, "blue": 1}}
    b = {"revision": 1, "winner": "blue", "method": "fall", "score": {"red": 0, "blue": 4}}
    # With the projector stopped no intake sees the first result applied. The intake that accepted
    # it refuses the second (409); a second intake instance does not know it, accepts it, and the
    # projector must guard the race.
    assert p.projector.stop() == 0
    assert p.post_result(bout, a).status_code == 202
    refused = p.post_result(bout, b)
    assert refused.status_code == 409 and refused.json()["reason"] == "conflicting_revision"
    with UvicornThread(create_intake(p.settings)).running() as other:
        second = httpx.post(
            f"{other.url}/v1/tournaments/{p.tournament}/bouts/{bout}/results",
            json=b,
            headers={"Authorization": f"Bearer {p.tokens['referee']}"},
            timeout=10,
        )
    assert second.status_code == 202, second.text
    p.accepted.append({**second.json(), "kind": "result", "body": b})
    p.projector.start()
    p.wait_applied()
    _assert_matches_oracle(p, division)
    conflicts = httpx.get(
        f"{p.api.url}/v1/tournaments/{p.tournament}/divisions/{division}/conflicts", timeout=10
    ).json()
    assert any(c["bout_id"] == bout and c["revision"] == 1 for c in conflicts["conflicts"]), conflicts
    assert p.standings(division)["conflicts"] >= 1
    # Now that revision 1 is applied, the intake itself refuses a different payload for it.
    late = p.post_result(bout, {**b, "score": {"red": 0, "blue": 9}})
    assert late.status_code == 409
    assert late.headers["content-type"].startswith("application/problem+json")
