"""The mat-table console in real headless Chromium on the whole pipeline (intake, Kafka, projector):
results entered on the tablet, some while it is offline, kept in IndexedDB across a reload and sent
when the network is back, each counting once; a stale correction and a second tablet's different
result show the pipeline's 409 in words. Screenshots of each state in tests/artifacts/mat-console/.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.cdp import Chromium, Page
from tests.e2e.pipeline import Pipeline

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("pipeline", ["tansu"], indirect=True)]

SHOTS = Path(__file__).resolve().parents[1] / "artifacts" / "mat-console"
QUEUE_JS = (
    "Array.from(document.querySelectorAll('#queue li')).map(li => [li.dataset.bout, li.dataset.state, li.textContent])"
)
UI_WAIT_S = 15.0


def mat_bouts(p: Pipeline, division: str, count: int) -> list[dict[str, Any]]:
    """Put the first ``count`` bouts of ``division`` on mat 1, in that order; every other bout on mat 2."""
    bouts = p.bouts(division)[:count]
    with p.engine.begin() as conn:
        conn.execute(sa.text("UPDATE bouts SET mat = 2 WHERE tournament_id = :t"), {"t": p.tournament})
        for order, bout in enumerate(bouts, start=1):
            conn.execute(
                sa.text("UPDATE bouts SET mat = 1, bout_order = :o WHERE bout_id = :b"),
                {"o": order, "b": bout["bout_id"]},
            )
    return bouts


async def open_console(page: Page, p: Pipeline) -> None:
    await page.navigate(f"{p.intake.url}/mat/{p.tournament}/1")
    await page.wait_for("document.getElementById('token') !== null", UI_WAIT_S, "the console page")
    token = json.dumps(p.tokens["referee"])
    await page.wait_for("!document.getElementById('token-form').hidden", UI_WAIT_S, "the token form")
    await page.evaluate(
        f"document.getElementById('token').value = {token}; document.getElementById('token-form').requestSubmit()"
    )
    await page.wait_for("document.querySelector('#bouts li.next') !== null", UI_WAIT_S, "the next bout")


async def enter(page: Page, bout_id: str, winner: str, method: str, red: int, blue: int) -> None:
    """Tap the bout, the winner, the method, type the score and send."""
    await page.evaluate(f"document.querySelector('#bouts li[data-bout-id={json.dumps(bout_id)}] button').click()")
    await page.evaluate(f"document.querySelector('[data-winner={json.dumps(winner)}]').click()")
    await page.evaluate(f"document.querySelector('[data-method={json.dumps(method)}]').click()")
    await page.evaluate(
        f"document.getElementById('score-red').value = '{red}'; document.getElementById('score-blue').value = '{blue}';"
        "document.getElementById('entry').requestSubmit()"
    )
    await page.wait_for(
        f"Array.from(document.querySelectorAll('#queue li')).some(li => li.dataset.bout === {json.dumps(bout_id)})",
        UI_WAIT_S,
        f"{bout_id} in the queue",
    )


async def queue(page: Page) -> list[tuple[str, str, str]]:
    rows: list[Any] = await page.evaluate(QUEUE_JS)
    return [(b, s, " ".join(t.split())) for b, s, t in rows]


def record_sent(p: Pipeline, sent: list[dict[str, Any]]) -> None:
    """The console's 202s as the pipeline's accepted events, so ``wait_applied`` waits for them."""
    for item in sent:
        body = json.loads(item["body"])
        p.accepted.append(
            {
                "partition": item["partition"],
                "offset": item["offset"],
                "bout_id": item["bout_id"],
                "revision": item["revision"],
                "kind": item["kind"],
                "body": body,
            }
        )


OUTBOX_JS = """new Promise((resolve, reject) => { const r = indexedDB.open('mat-console');
  r.onsuccess = () => { const g = r.result.transaction('outbox').objectStore('outbox').getAll();
    g.onsuccess = () => resolve(g.result); g.onerror = () => reject(g.error); }; })"""


def test_results_entered_offline_survive_a_reload_and_count_once(chromium: Chromium, pipeline: Pipeline) -> None:
    p = pipeline
    division = p.divisions()[0]
    bouts = mat_bouts(p, division, 5)
    ids = [b["bout_id"] for b in bouts]

    async def scenario() -> None:
        async with chromium.page() as page:
            await open_console(page, p)
            assert await page.evaluate("document.querySelector('#bouts li.next').dataset.boutId") == ids[0]
            await page.screenshot(SHOTS / "1-next-bout.png")
            # A points win for the side behind is refused on the tablet, in words, before sending.
            await page.evaluate(f"document.querySelector('#bouts li[data-bout-id=\"{ids[0]}\"] button').click()")
            await page.evaluate("document.querySelector('[data-winner=red]').click()")
            await page.evaluate("document.querySelector('[data-method=points]').click()")
            await page.evaluate(
                "document.getElementById('score-red').value='1'; document.getElementById('score-blue').value='4';"
                "document.getElementById('entry').requestSubmit()"
            )
            problem = await page.evaluate("document.getElementById('problem').textContent")
            assert "method points requires the winner to lead on technical points" in problem
            assert await queue(page) == []
            await page.screenshot(SHOTS / "2-rule-checked-before-sending.png")

            for bout in ids[:3]:  # red wins by ko, 3:0
                await enter(page, bout, "red", "ko", 3, 0)
            await page.wait_for(
                "document.querySelectorAll('#queue li[data-state=sent]').length === 3", UI_WAIT_S, "three sent"
            )
            await page.screenshot(SHOTS / "3-three-sent.png")

            await page.set_offline(True)
            await page.wait_for("!navigator.onLine", UI_WAIT_S, "the page offline")
            for bout in ids[3:5]:  # blue wins by points 1:4
                await enter(page, bout, "blue", "points", 1, 4)
            await asyncio.sleep(0)  # let the pump try once
            states = [s for _, s, _ in await queue(page)]
            assert states.count("waiting") == 2 and states.count("sent") == 3
            await page.screenshot(SHOTS / "4-offline-waiting.png")

            # Reload while the intake stays unreachable: the queue comes back from IndexedDB.
            await page.block_urls(["*/v1/*"])
            await page.set_offline(False)
            await page.reload()
            await page.wait_for(
                "document.querySelectorAll('#queue li[data-state=waiting]').length === 2", UI_WAIT_S, "two waiting"
            )
            assert "Offline" in await page.evaluate("document.getElementById('bouts-msg').textContent")
            await page.screenshot(SHOTS / "5-reloaded-still-waiting.png")

            # Back online: the waiting results go out, oldest first, and are sent.
            await page.set_offline(True)
            await page.block_urls([])
            await page.set_offline(False)
            await page.wait_for(
                "document.querySelectorAll('#queue li[data-state=sent]').length === 5", 45.0, "five sent"
            )
            await page.screenshot(SHOTS / "6-back-online-all-sent.png")
            outbox = await page.evaluate(OUTBOX_JS)
            assert [(o["bout_id"], o["revision"], o["state"]) for o in outbox] == [(b, 1, "sent") for b in ids]
            record_sent(p, outbox)

            # Another device corrected bout 1 to revision 3 (same result); the tablet's correction
            # posts revision 2, which is stale: its 409 is shown in words.
            r3 = {"revision": 3, "winner": "red", "method": "ko", "score": {"red": 3, "blue": 0}}
            assert p.post_result(ids[0], r3).status_code == 202
            await enter(page, ids[0], "blue", "ko", 0, 2)
            await page.wait_for(
                "document.querySelector('#queue li[data-state=failed]') !== null", UI_WAIT_S, "the stale correction"
            )
            failed = [row for row in await queue(page) if row[1] == "failed"]
            assert len(failed) == 1 and failed[0][0] == ids[0]
            assert "Stale revision: this bout is already at revision 3" in failed[0][2]
            await page.screenshot(SHOTS / "7-stale-correction-409.png")

    asyncio.run(scenario())
    p.wait_applied()
    rows = {r["athlete_id"]: r for r in p.standings(division)["rows"]}
    # By hand: bouts 1-3 red wins by ko (5 points each, a finish), bouts 4-5 blue wins on points 1:4 (3:1).
    expected: dict[str, dict[str, int]] = {}
    for i, bout in enumerate(bouts):
        red, blue = bout["red_athlete_id"], bout["blue_athlete_id"]
        for a in (red, blue):
            expected.setdefault(a, {"bouts": 0, "wins": 0, "losses": 0, "points": 0, "for": 0, "against": 0})
        winner, loser, won_points, lost_points, w_tp, l_tp = (
            (red, blue, 5, 0, 3, 0) if i < 3 else (blue, red, 3, 1, 4, 1)
        )
        for a, won, cp, tp_for, tp_against in (
            (winner, 1, won_points, w_tp, l_tp),
            (loser, 0, lost_points, l_tp, w_tp),
        ):
            e = expected[a]
            e["bouts"] += 1
            e["wins"] += won
            e["losses"] += 1 - won
            e["points"] += cp
            e["for"] += tp_for
            e["against"] += tp_against
    for athlete, e in expected.items():
        row = rows[athlete]
        got = (row["bouts"], row["wins"], row["losses"])
        assert got == (e["bouts"], e["wins"], e["losses"]), athlete
        assert (row["points"], row["tp_for"], row["tp_against"]) == (
            e["points"],
            e["for"],
            e["against"],
        ), athlete
    assert sum(r["bouts"] for r in rows.values()) == 10  # five bouts, two athletes each: nothing counted twice


def test_two_tablets_on_one_mat_one_result_counts_the_other_shows_the_conflict(
    chromium: Chromium, pipeline: Pipeline
) -> None:
    p = pipeline
    division = p.divisions()[1]
    (bout,) = mat_bouts(p, division, 1)
    bout_id, red, blue = bout["bout_id"], bout["red_athlete_id"], bout["blue_athlete_id"]

    async def scenario() -> tuple[list[Any], list[Any]]:
        async with chromium.page(isolated=True) as first, chromium.page(isolated=True) as second:
            await open_console(first, p)
            await open_console(second, p)  # both loaded the bout at revision 1, before either sent
            await enter(first, bout_id, "red", "ko", 2, 0)
            await first.wait_for("document.querySelector('#queue li[data-state=sent]') !== null", UI_WAIT_S, "sent")
            await enter(second, bout_id, "blue", "submission", 0, 1)
            await second.wait_for(
                "document.querySelector('#queue li[data-state=failed]') !== null", UI_WAIT_S, "the conflict"
            )
            await first.screenshot(SHOTS / "8-first-tablet-sent.png")
            await second.screenshot(SHOTS / "9-second-tablet-conflict.png")
            return await first.evaluate(OUTBOX_JS), await queue(second)

    sent, other = asyncio.run(scenario())
    assert [(o["bout_id"], o["revision"], o["state"]) for o in sent] == [(bout_id, 1, "sent")]
    assert len(other) == 1 and other[0][:2] == (bout_id, "failed")
    assert "Conflict: another result was already sent for this bout at this revision" in other[0][2]
    record_sent(p, sent)
    p.wait_applied()
    rows = {r["athlete_id"]: r for r in p.standings(division)["rows"]}
    assert (rows[red]["wins"], rows[red]["points"], rows[red]["finishes"]) == (1, 5, 1)  # the first tablet's ko
    assert (rows[blue]["wins"], rows[blue]["losses"], rows[blue]["bouts"]) == (0, 1, 1)
    assert sum(r["bouts"] for r in rows.values()) == 2
