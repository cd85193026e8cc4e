"""The bracket overlay in a real headless Chromium at 1920x1080, before and after a correction.

Results are stored the way the projector commits them (tests/bracket_read_helpers.py). The board
shows the current bout highlighted and winners as they arrive; a correction upstream marks the
semifinal already fought as needing a re-fight. Screenshots: tests/artifacts/bracket-overlay*.png.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from services.api.app import create_app
from services.core.db.engine import make_engine
from services.embedded.postgres import EmbeddedPostgres
from tests.bracket_read_helpers import division_athletes, seed_bracket_division, win
from tests.cdp import Chromium
from tests.e2e.test_overlay_browser import wait_version
from tests.read_api_helpers import (
    UvicornThread,
    create_database,
    read_api_settings,
    registration_doc,
    seed_registration,
)

pytestmark = pytest.mark.browser

T, RR, D = "bracket-overlay-cup", "m-73kg", "e-81kg"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
_offsets = itertools.count(5000)


@pytest.fixture(scope="module")
def bracket_api(pg: EmbeddedPostgres) -> Iterator[tuple[str, Engine]]:
    url = create_database(pg, "bracket_overlay")
    settings = read_api_settings(url, sse_heartbeat_s=0.5)
    engine = make_engine(settings.database)
    seed_registration(engine, registration_doc(T, {RR: 8}))
    athletes = division_athletes(engine, T, RR)
    doc = {
        "format": "elimination",
        "repechage": "judo",
        "third_place": "bronze_bout",
        "advance": 2,
        "seeds": athletes,
        "draw": None,
        "pools": None,
    }
    seed_bracket_division(engine, T, D, athletes, doc)
    with UvicornThread(create_app(settings, engine=engine)).running() as server:
        yield server.url, engine
    engine.dispose()


def card(bout_id: str, attribute: str) -> str:
    return f"document.querySelector('.bout[data-bout-id=\"{bout_id}\"]').dataset.{attribute}"


def test_bracket_overlay_before_and_after_a_correction(chromium: Chromium, bracket_api: tuple[str, Engine]) -> None:
    base, engine = bracket_api

    def play(bout: str, side: str, revision: int = 1) -> int:
        return win(engine, T, D, f"{D}-{bout}", side, next(_offsets), revision)

    async def scenario() -> None:
        async with chromium.page() as page:
            await page.navigate(f"{base}/overlay/{T}/{D}/bracket")
            await page.wait_for("document.querySelectorAll('.bout').length === 11", 10, "11 bouts rendered")
            assert await page.evaluate("document.body.dataset.transport") == "sse"
            assert await page.evaluate(card(f"{D}-r1-b1", "current")) == "1"
            for bout in ("r1-b1", "r1-b2", "r1-b3", "r1-b4"):
                version = await asyncio.to_thread(play, bout, "red")
            version = await asyncio.to_thread(play, "r2-b1", "red")
            await wait_version(page, version, 2.0)
            assert await page.evaluate(card(f"{D}-r2-b1", "status")) == "decided"
            assert await page.evaluate("document.getElementById('board').dataset.current") == f"{D}-r2-b2"
            assert await page.evaluate(card(f"{D}-r2-b2", "current")) == "1"
            names = await page.evaluate("Array.from(document.querySelectorAll('.slot .name')).map(n => n.textContent)")
            assert "Ōno Shōhei" in names and "程训钊" in names
            await page.wait_for("document.getAnimations().length === 0", 5, "animations finished")
            await page.screenshot(ARTIFACTS / "bracket-overlay.png")

            version = await asyncio.to_thread(play, "r1-b1", "blue", 2)  # the correction
            await wait_version(page, version, 2.0)
            assert await page.evaluate(card(f"{D}-r2-b1", "invalidated")) == "1"
            assert await page.evaluate(card(f"{D}-r2-b1", "status")) == "invalidated"
            assert await page.evaluate("document.getElementById('refight-badge').hidden") is False
            await page.wait_for("document.getAnimations().length === 0", 5, "animations finished")
            await page.screenshot(ARTIFACTS / "bracket-overlay-correction.png")

        async with chromium.page() as page:
            await page.navigate(f"{base}/overlay/{T}/{D}/bracket?transport=poll&transparent=1&theme=light&lang=ja")
            await page.wait_for("document.querySelectorAll('.bout').length === 11", 10, "polled bracket")
            assert await page.evaluate("document.body.dataset.transport") == "poll"
            assert await page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgba(0, 0, 0, 0)"
            assert await page.evaluate("document.querySelector('.round:last-child .round-title').textContent") == "決勝"

    asyncio.run(scenario())
    assert (ARTIFACTS / "bracket-overlay.png").stat().st_size > 10_000
