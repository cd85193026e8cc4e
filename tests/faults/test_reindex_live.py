"""Full reindex under fire: changes keep flowing and the live indexer keeps writing during the rebuild,
readers poll the alias through the swap, a second reindex is refused, and a reindex killed with
SIGKILL mid-build leaves the alias on the old complete index and its orphan is cleaned up."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import sqlalchemy as sa
from elasticsearch import Elasticsearch
from sqlalchemy.orm import Session

from services.core.search import indices
from services.core.search.client import make_search_client
from services.core.search.queries import SORT
from services.core.settings import Settings
from services.embedded.search_engine import OsmemEngine
from services.indexer.loop import RankingsIndexer
from services.rankings import jobs
from services.rankings import rerank as repo
from services.rankings.audit import run_audit
from services.rankings.reindex import ReindexAlreadyRunning, Reindexer
from tests.rankings_support import TODAY, World, db_url, drop_indices, wait_for, world

__all__ = ["db_url", "world"]
CATEGORIES = ("m-66kg", "m-73kg", "m-81kg")


def _seed(world: World, per_category: int) -> list[str]:
    """One finalized world-tier division per category: ``per_category`` ranked athletes each."""
    athletes: list[str] = []
    world.tournament("worlds", "world", dt.date(2026, 6, 1))
    world.athletes(
        [
            (f"{c}-{i:05d}", f"Athlete {c} Nº{i}", ("GER", "JPN", "FRA")[i % 3])
            for c in CATEGORIES
            for i in range(per_category)
        ]
    )
    with Session(world.engine) as session, session.begin():
        for c in CATEGORIES:
            ids = [f"{c}-{i:05d}" for i in range(per_category)]
            athletes += ids
            world.division("worlds", c, c, ids)
            world.standings(session, "worlds", c, {a: i + 1 for i, a in enumerate(ids)})
        repo.apply_ranking_effects(session, set(), {("worlds", c) for c in CATEGORIES}, today=TODAY)
    return athletes


@dataclass
class Reader:
    """Polls one category's top 50 through the alias every 50 ms; records every anomaly."""

    client: Elasticsearch
    alias: str
    expected: int
    polls: int = 0
    anomalies: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                body = self.client.search(
                    index=self.alias,
                    query={"bool": {"filter": [{"term": {"category": CATEGORIES[1]}}]}},
                    sort=SORT,
                    size=50,
                    track_total_hits=True,
                ).body
                total = body["hits"]["total"]["value"]
                hits = body["hits"]["hits"]
                if len(hits) != 50 or total < self.expected:
                    self.anomalies.append(f"partial list: {len(hits)} hits, total {total}")
            except Exception as exc:
                self.anomalies.append(f"{type(exc).__name__}: {exc}")
            self.polls += 1
            self.stop.wait(0.05)


@dataclass
class Writer:
    """Keeps ranking documents changing: renames (re-indexed) and small finalized tournaments."""

    world: World
    athletes: list[str]
    changes: int = 0
    errors: list[BaseException] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        rng = random.Random(5)
        n = 0
        while not self.stop.is_set():
            n += 1
            try:
                picked = rng.sample(self.athletes, 5)
                with Session(self.world.engine) as session, session.begin():
                    session.execute(
                        sa.text("UPDATE athletes SET full_name = full_name || '.' WHERE athlete_id = ANY(:ids)"),
                        {"ids": picked},
                    )
                    self.changes += repo.touch_athletes(session, picked)
                if n % 100 == 0:
                    t = f"open-{n}"
                    cat = CATEGORIES[n % len(CATEGORIES)]
                    self.world.tournament(t, "open", dt.date(2026, 9, 1))
                    chosen = [a for a in rng.sample(self.athletes, 30) if a.startswith(cat)][:3]
                    self.world.division(t, "m", cat, chosen)
                    with Session(self.world.engine) as session, session.begin():
                        self.world.standings(session, t, "m", {a: i + 1 for i, a in enumerate(chosen)})
                        self.changes += repo.apply_ranking_effects(session, set(), {(t, "m")}, today=TODAY)
            except BaseException as exc:
                self.errors.append(exc)
                return
            self.stop.wait(0.02)


@pytest.fixture
def env(world: World, search: OsmemEngine) -> Iterator[tuple[Settings, Elasticsearch]]:
    settings = world.settings(search.url, bulk_concurrency=2)
    client = make_search_client(settings.search)
    yield settings, client
    drop_indices(client, settings.search.alias)
    client.close()


def test_reindex_while_changes_flow_readers_see_no_gap(world: World, env: tuple[Settings, Elasticsearch]) -> None:
    settings, client = env
    athletes = _seed(world, per_category=1500)
    indexer = RankingsIndexer(settings, world.engine, client, today=lambda: TODAY)
    stop = threading.Event()
    live = threading.Thread(target=indexer.run, args=(stop,), name="indexer", daemon=True)
    live.start()
    reader = Reader(make_search_client(settings.search), settings.search.alias, expected=1500)
    writer = Writer(world, athletes)
    threads = [threading.Thread(target=reader.run, daemon=True), threading.Thread(target=writer.run, daemon=True)]
    try:
        wait_for(lambda: indexer.status().alias_ok and indexer.status().pending == 0, 60, "initial load indexed")
        old = indices.alias_targets(client, settings.search.alias)
        for t in threads:
            t.start()
        wait_for(lambda: reader.polls >= 5 and writer.changes > 0, 10, "reader and writer running")

        before = reader.polls
        result = Reindexer(world.engine, client, settings.search).run()
        after_swap = reader.polls
        assert after_swap - before >= 3  # the reader kept polling while the index was rebuilt and swapped
        wait_for(lambda: reader.polls >= after_swap + 5, 10, "reader polls after the swap")
        writer.stop.set()
        threads[1].join(10)
        assert not writer.errors
        wait_for(lambda: indexer.status().pending == 0, 60, "live indexer caught up after the writer stopped")
    finally:
        reader.stop.set()
        writer.stop.set()
        for t in threads:
            if t.ident is not None:
                t.join(10)
        stop.set()
        live.join(15)
        reader.client.close()

    assert reader.anomalies == [], reader.anomalies[:5]
    assert indices.alias_targets(client, settings.search.alias) == [result.index_name]
    assert result.total >= 4500 and result.caught_up > 0  # changes made during the build reached the new index
    assert result.previous == old[0]
    assert set(indices.versioned_indices(client, settings.search.alias)) == {old[0], result.index_name}
    report = run_audit(world.engine, client, settings.search.alias)
    assert report.clean and report.pending == 0, report.to_dict(limit=5)
    assert report.checked == world.scalar("SELECT count(*) FROM rankings")
    with Session(world.engine) as session:
        job = jobs.get_job(session, result.job_id)
    assert job is not None and job.state == "done" and job.done == result.total


def test_a_second_reindex_is_refused(world: World, env: tuple[Settings, Elasticsearch]) -> None:
    settings, client = env
    _seed(world, per_category=20)
    reindexer = Reindexer(world.engine, client, settings.search)
    holder = reindexer.begin()  # another process's reindex, as far as the lock knows
    try:
        with pytest.raises(ReindexAlreadyRunning) as refused:
            Reindexer(world.engine, client, settings.search).run()
        assert refused.value.status == 409
    finally:
        holder.release()
    result = reindexer.run()  # the lock is free again
    assert result.total == 60


def _reindex_subprocess(settings: Settings) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "STANDINGS_DATABASE__URL": settings.database.url.get_secret_value(),
        "STANDINGS_SEARCH__URL": settings.search.url,
        "STANDINGS_SEARCH__PLAIN_JSON_MEDIA_TYPE": "true",
        "STANDINGS_SEARCH__ALIAS": settings.search.alias,
        "STANDINGS_SEARCH__BULK_CHUNK_SIZE": "200",
        "STANDINGS_SEARCH__BULK_CONCURRENCY": "1",
        "STANDINGS_LOG_JSON": "false",
    }
    code = "from services.cli.rankings import app; app(['reindex'])"
    return subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_kill9_mid_build_keeps_the_old_index_and_the_rerun_removes_the_orphan(
    world: World, env: tuple[Settings, Elasticsearch]
) -> None:
    settings, client = env
    _seed(world, per_category=1500)
    first = Reindexer(world.engine, client, settings.search).run()
    complete = indices.doc_count(client, first.index_name)
    assert complete == 4500

    proc = _reindex_subprocess(settings)
    try:

        def building() -> bool:
            if proc.poll() is not None:
                raise AssertionError(
                    f"reindex exited early: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}"
                )
            done = world.scalar(
                "SELECT done FROM reindex_jobs WHERE state = 'running' ORDER BY started_at DESC LIMIT 1"
            )
            return bool(done) and 0 < done < 4500

        wait_for(building, 60, "reindex subprocess mid-build")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)

    names = indices.versioned_indices(client, settings.search.alias)
    orphans = [n for n in names if n > first.index_name]
    assert len(orphans) == 1  # the half-built index of the killed run
    assert indices.alias_targets(client, settings.search.alias) == [first.index_name]
    assert indices.doc_count(client, settings.search.alias) == complete  # readers still see the full list
    assert run_audit(world.engine, client, settings.search.alias).clean

    rerun = Reindexer(world.engine, client, settings.search).run()  # the lock died with the killed process
    assert indices.alias_targets(client, settings.search.alias) == [rerun.index_name]
    assert set(indices.versioned_indices(client, settings.search.alias)) == {first.index_name, rerun.index_name}
    assert rerun.previous == first.index_name
    states = dict(world.rows("SELECT job_id, state FROM reindex_jobs"))
    assert sorted(states.values()) == ["done", "done", "failed"]  # the killed run is marked abandoned
    assert run_audit(world.engine, client, settings.search.alias).clean
