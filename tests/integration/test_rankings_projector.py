"""The ranking effects through the real projector: match events on Kafka (tansu) -> projector batches
-> awards, rankings and outbox in the same transactions -> indexer -> search index, checked against
the pure domain applied to the final standings."""

from __future__ import annotations

from sqlalchemy.orm import Session

from services.core.db.schema import Division, Tournament
from services.core.domain.ranking import Tier, awards_for_division, ranking_list
from services.core.search.client import make_search_client
from services.embedded.search_engine import OsmemEngine
from services.indexer.loop import RankingsIndexer
from services.rankings.audit import run_audit
from services.rankings.model import utc_today
from services.rankings.rerank import process_requests
from tests.integration.projector_env import ProjectorEnv, projector_env, running
from tests.projector_support import build_registration, generate_events, produce, read_standings, wait_for_positions
from tests.rankings_support import drain_indexer, drop_indices, index_docs, rankings_settings

__all__ = ["projector_env"]


def test_finalized_tournaments_reach_the_ranking_index(projector_env: ProjectorEnv, search: OsmemEngine) -> None:
    env = projector_env
    reg = build_registration("rk", tournaments=2, divisions=2, athletes=5)
    env.register(reg)
    messages = generate_events(reg, 120, seed=5, finalize=True)
    with running(env.settings, env.engine):
        tracker = produce(env.settings.kafka, messages)
        wait_for_positions(env.engine, env.group, env.topic, dict(tracker.next_offsets), timeout=60)

    today = utc_today()
    # The projector recorded the awards and asked for re-ranks; the rankings stage does them.
    while process_requests(env.engine, today):
        pass
    with Session(env.engine) as session:
        standings = read_standings(session)
        info = {
            (d.tournament_id, d.division_id): (d.category, t.tier, t.end_date)
            for d, t in session.query(Division, Tournament).join(
                Tournament, Tournament.tournament_id == Division.tournament_id
            )
        }
    awards = [
        award
        for key, rows in standings.items()
        for award in awards_for_division(key[0], key[1], info[key][0], Tier(info[key][1]), info[key][2], rows)
    ]
    expected = {
        (e.category, e.athlete_id): (e.rank, e.points, e.best_award, e.awards)
        for entries in ranking_list(awards, today).values()
        for e in entries
    }
    stored = {
        (r[0], r[1]): (r[2], float(r[3]), float(r[4]), r[5])
        for r in env.rows("SELECT category, athlete_id, rank, points, best_award, awards FROM rankings")
    }
    assert stored == expected
    assert env.scalar("SELECT count(*) FROM ranking_awards WHERE provisional") == 0
    # every row's version is its latest outbox change
    assert (
        env.scalar(
            "SELECT count(*) FROM rankings r WHERE version <> "
            "(SELECT max(change_id) FROM ranking_changes c WHERE c.category = r.category AND c.athlete_id = r.athlete_id)"
        )
        == 0
    )

    settings = rankings_settings(env.settings.database.url.get_secret_value(), search.url)
    client = make_search_client(settings.search)
    try:
        indexer = RankingsIndexer(settings, env.engine, client)
        indexer.check_alias(force=True)
        drain_indexer(indexer)
        docs = index_docs(client, settings.search.alias)
        assert len(docs) == len(expected) > 0
        assert run_audit(env.engine, client, settings.search.alias).clean
    finally:
        drop_indices(client, settings.search.alias)
        client.close()
