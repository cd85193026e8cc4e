"""Chaos soak: three tournaments, ~50 000 messages, the whole pipeline on its own embedded stack.

Load: the bulk of the events produced straight to the topic by a real idempotent producer with
the same builders the intake uses (results, corrections, voids, out-of-order revisions, exact
retries, conflicting payloads, re-produced blocks, poison messages), a few thousand through the
intake HTTP API (each 202 must be reflected), the tournaments finalized through the intake, and a
broadcast overlay polling standings at ~4 Hz per division.

Chaos (``chaos.py``): >= 20 SIGKILLs of the projector and the indexer (real child processes),
the search engine stopped ~60 s and back EMPTY, PostgreSQL stopped a few seconds, a second
projector member added and removed, a full ``standings reindex`` mid-way.

Then, once everything drained (bounded waits): standings == a from-scratch recomputation of the
topic with the pure domain, every 202 stored, every poison message and conflict in the DLQ,
duplicates absorbed, rankings == a recomputation from the awards, the search index == PostgreSQL
(audit: 0 drift). A summary is printed and written to ``tests/artifacts/soak-summary.json``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session

from services.core.db.tokens import create_token
from services.core.search import indices
from services.core.search.client import make_search_client
from services.core.settings import Settings, settings_to_env
from services.embedded.waiting import free_port
from services.rankings import feed as rankings_feed
from services.rankings.audit import run_audit
from services.rankings.model import utc_today
from tests.faults.soak import chaos, verify
from tests.faults.soak.processes import Service
from tests.faults.soak.scenario import POLLED, SEED, Scenario, build_scenario
from tests.faults.soak.stack import Stack
from tests.faults.soak.traffic import BulkProducer, OverlayPoller, Referee, percentile
from tests.read_api_helpers import UvicornThread, api_rows

pytestmark = [pytest.mark.soak, pytest.mark.timeout(600)]

WINDOW_S = 165.0  # the production window: traffic and chaos run over it
DRAIN_TIMEOUT_S = 180.0
INDEXER_TIMEOUT_S = 120.0
SUMMARY_PATH = Path(__file__).resolve().parents[2] / "artifacts" / "soak-summary.json"
LOGS_PATH = SUMMARY_PATH.with_name("soak-logs")  # every child's log, kept for the post-mortem


def child_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STANDINGS_")}
    env.update(settings_to_env(settings))
    env["PYTHONUNBUFFERED"] = "1"
    return env


class Soak:
    """One soak run: setup, traffic + chaos, drain, verification; ``failures`` collects every
    violated expectation (the summary is written whatever happens)."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.settings = stack.settings
        self.engine = stack.engine
        self.failures: list[str] = []
        self.phases: dict[str, float] = {}
        self.facts: dict[str, Any] = {}
        self.scenario: Scenario | None = None
        self.intake: UvicornThread | None = None
        self.api: UvicornThread | None = None
        self.indexer_ports: list[int] = []
        env = child_env(self.settings)
        projector_args = [sys.executable, "-m", "services.projector.main"]
        self.projector_a = Service("projector-a", projector_args, lambda: env, stack.log_dir, stack.spawner)
        self.projector_b = Service("projector-b", projector_args, lambda: env, stack.log_dir, stack.spawner)
        self.indexer = Service(
            "indexer",
            [sys.executable, "-m", "services.indexer.main"],
            self._indexer_env,
            stack.log_dir,
            stack.spawner,
        )
        self.producer: BulkProducer | None = None
        self.referee: Referee | None = None
        self.poller: OverlayPoller | None = None
        self.chaos: chaos.ChaosDriver | None = None
        self.started = time.monotonic()

    def check(self, ok: bool, message: str) -> bool:
        if not ok:
            self.failures.append(message)
        return ok

    def _indexer_env(self) -> dict[str, str]:
        port = free_port()
        self.indexer_ports.append(port)
        settings = self.settings.model_copy(
            update={"indexer": self.settings.indexer.model_copy(update={"http_port": port})}
        )
        return child_env(settings)

    # -- phases -----------------------------------------------------------------------------------

    @contextmanager
    def _phase(self, name: str) -> Iterator[None]:
        """Times the block into ``phases[name]`` (seconds)."""
        started = time.monotonic()
        yield
        self.phases[name] = time.monotonic() - started

    def run(self) -> None:
        with self._phase("setup_s"):
            tokens = self.setup()
        with self._phase("traffic_and_chaos_s"):
            self.traffic(tokens)
        with self._phase("drain_s"):
            log = self.drain()
        with self._phase("verify_s"):
            self.verify_all(log)

    def setup(self) -> dict[str, str]:
        from services.api.app import create_app as create_api
        from services.intake.app import create_app as create_intake

        self.scenario = scenario = build_scenario(SEED)
        pepper = self.settings.token_pepper.get_secret_value()
        with Session(self.engine) as session, session.begin():
            scenario.reg.insert(session)
            tournaments = [str(t["tournament_id"]) for t in scenario.reg.tournaments]
            tokens = {
                "referee": create_token(session, "soak-referee", "referee", tournaments, pepper=pepper)[1],
                "ops": create_token(session, "soak-ops", "ops", pepper=pepper)[1],
            }
        self.intake = UvicornThread(create_intake(self.settings)).start()
        self.api = UvicornThread(create_api(self.settings)).start()
        self.projector_a.start()
        self.indexer.start()
        self._wait_log(self.projector_a, "partitions_assigned", 60)
        self._wait_log(self.indexer, "indexer_started", 60)
        return tokens

    def traffic(self, tokens: dict[str, str]) -> None:
        scenario = self.scenario
        assert scenario is not None and self.intake is not None and self.api is not None
        start_at = time.monotonic() + 0.5
        rng = random.Random(SEED)
        self.poller = OverlayPoller(self.api.url, POLLED, start_at)
        self.producer = BulkProducer(self.settings.kafka, scenario.direct, start_at, WINDOW_S)
        self.referee = Referee(self.intake.url, tokens, scenario.http, start_at, WINDOW_S)
        self.chaos = chaos.ChaosDriver(
            self.stack,
            members=(self.projector_a, self.projector_b),
            indexer=self.indexer,
            reindex_env=child_env(self.settings),
            steps=chaos.schedule(rng, WINDOW_S),
            start_at=start_at,
            rng=rng,
        )
        for worker in (self.poller, self.producer, self.referee, self.chaos):
            worker.start()
        for worker, budget in ((self.producer, WINDOW_S + 90), (self.referee, WINDOW_S + 150)):
            worker.join(max(1.0, start_at + budget - time.monotonic()))
            if worker.is_alive():
                raise TimeoutError(f"{worker.name} still running {budget} s after the traffic started")
            if worker.error:
                raise AssertionError(f"{worker.name} failed:\n{worker.error}")
        last_step = max(s.at for s in self.chaos.steps)
        self.chaos.join(max(1.0, start_at + last_step + chaos.REINDEX_BUDGET_S + 60 - time.monotonic()))
        if self.chaos.is_alive():
            raise TimeoutError("the chaos driver did not finish its schedule")
        if self.chaos.error:
            raise AssertionError(f"chaos driver failed:\n{self.chaos.error}")

    def known_ends(self) -> dict[int, int]:
        assert self.producer is not None and self.referee is not None
        ends: dict[int, int] = {}
        places = list(self.producer.delivered.values()) + [(a.partition, a.offset) for a in self.referee.accepted]
        for p, o in places:
            ends[p] = max(ends.get(p, 0), o + 1)
        return ends

    def drain(self) -> dict[verify.Offset, verify.Record]:
        """Chaos is over: the single member and the indexer run; wait (bounded) until the projector's
        positions cover the whole topic and the indexer has nothing left to index."""
        for service in (self.projector_a, self.indexer):
            if service.reap_unexpected() or service.current is None:
                service.start()
        if self.projector_b.current is not None:
            self.projector_b.terminate()
        ends = self.known_ends()
        self._wait_positions(ends, DRAIN_TIMEOUT_S)
        log = verify.read_topic(
            self.settings.kafka.bootstrap_servers,
            self.settings.kafka.topic,
            self.settings.kafka.partitions,
            verify.covers(ends),
        )
        beyond: dict[int, int] = {}
        for p, o in log:
            if o >= ends.get(p, 0):
                beyond[p] = max(beyond.get(p, 0), o + 1)
        if beyond:  # intake deliveries whose 202 never came back (a timeout): the projector must apply them too
            self._wait_positions({**ends, **beyond}, 60)
        self._wait_indexer(INDEXER_TIMEOUT_S)
        assert self.poller is not None
        self.poller.finish(10)
        for service in (self.projector_a, self.indexer):
            code = service.terminate(30)
            self.check(code == 0, f"{service.name} exited with {code} on SIGTERM")
        return log

    # -- verification -----------------------------------------------------------------------------

    def verify_all(self, log: dict[verify.Offset, verify.Record]) -> None:
        scenario, producer, referee = self.scenario, self.producer, self.referee
        assert scenario is not None and producer is not None and referee is not None and self.chaos is not None
        check = self.check
        replayed = verify.replay(log, scenario)
        self.facts["replay"] = replayed
        self.facts["log_records"] = len(log)

        # The topic holds exactly what was produced: every delivery report and every 202.
        check(not producer.delivery_errors, f"bulk producer delivery errors: {producer.delivery_errors[:3]}")
        check(
            len(producer.delivered) == len(scenario.direct),
            f"{len(producer.delivered)} of {len(scenario.direct)} direct messages delivered",
        )
        wrong = [
            i
            for i, place in producer.delivered.items()
            if log.get(place) is None or log[place].value != scenario.direct[i].message.value
        ]
        check(not wrong, f"{len(wrong)} delivered messages missing or different in the topic")
        known = set(producer.delivered.values()) | {(a.partition, a.offset) for a in referee.accepted}
        unknown = [place for place in log if place not in known]
        self.facts["unacknowledged_intake_deliveries"] = len(unknown)
        check(
            all(log[p].headers.get("producer-id") == b"intake" for p in unknown),
            "records in the topic that nobody produced",
        )

        # Standings: PostgreSQL == the from-scratch oracle, every division.
        oracle = verify.standings_oracle(scenario, replayed.applied, replayed.brackets)
        stored = verify.pg_standings(self.engine)
        bad = [k for k in oracle if stored.get(k, []) != oracle[k]]
        for key in bad[:3]:
            self.failures.append(f"standings of {key} differ:\n{verify.diff_rows(oracle[key], stored.get(key, []))}")
        check(not bad, f"{len(bad)} of {len(oracle)} divisions differ from the oracle")
        self.facts["divisions_checked"] = len(oracle)
        self._verify_brackets(replayed)

        # Results: exactly the first-applied revision of every (bout, revision), from its offset.
        results = verify.pg_results(self.engine)
        check(
            len(results) == len(replayed.applied),
            f"{len(results)} results stored, {len(replayed.applied)} distinct revisions in the topic",
        )
        mismatched = []
        for rkey, (revision, where) in replayed.applied.items():
            row = results.get(rkey)
            if row is None or row[2] != where or row[0] != ("void" if verify.is_void(revision) else "result"):
                stored_at = None if row is None else row[2]
                sources = {at: log[at].headers.get("producer-id") for at in (where, stored_at) if at in log}
                mismatched.append(f"{rkey}: stored {row}, first applied at {where}; producers {sources}")
        for line in mismatched[:3]:
            self.failures.append(f"stored revision differs: {line}")
        check(not mismatched, f"{len(mismatched)} stored revisions are not the first applied one")
        effective = Counter(b for (b, _), row in results.items() if row[3])
        check(all(n == 1 for n in effective.values()), "a bout has more than one effective revision")
        conflicts = {
            (int(p), int(o))
            for p, o in verify.pg_rows(self.engine, "SELECT source_partition, source_offset FROM result_conflicts")
        }
        check(
            conflicts == set(replayed.conflicts),
            f"conflicts: {len(conflicts)} recorded, {len(replayed.conflicts)} expected",
        )

        check(len(log) >= 50_000, f"only {len(log)} messages in the topic")

        # Every intake 202 is reflected: covered by the projector's positions and stored as posted.
        positions = self._positions()
        uncovered = [a for a in referee.accepted if positions.get(a.partition, 0) <= a.offset]
        check(not uncovered, f"{len(uncovered)} accepted events above the projector's positions")
        not_stored = []
        for a in referee.accepted:
            record = log.get((a.partition, a.offset))
            if record is None or (record.value and a.event_id.encode() not in record.value):
                not_stored.append(f"{a.action.kind} {a.action.bout_id} not at {a.partition}:{a.offset}")
                continue
            if a.action.kind == "finalize":
                continue
            row = results.get((a.action.bout_id, a.action.revision))
            want_kind = "void" if a.action.kind == "void" else "result"
            if (
                row is None
                or row[0] != want_kind
                or (want_kind == "result" and row[1] != verify.expected_payload(a.action.body))
            ):
                not_stored.append(f"{a.action.kind} {a.action.bout_id} r{a.action.revision}: stored {row}")
        check(not not_stored, f"{len(not_stored)} accepted requests not reflected: {not_stored[:3]}")
        unfinalized = verify.pg_rows(
            self.engine,
            "SELECT (SELECT count(*) FROM divisions WHERE finalized_at IS NULL),"
            " (SELECT count(*) FROM tournaments WHERE status <> 'finalized')",
        )[0]
        check(tuple(unfinalized) == (0, 0), f"not finalized (divisions, tournaments): {tuple(unfinalized)}")

        self._verify_dlq(replayed, log)
        self._verify_counters(replayed)
        self._verify_rankings(oracle)
        self._verify_read_api(oracle)
        self._verify_chaos()

    def _verify_brackets(self, replayed: verify.Replay) -> None:
        """Every bracket division's ``bracket_bouts`` == its replay: slots, winners, invalidations."""
        stored = verify.pg_bracket_bouts(self.engine)
        bad = [key for key, oracle in replayed.brackets.items() if stored.get(key) != oracle.bout_rows()]
        for key in bad[:2]:
            want, got = replayed.brackets[key].bout_rows(), stored.get(key, {})
            diff = [
                f"    {b}: expected {want.get(b)}, stored {got.get(b)}"
                for b in sorted(want | got)
                if want.get(b) != got.get(b)
            ]
            self.failures.append(f"bracket of {key} differs:\n" + "\n".join(diff[:4]))
        self.check(not bad, f"{len(bad)} of {len(replayed.brackets)} brackets differ from the replay")
        invalidating = sum(o.invalidating for o in replayed.brackets.values())
        self.check(invalidating > 0, "no bracket correction re-routed a fought bout")
        self.facts["brackets"] = {
            "divisions": len(replayed.brackets),
            "bracket_revisions": sum(len(o.applied) for o in replayed.brackets.values()),
            "dead_lettered": dict(replayed.bracket_rejected),
            "revisions_invalidating_fought_bouts": invalidating,
            "finals_decided": sum(o.bout_rows()[f"{k[1]}-final"][0] == "decided" for k, o in replayed.brackets.items()),
        }

    def _verify_dlq(self, replayed: verify.Replay, log: dict[verify.Offset, verify.Record]) -> None:
        """Every poison message and every conflict is in the DLQ, once or more (at least once), with
        its original key, value and headers and headers naming the error, source and group."""
        expected = replayed.dead_letters()
        settings = self.settings

        def complete(records: dict[verify.Offset, verify.Record]) -> bool:
            found = {_source(r) for r in records.values()}
            return all(place in found for place in expected)

        dlq = verify.read_topic(
            settings.kafka.bootstrap_servers, settings.kafka.dlq_topic, settings.kafka.partitions, complete
        )
        got: dict[verify.Offset, set[str]] = {}
        wrong_source = 0
        not_original = 0
        for record in dlq.values():
            source = _source(record)
            got.setdefault(source, set()).add(record.headers.get("error.class", b"").decode())
            if (
                record.headers.get("source.topic") != settings.kafka.topic.encode()
                or record.headers.get("consumer.group") != settings.projector.group_id.encode()
            ):
                wrong_source += 1
            if not _carries_original(record, log.get(source)):
                not_original += 1
        missing = [p for p in expected if p not in got]
        wrong = [p for p, reason in expected.items() if p in got and got[p] != {reason}]
        extra = [p for p in got if p not in expected]
        self.check(not missing, f"{len(missing)} dead letters missing from the DLQ, e.g. {missing[:3]}")
        self.check(
            not wrong,
            f"{len(wrong)} dead letters with the wrong error.class, e.g. "
            f"{[(p, expected[p], got[p]) for p in wrong[:3]]}",
        )
        self.check(not extra, f"{len(extra)} unexpected DLQ entries, e.g. {[(p, got[p]) for p in extra[:3]]}")
        self.check(wrong_source == 0, f"{wrong_source} DLQ entries without the right source/group headers")
        self.check(not_original == 0, f"{not_original} DLQ entries do not carry the original key/value/headers")
        self.facts["dlq"] = {
            "messages": len(dlq),
            "distinct_sources": len(got),
            "redelivered": len(dlq) - len(got),
            "by_reason": dict(sorted(Counter(next(iter(v)) for v in got.values()).items())),
        }

    def _verify_counters(self, replayed: verify.Replay) -> None:
        """Duplicates absorbed: the projectors' ``batch_applied`` log lines, summed over every run."""
        duplicates = replays = conflicts = 0
        for service in (self.projector_a, self.projector_b):
            for _, line in service.lines("batch_applied"):
                duplicates += int(line.get("duplicates", 0))
                replays += int(line.get("replayed", 0))
                conflicts += int(line.get("conflicts", 0))
        # A batch whose process was killed between its commit and its log line is not counted.
        self.check(
            duplicates <= replayed.duplicates,
            f"{duplicates} duplicates absorbed, only {replayed.duplicates} in the topic",
        )
        self.check(
            conflicts <= len(replayed.conflicts),
            f"{conflicts} conflicts logged, {len(replayed.conflicts)} in the topic",
        )
        # A batch refused for an offset gap is read again; applying across one is a loss here (no retention).
        gaps = Counter(
            name
            for service in (self.projector_a, self.projector_b)
            for name in ("offset_gap_rereading", "offset_gap_accepted")
            for _ in service.lines(name)
        )
        self.check(not gaps["offset_gap_accepted"], f"{gaps['offset_gap_accepted']} offset gaps applied across")
        self.facts["counters"] = {
            "duplicates_logged": duplicates,
            "replayed_logged": replays,
            "conflicts_logged": conflicts,
            "offset_gaps_reread": gaps["offset_gap_rereading"],
        }

    def _verify_rankings(self, oracle: dict[verify.DivisionKey, list[Any]]) -> None:
        assert self.scenario is not None
        today = utc_today()
        awards, ranking = verify.rankings_oracle(self.scenario, oracle, today)
        stored_awards = verify.pg_awards(self.engine)
        self.check(
            {k: (r, p) for k, (r, p, _) in stored_awards.items()} == awards,
            f"ranking awards differ from the standings ({len(stored_awards)} stored, {len(awards)} expected)",
        )
        self.check(not any(prov for _, _, prov in stored_awards.values()), "provisional awards left after finalize")
        stored = verify.pg_rankings(self.engine)
        diff = [k for k in set(stored) | set(ranking) if stored.get(k) != ranking.get(k)]
        self.check(
            not diff,
            f"{len(diff)} ranking rows differ from the recomputation, e.g. "
            f"{[(k, stored.get(k), ranking.get(k)) for k in diff[:3]]}",
        )
        client = make_search_client(self.settings.search)
        try:
            report = run_audit(self.engine, client, self.settings.search.alias)
            targets = indices.alias_targets(client, self.settings.search.alias)
            versioned = indices.versioned_indices(client, self.settings.search.alias)
            docs = indices.doc_count(client, self.settings.search.alias)
        finally:
            client.close()
        self.check(report.clean and report.pending == 0, f"audit: {report.to_dict(limit=3)}")
        self.check(report.checked == len(stored), f"audit checked {report.checked}, {len(stored)} ranking rows")
        self.check(len(targets) == 1 and docs == len(stored), f"alias -> {targets} with {docs} documents")
        self.check(len(versioned) <= 2, f"old indices not cleaned up: {versioned}")
        self.facts["rankings"] = {
            "awards": len(stored_awards),
            "documents": docs,
            "categories": len({c for c, _ in stored}),
            "alias": targets,
            "indices": versioned,
        }
        self.facts["audit"] = report.to_dict(limit=5)

    def _verify_read_api(self, oracle: dict[verify.DivisionKey, list[Any]]) -> None:
        """The read API serves the final tables (its cache survived the PostgreSQL restart)."""
        assert self.api is not None
        stale = []
        with httpx.Client(timeout=10) as client:
            for (t, d), rows in oracle.items():
                resp = client.get(f"{self.api.url}/v1/tournaments/{t}/divisions/{d}/standings")
                if resp.status_code != 200 or api_rows(resp.json()) != rows:
                    stale.append(f"{t}/{d}: {resp.status_code}")
        self.check(not stale, f"read API serves other standings than the oracle: {stale[:3]}")

    def _verify_chaos(self) -> None:
        assert self.chaos is not None and self.poller is not None and self.referee is not None
        record = self.chaos.record
        check = self.check
        kills = Counter(k["target"] for k in record.kills)
        check(len(record.kills) >= 20, f"only {len(record.kills)} kills")
        check(kills["indexer"] >= 5 and kills["projector-a"] + kills["projector-b"] >= 5, f"kills: {kills}")
        crashes = [x for s in (self.projector_a, self.projector_b, self.indexer) for x in s.unexpected_exits]
        check(not crashes, f"{len(crashes)} child processes exited on their own:\n" + "\n".join(crashes[:2]))
        outage = (record.search_up_at or 0) - (record.search_down_at or 0)
        check(outage >= 55, f"search outage {outage:.1f} s")
        # The engine came back empty: the indexer must have noticed the missing alias and rebuilt.
        back = record.search_up_wall or float("inf")
        noticed = [line for _, line in self.indexer.lines("index_alias_missing") if _logged_at(line) >= back]
        rebuilt = [line for _, line in self.indexer.lines("index_rebuilt") if _logged_at(line) >= back]
        check(bool(noticed) and bool(rebuilt), "the indexer never rebuilt the index after the engine came back empty")
        outcomes = [r["outcome"] for r in record.reindex]
        check(
            "done" in outcomes and all(o in ("done", "refused: already running") for o in outcomes),
            f"reindex: {record.reindex}",
        )
        joined = [line for _, line in self.projector_b.lines("partitions_assigned") if line.get("partitions")]
        check(bool(joined), "the second projector member never got partitions")
        check(record.member.get("exit_code") == 0, f"second member removal: {record.member}")
        check(
            not self.poller.undocumented,
            f"overlay poller: {len(self.poller.undocumented)} undocumented "
            f"answers, e.g. {self.poller.undocumented[:3]}",
        )
        check(not self.referee.failures, f"referee: {self.referee.failures[:3]}")
        check(self.referee.done == len(self.referee.actions), "referee did not finish its script")
        self.facts["rebuilds"] = len(rebuilt)
        self.facts["reindex_jobs"] = [
            {"state": r[0], "total": r[1], "caught_up": r[2], "error": r[3]}
            for r in verify.pg_rows(
                self.engine, "SELECT state, total, caught_up, error FROM reindex_jobs ORDER BY started_at"
            )
        ]

    # -- waits --------------------------------------------------------------------------------------

    def _wait_log(self, service: Service, event: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(True for _ in service.lines(event)):
                return
            if service.reap_unexpected():
                raise AssertionError(service.unexpected_exits[-1])
            time.sleep(0.1)
        raise TimeoutError(f"{service.name}: no {event!r} within {timeout} s")

    def _alive(self, *services: Service) -> None:
        for service in services:
            if service.reap_unexpected():
                raise AssertionError(service.unexpected_exits[-1])

    def _positions(self) -> dict[int, int]:
        rows = verify.pg_rows(
            self.engine,
            "SELECT partition, next_offset FROM consumer_positions WHERE consumer_group = :g AND topic = :t",
            g=self.settings.projector.group_id,
            t=self.settings.kafka.topic,
        )
        return {int(p): int(o) for p, o in rows}

    def _wait_positions(self, ends: dict[int, int], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        have: dict[int, int] = {}
        while time.monotonic() < deadline:
            self._alive(self.projector_a, self.indexer)
            have = self._positions()
            if all(have.get(p, 0) >= o for p, o in ends.items()):
                return
            time.sleep(0.2)
        raise TimeoutError(f"projector positions {have} did not reach {ends} within {timeout} s")

    def _wait_indexer(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            self._alive(self.projector_a, self.indexer)
            with Session(self.engine) as session:
                backlog = rankings_feed.backlog(session)
            run = self.indexer.current
            if backlog.pending == 0 and run is not None:
                try:
                    resp = httpx.get(f"http://127.0.0.1:{self.indexer_ports[run.number]}/readyz", timeout=2)
                    if resp.status_code == 200:
                        return
                    last = resp.text[:300]
                except httpx.TransportError as exc:
                    last = str(exc)
            time.sleep(0.2)
        raise TimeoutError(f"indexer not caught up and ready within {timeout} s: {last}")

    # -- teardown and summary ---------------------------------------------------------------------

    def shutdown(self) -> None:
        for worker in (self.chaos, self.referee, self.producer, self.poller):
            if worker is not None and worker.is_alive():
                try:
                    worker.finish(20)
                except TimeoutError as exc:
                    self.failures.append(str(exc))
        for service in (self.projector_b, self.projector_a, self.indexer):
            service.stop_all()
        for server in (self.api, self.intake):
            if server is not None:
                server.stop()

    def summary(self) -> dict[str, Any]:
        scenario, producer, referee, poller, driver = (
            self.scenario,
            self.producer,
            self.referee,
            self.poller,
            self.chaos,
        )
        out: dict[str, Any] = {
            "result": "passed" if not self.failures else "failed",
            "seed": SEED,
            "duration_s": round(time.monotonic() - self.started, 1),
            "phases_s": {k: round(v, 1) for k, v in self.phases.items()},
            "window_s": WINDOW_S,
        }
        if scenario is not None:
            counts = scenario.counts()
            http_kinds = Counter(("repost" if a.repost else a.kind) for a in scenario.http if a.kind != "finalize")
            out["events"] = {
                "total_messages": len(scenario.direct) + sum(http_kinds.values()) + len(scenario.reg.divisions),
                "direct_to_topic": {
                    "total": len(scenario.direct),
                    "delivered": len(producer.delivered) if producer is not None else None,
                    "events": counts.get("event", 0),
                    "reproduced": counts.get("reproduced", 0),
                    "poison": {k.split(":", 1)[1]: v for k, v in counts.items() if k.startswith("poison:")},
                },
                "via_intake_http": {
                    "requests_planned": sum(http_kinds.values()),
                    "by_kind": dict(sorted(http_kinds.items())),
                    "finalize_requests": sum(a.kind == "finalize" for a in scenario.http),
                },
            }
        replayed: verify.Replay | None = self.facts.get("replay")
        if replayed is not None:
            out["topic"] = {
                "records": self.facts.get("log_records"),
                **dict(sorted(replayed.by_type.items())),
                "distinct_revisions": len(replayed.applied),
                "voids": sum(verify.is_void(r) for r, _ in replayed.applied.values()),
                "corrections": sum(r.revision > 1 and verify.is_result(r) for r, _ in replayed.applied.values()),
                "duplicates": replayed.duplicates,
                "conflicts": len(replayed.conflicts),
                "poison": len(replayed.poison),
                "dead_letters_expected": len(replayed.dead_letters()),
                "unacknowledged_intake_deliveries": self.facts.get("unacknowledged_intake_deliveries"),
            }
        if referee is not None:
            out.setdefault("events", {}).setdefault("via_intake_http", {}).update(
                {
                    "accepted_202": sum(a.action.kind != "finalize" for a in referee.accepted),
                    "finalize_events": sum(a.action.kind == "finalize" for a in referee.accepted),
                    "statuses": dict(sorted(referee.statuses.items())),
                    "retries": referee.retries,
                    "latency_ms_p50_p99": [
                        percentile(referee.latencies_ms, 0.5),
                        percentile(referee.latencies_ms, 0.99),
                    ],
                }
            )
        if driver is not None:
            record = driver.record
            out["chaos"] = {
                "kills": len(record.kills),
                "kills_by_target": dict(sorted(Counter(k["target"] for k in record.kills).items())),
                "search_outage_s": _span(record.search_down_at, record.search_up_at),
                "postgres_outage_s": _span(record.pg_down_at, record.pg_up_at),
                "second_member": record.member,
                "reindex": record.reindex,
                "crash_restarts": record.restarted_after_crash,
                "timeline": record.timeline,
            }
        out["duplicates_absorbed"] = {
            "in_topic": replayed.duplicates if replayed else None,
            **self.facts.get("counters", {}),
        }
        out["conflicts"] = len(replayed.conflicts) if replayed else None
        out["dlq"] = self.facts.get("dlq")
        if poller is not None:
            out["overlay_poller"] = {
                "requests": sum(poller.statuses.values()),
                "statuses": dict(sorted(poller.statuses.items())),
                "documented_503": poller.statuses.get("503", 0),
                "undocumented": poller.undocumented[:5],
                "latency_ms_p50_p99": [percentile(poller.latencies_ms, 0.5), percentile(poller.latencies_ms, 0.99)],
            }
        out["indexer_rebuilds"] = self.facts.get("rebuilds")
        out["reindex_jobs"] = self.facts.get("reindex_jobs")
        out["rankings"] = self.facts.get("rankings")
        out["audit"] = self.facts.get("audit")
        out["divisions_checked"] = self.facts.get("divisions_checked")
        out["brackets"] = self.facts.get("brackets")
        out["failures"] = self.failures
        return out


def _carries_original(dead_letter: verify.Record, original: verify.Record | None) -> bool:
    """The DLQ copy keeps the source's key, value and headers (the error headers come on top)."""
    if original is None or (original.key, original.value) != (dead_letter.key, dead_letter.value):
        return False
    return all(dead_letter.headers.get(k) == v for k, v in original.headers.items())


def _logged_at(line: dict[str, Any]) -> float:
    """A child's JSON log line's timestamp (epoch seconds)."""
    try:
        return dt.datetime.fromisoformat(str(line["timestamp"])).timestamp()
    except (KeyError, ValueError):
        return float("-inf")


def _source(record: verify.Record) -> verify.Offset:
    return int(record.headers.get("source.partition", b"-1")), int(record.headers.get("source.offset", b"-1"))


def _span(start: float | None, end: float | None) -> float | None:
    return round(end - start, 1) if start is not None and end is not None else None


def render(summary: dict[str, Any]) -> str:
    """The summary as a few lines for the terminal (the JSON file has everything)."""
    ev = summary.get("events", {})
    direct, http = ev.get("direct_to_topic", {}), ev.get("via_intake_http", {})
    chaos_ = summary.get("chaos", {})
    poller = summary.get("overlay_poller", {})
    audit = summary.get("audit") or {}
    lines = [
        "",
        f"=== chaos soak: {summary['result'].upper()} in {summary['duration_s']} s {summary.get('phases_s')} ===",
        f"events: {ev.get('total_messages')} messages",
        f"  produced directly to the topic: {direct.get('total')} ({direct.get('events')} generated events, "
        f"{direct.get('reproduced')} re-produced, poison {direct.get('poison')})",
        f"  through the intake HTTP API: {http.get('accepted_202')} accepted (202) {http.get('by_kind')}, "
        f"{http.get('finalize_requests')} finalize requests -> {http.get('finalize_events')} events; "
        f"statuses {http.get('statuses')}, p50/p99 {http.get('latency_ms_p50_p99')} ms",
        f"topic: {summary.get('topic')}",
        f"kills: {chaos_.get('kills')} {chaos_.get('kills_by_target')}",
        f"search outage {chaos_.get('search_outage_s')} s (back empty; indexer rebuilds since: "
        f"{summary.get('indexer_rebuilds')}); postgres outage {chaos_.get('postgres_outage_s')} s; "
        f"second member {chaos_.get('second_member')}",
        f"reindex: {chaos_.get('reindex')}",
        f"duplicates absorbed: {summary.get('duplicates_absorbed')}; conflicts recorded: {summary.get('conflicts')}",
        f"dlq: {summary.get('dlq')}",
        f"overlay poller: {poller.get('requests')} requests {poller.get('statuses')} "
        f"(documented 503: {poller.get('documented_503')}), p50/p99 {poller.get('latency_ms_p50_p99')} ms",
        f"rankings: {summary.get('rankings')}",
        f"final audit: checked {audit.get('checked')}, drift {audit.get('drift')}, pending {audit.get('pending')}",
        f"standings: {summary.get('divisions_checked')} divisions == from-scratch oracle",
        f"brackets == their log-order replay: {summary.get('brackets')}",
    ]
    if summary["failures"]:
        lines.append("FAILURES:")
        lines += [f"  - {f}" for f in summary["failures"]]
    lines.append(f"summary: {SUMMARY_PATH}, logs: {LOGS_PATH}")
    return "\n".join(lines)


def test_chaos_soak(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    soak = Soak(stack)
    try:
        soak.run()
    except BaseException as exc:
        soak.failures.append(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        soak.shutdown()
        summary = soak.summary()
        SUMMARY_PATH.parent.mkdir(parents=True, exist_ok=True)
        SUMMARY_PATH.write_text(json.dumps(summary, indent=2, default=str) + "\n")
        shutil.rmtree(LOGS_PATH, ignore_errors=True)
        shutil.copytree(stack.log_dir, LOGS_PATH, dirs_exist_ok=True)
        with capsys.disabled():
            print(render(summary))
    assert not soak.failures, "\n".join(soak.failures)
