"""The chaos driver: one thread, one seeded schedule, every fault at a planned instant.

SIGKILLs of the projector members and the indexer at random instants (restarted at once), the
search engine stopped for ~60 s and started again EMPTY on the same port, PostgreSQL stopped for
a few seconds, a second projector member added then removed (graceful), and a full reindex
(``standings reindex``, a real subprocess) mid-way. Between steps it watches the children: one that
exits on its own is recorded (the test fails on it) and restarted so the run can finish.
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.embedded.waiting import log_tail
from tests.faults.soak.processes import Run, Service
from tests.faults.soak.stack import Stack
from tests.faults.soak.traffic import Worker

SEARCH_DOWN_AT = 25.0
SEARCH_DOWN_FOR = 60.0
MEMBER_ADD_AT = 45.0
MEMBER_REMOVE_AT = 100.0
PG_DOWN_AT = 112.0
PG_DOWN_FOR = 4.0
REINDEX_AT = 132.0
REINDEX_RETRY_S = 2.0
REINDEX_BUDGET_S = 120.0
MIN_KILLS = 22
EXIT_REINDEX_RUNNING = 3  # `standings reindex` when another reindex holds the lock


@dataclass(frozen=True, slots=True)
class Step:
    at: float  # seconds after the traffic started
    action: str


def schedule(rng: random.Random, window_s: float) -> list[Step]:
    """The faults of one run. Kills every 4-7.5 s from 5 s to the end of the production window,
    none around the PostgreSQL outage (that is its own fault); ~60 % hit a projector member."""
    steps = [
        Step(SEARCH_DOWN_AT, "search_down"),
        Step(SEARCH_DOWN_AT + SEARCH_DOWN_FOR, "search_up"),
        Step(MEMBER_ADD_AT, "member_add"),
        Step(MEMBER_REMOVE_AT, "member_remove"),
        Step(PG_DOWN_AT, "pg_down"),
        Step(PG_DOWN_AT + PG_DOWN_FOR, "pg_up"),
        Step(REINDEX_AT, "reindex"),
    ]
    quiet = (PG_DOWN_AT - 3.0, PG_DOWN_AT + PG_DOWN_FOR + 8.0)
    kills: list[Step] = []
    at = 5.0
    while at < window_s + 5.0 or len(kills) < MIN_KILLS:
        if not quiet[0] <= at <= quiet[1]:
            kills.append(Step(round(at, 2), "kill:projector" if rng.random() < 0.6 else "kill:indexer"))
        at += rng.uniform(4.0, 7.5)
    # at least a third of the kills on each target
    for target, other in (("kill:projector", "kill:indexer"), ("kill:indexer", "kill:projector")):
        while sum(k.action == target for k in kills) < len(kills) // 3:
            i = next(i for i, k in enumerate(kills) if k.action == other)
            kills[i] = Step(kills[i].at, target)
    return sorted(steps + kills, key=lambda s: s.at)


@dataclass
class ChaosRecord:
    kills: list[dict[str, Any]] = field(default_factory=list)
    search_down_at: float | None = None
    search_up_at: float | None = None
    search_up_wall: float | None = None  # time.time(), to compare with the children's log timestamps
    search_restart_s: float | None = None
    pg_down_at: float | None = None
    pg_up_at: float | None = None
    member: dict[str, Any] = field(default_factory=dict)
    reindex: list[dict[str, Any]] = field(default_factory=list)
    restarted_after_crash: list[str] = field(default_factory=list)
    timeline: list[str] = field(default_factory=list)


class ChaosDriver(Worker):
    def __init__(
        self,
        stack: Stack,
        *,
        members: tuple[Service, Service],
        indexer: Service,
        reindex_env: dict[str, str],
        steps: list[Step],
        start_at: float,
        rng: random.Random,
    ) -> None:
        """``stack``'s servers are stopped and started, ``members`` (a, then b: added and removed) and
        ``indexer`` killed; a reindex runs with ``reindex_env``."""
        super().__init__("soak-chaos")
        self.stack = stack
        self.projector_a, self.projector_b = members
        self.indexer = indexer
        self.reindex_env = reindex_env
        self.steps = steps
        self.start_at = start_at
        self.rng = rng
        self.record = ChaosRecord()
        self._member_b_wanted = False
        self._reindex: Run | None = None
        self._reindex_started: float | None = None
        self._reindex_first: float | None = None
        self._reindex_retry_at: float | None = None
        self.finished_at: float | None = None

    # -- the loop ---------------------------------------------------------------------------------

    def body(self) -> None:
        for step in self.steps:
            due = self.start_at + step.at
            while (remaining := due - time.monotonic()) > 0:
                self._watch()
                if self.halt.wait(min(0.25, remaining)):
                    return
            self._note(f"{step.action}")
            getattr(self, "_do_" + step.action.split(":")[0])(step)
        deadline = time.monotonic() + REINDEX_BUDGET_S
        while self._reindex_pending() and time.monotonic() < deadline:
            self._watch()
            if self.halt.wait(0.25):
                return
        self._watch()
        self.finished_at = time.monotonic()

    def now(self) -> float:
        return round(time.monotonic() - self.start_at, 2)

    def _note(self, text: str) -> None:
        self.record.timeline.append(f"{self.now():7.2f}s {text}")

    def _services(self) -> list[Service]:
        return [self.projector_a, self.indexer] + ([self.projector_b] if self._member_b_wanted else [])

    def _watch(self) -> None:
        """Restart a child that exited on its own (recorded: the test fails on it); drive the reindex."""
        for service in self._services():
            if service.reap_unexpected():
                self.record.restarted_after_crash.append(f"{self.now()}s {service.name}")
                self._note(f"{service.name} exited on its own; restarting")
                service.start()
            elif service.current is None:
                service.start()
        self._drive_reindex()

    # -- steps ------------------------------------------------------------------------------------

    def _do_kill(self, step: Step) -> None:
        if step.action == "kill:projector":
            candidates = [s for s in (self.projector_a, self.projector_b) if s.running()]
            if not candidates:
                self._note("no projector member running to kill")
                return
            service = self.rng.choice(candidates)
        else:
            service = self.indexer
        run = service.current
        if run is None or not service.running():
            self._note(f"{service.name} not running; not killed")
            return
        pid, uptime = run.proc.pid, time.monotonic() - run.started
        service.kill()
        service.start()
        self.record.kills.append({"at_s": self.now(), "target": service.name, "pid": pid, "uptime_s": round(uptime, 2)})

    def _do_search_down(self, step: Step) -> None:
        self.stack.search.stop()
        self.record.search_down_at = time.monotonic()

    def _do_search_up(self, step: Step) -> None:
        started = time.monotonic()
        self.stack.search.restart()  # same port, no indices: the indexer must notice and rebuild
        self.record.search_up_at = time.monotonic()
        self.record.search_up_wall = time.time()
        self.record.search_restart_s = round(self.record.search_up_at - started, 2)

    def _do_member_add(self, step: Step) -> None:
        self._member_b_wanted = True
        self.projector_b.start()
        self.record.member["added_at_s"] = self.now()

    def _do_member_remove(self, step: Step) -> None:
        self._member_b_wanted = False
        if self.projector_b.reap_unexpected():
            self.record.restarted_after_crash.append(f"{self.now()}s {self.projector_b.name} (found at removal)")
        code = self.projector_b.terminate(timeout=30)
        self.record.member.update(removed_at_s=self.now(), exit_code=code)

    def _do_pg_down(self, step: Step) -> None:
        self.stack.pg.stop()
        self.record.pg_down_at = time.monotonic()

    def _do_pg_up(self, step: Step) -> None:
        self.stack.pg.restart()
        self.record.pg_up_at = time.monotonic()

    def _do_reindex(self, step: Step) -> None:
        self._reindex_first = time.monotonic()
        self._launch_reindex()

    # -- the reindex subprocess -------------------------------------------------------------------

    def _launch_reindex(self) -> None:
        standings = Path(sys.executable).with_name("standings")
        args = (
            [str(standings), "reindex"]
            if standings.exists()
            else [sys.executable, "-m", "services.cli.main", "reindex"]
        )
        number = len(self.record.reindex)
        log_path = self.stack.log_dir / f"reindex-{number:02d}.log"
        proc = self.stack.spawner.popen(args, self.reindex_env, log_path)
        self._reindex = Run(number, log_path, proc)
        self._reindex_started = time.monotonic()
        self._reindex_retry_at = None
        self._note(f"reindex attempt {number} started (pid {proc.pid})")

    def _reindex_pending(self) -> bool:
        return self._reindex is not None or self._reindex_retry_at is not None

    def _drive_reindex(self) -> None:
        now = time.monotonic()
        if self._reindex_retry_at is not None and now >= self._reindex_retry_at:
            self._launch_reindex()
            return
        run = self._reindex
        if run is None or run.proc.poll() is None:
            if run is not None and self._reindex_first is not None and now - self._reindex_first > REINDEX_BUDGET_S:
                run.proc.kill()
                run.proc.wait(10)
                self.record.reindex.append({"attempt": run.number, "exit_code": None, "outcome": "timed out"})
                self._reindex = None
            return
        code = run.proc.returncode
        started = self._reindex_started or now
        tail = log_tail(run.log_path, 6)
        outcome = "done" if code == 0 else ("refused: already running" if code == EXIT_REINDEX_RUNNING else "failed")
        self.record.reindex.append(
            {
                "attempt": run.number,
                "at_s": round(started - self.start_at, 2),
                "exit_code": code,
                "outcome": outcome,
                "duration_s": round(now - started, 2),
                "output": tail.splitlines()[-1] if tail else "",
            }
        )
        self._note(f"reindex attempt {run.number}: {outcome}")
        self._reindex = None
        budget_left = self._reindex_first is not None and now - self._reindex_first < REINDEX_BUDGET_S
        if code == EXIT_REINDEX_RUNNING and budget_left:
            # refused: the indexer's own rebuild holds the lock. Try again, as an operator would.
            self._reindex_retry_at = now + REINDEX_RETRY_S
