"""The broadcast overlay in a real headless Chromium: rows render, a result moves a row within 2 s
(SSE and the polling fallback), the STALE badge shows when the projector lags.

The result is written the way the projector commits it (results + standings rows + version bump +
NOTIFY, see tests/read_api_helpers.py) so the test isolates the read side and the page; the full
intake → Kafka → projector path is covered by the pipeline's own e2e tests.
A screenshot is saved to tests/artifacts/overlay.png.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from services.api.app import create_app
from services.core.db.engine import make_engine
from services.core.settings import ApiSettings, DatabaseSettings, Settings
from services.embedded.postgres import EmbeddedPostgres
from tests.cdp import Chromium, Page
from tests.read_api_helpers import (
    StoredResult,
    UvicornThread,
    apply_results,
    create_database,
    division_bout_list,
    registration_doc,
    report_lag,
    seed_registration,
)

pytestmark = pytest.mark.browser

T, D = "overlay-cup", "m-73kg"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
ROWS_JS = (
    "Array.from(document.querySelectorAll('#rows li[data-athlete-id]'))"
    ".map(li => [li.dataset.athleteId, Number(li.dataset.rank)])"
)


@pytest.fixture(scope="module")
def overlay_api(pg: EmbeddedPostgres) -> Iterator[tuple[str, Engine]]:
    url = create_database(pg, "overlay")
    settings = Settings(
        environment="test",
        log_json=False,
        database=DatabaseSettings(url=url),
        api=ApiSettings(sse_heartbeat_s=0.5, lag_poll_s=0.2, stale_after_s=10),
    )
    engine = make_engine(settings.database)
    seed_registration(engine, registration_doc(T, {D: 8}))
    with UvicornThread(create_app(settings, engine=engine)).running() as server:
        yield server.url, engine
    engine.dispose()


_offset = iter(range(1000, 100_000))


def win(engine: Engine, bout_index: int, side: str, method: str = "ko") -> int:
    bout = division_bout_list(engine, T, D)[bout_index]
    score = {"red": 3, "blue": 0} if side == "red" else {"red": 0, "blue": 3}
    payload = {"winner": side, "method": method, "score": score, "duration_s": 95, "referee_id": "ref-001"}
    return apply_results(engine, T, D, [StoredResult(bout.bout_id, 1, "result", payload, next(_offset))])


async def rows(page: Page) -> list[tuple[str, int]]:
    value: list[Any] = await page.evaluate(ROWS_JS)
    return [(a, int(r)) for a, r in value]


async def wait_version(page: Page, version: int, within_s: float) -> float:
    """Seconds until the board shows ``version`` (raises after ``within_s``)."""
    started = time.monotonic()
    await page.wait_for(
        f"document.getElementById('board').dataset.version === '{version}'",
        within_s,
        f"board at version {version}",
        interval=0.02,
    )
    return time.monotonic() - started


def test_overlay_updates_live_and_shows_stale(chromium: Chromium, overlay_api: tuple[str, Engine]) -> None:
    base, engine = overlay_api
    bouts = division_bout_list(engine, T, D)

    async def scenario() -> None:
        async with chromium.page() as page:
            await page.navigate(f"{base}/overlay/{T}/{D}?lang=ja&theme=dark&top=8&stale_after=3")
            await page.wait_for("document.querySelectorAll('#rows li').length === 8", 10, "8 rows rendered")
            assert await page.evaluate("document.body.dataset.transport") == "sse"
            assert await page.evaluate("document.querySelector('[data-label=wins]').textContent") == "勝"
            initial = await rows(page)
            assert all(rank == 1 for _, rank in initial)  # nobody has fought: all tied

            # A result: the blue athlete of some bout wins by ko and must move to rank 1 within 2 s.
            bout = bouts[5]
            posted = time.monotonic()
            version = await asyncio.to_thread(win, engine, 5, "blue")
            await wait_version(page, version, 2.0)
            assert time.monotonic() - posted < 2.0
            shown = await rows(page)
            assert shown[0] == (bout.blue, 1)
            assert shown[-1] == (bout.red, 8)  # the loser conceded technical points: last
            assert all(rank == 2 for _, rank in shown[1:-1])
            assert (
                await page.evaluate(
                    f"document.querySelector('#rows li[data-athlete-id=\"{bout.blue}\"] .c-move').textContent"
                )
                == ""
            )  # from a shared rank 1 to rank 1 alone: no movement

            # More results: rows move (FLIP animation) and show movement arrows.
            for i in (0, 1, 2):
                version = await asyncio.to_thread(win, engine, i, "red")
            await wait_version(page, version, 2.0)
            assert await page.evaluate("document.querySelectorAll('#rows .c-move.up, #rows .c-move.down').length") > 0
            names = await page.evaluate("Array.from(document.querySelectorAll('#rows .name')).map(n => n.textContent)")
            assert "Ōno Shōhei" in names and "안창림" in names and "程训钊" in names
            assert await page.evaluate("document.getElementById('stale-badge').hidden") is True
            await page.wait_for("document.getAnimations().length === 0", 5, "rank animations finished")
            await page.screenshot(ARTIFACTS / "overlay.png")

            # The projector reports lag on this division's partition while its last event is old: STALE.
            report_lag(engine, T, D, member_id="lagging", partition=0, lag=12, event_age_s=30)
            try:
                await page.wait_for("!document.getElementById('stale-badge').hidden", 5, "STALE badge")
                await page.screenshot(ARTIFACTS / "overlay-stale.png")
            finally:
                with Session(engine) as session, session.begin():
                    session.execute(text("DELETE FROM consumer_members WHERE member_id = 'lagging'"))
            await page.wait_for("document.getElementById('stale-badge').hidden", 5, "STALE badge cleared")

        # The polling fallback (as when EventSource is blocked) updates too.
        async with chromium.page() as page:
            await page.navigate(f"{base}/overlay/{T}/{D}?transport=poll&transparent=1&theme=light&top=5")
            await page.wait_for("document.querySelectorAll('#rows li').length === 5", 10, "top 5 rows rendered")
            assert await page.evaluate("document.body.dataset.transport") == "poll"
            assert await page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgba(0, 0, 0, 0)"
            for i in (10, 11, 12, 13):
                await asyncio.to_thread(win, engine, i, "blue" if i == 10 else "red")
            response = await asyncio.to_thread(
                httpx.get, f"{base}/v1/tournaments/{T}/divisions/{D}/standings", timeout=5
            )
            standings = response.json()
            await wait_version(page, standings["version"], 2.0)
            shown = await rows(page)
            assert shown == [(r["athlete_id"], r["rank"]) for r in standings["rows"][:5]]

    asyncio.run(scenario())
    assert (ARTIFACTS / "overlay.png").stat().st_size > 10_000
