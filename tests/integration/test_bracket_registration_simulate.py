"""``standings simulate``'s bracket phase against a registered bracket on real PostgreSQL: bouts are
posted in mat order, only when both slots are known, until the bracket is complete. The intake and
projector are stood in for by ``post``: it stores the result with the slots' athletes (what the
intake fills) and recomputes the division (what the projector's batch does)."""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from services.cli.simulate import random_result
from services.cli.simulate_brackets import post_brackets
from services.core.db.projection import recompute_standings
from services.core.domain.ruleset import RULESETS
from services.registration.loader import load_registration
from tests.integration.test_bracket_registration import registration


def test_bracket_bouts_are_posted_in_order_once_their_slots_are_known(engine: Engine) -> None:
    t = f"sim{uuid.uuid4().hex[:6]}"
    d = f"{t}-d"
    seeds = [f"{t}-{c}" for c in "ABCDEF"]  # 8-draw: r1-b1 and r1-b3 are byes
    with Session(engine) as session, session.begin():
        load_registration(session, json.dumps(registration(t, format="elimination", repechage="judo", seeds=seeds)))
    posted: list[str] = []
    offsets = iter(range(10**6))

    def post(path: str, body: dict[str, Any]) -> str:
        bout = path.split("/")[5]
        with Session(engine) as session, session.begin():
            red, blue, status = session.execute(
                text("SELECT red_athlete_id, blue_athlete_id, status FROM bracket_bouts WHERE bout_id = :b"),
                {"b": bout},
            ).one()
            assert status == "open" and red and blue  # only posted once both slots are known
            payload = {**body, "red_athlete_id": red, "blue_athlete_id": blue}
            session.execute(
                text(
                    "INSERT INTO results (bout_id, revision, kind, payload, event_id, occurred_at, source_partition,"
                    " source_offset) VALUES (:b, :r, 'result', :p, gen_random_uuid(), now(), 0, :o)"
                ),
                {"b": bout, "r": body["revision"], "p": json.dumps(payload), "o": next(offsets)},
            )
            recompute_standings(session, [(t, d)], {(t, d): RULESETS["combat-default"]})
        posted.append(bout.removeprefix(f"{d}-"))
        return "accepted"

    rng = random.Random(7)
    accepted = post_brackets(engine, t, post, lambda rev: random_result(rng, rev), lambda _s: True, idle_timeout_s=5)
    # Never a bye (r1-b1 and r1-b3, so both repechage bouts have nobody to fight); the rest in mat
    # order, each once the bouts feeding it are decided.
    assert posted == ["r1-b2", "r1-b4", "r2-b1", "r2-b2", "bronze-top", "bronze-bottom", "final"]
    assert accepted == 7
    with engine.connect() as conn:
        statuses = {
            s for (s,) in conn.execute(text("SELECT status FROM bracket_bouts WHERE tournament_id = :t"), {"t": t})
        }
    assert statuses == {"bye", "decided"}
