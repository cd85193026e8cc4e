"""The standings projector's consumer loop, as the process and the tests hold it.

:class:`ProjectorLoop` is the handle (constructed without I/O: ``run``, ``stop``, ``health``,
``assigned``, ``rebalances``); each ``run`` is a :class:`~services.projector.batch_loop.BatchLoop`,
which creates the consumer, consumes and applies batches and closes it. Its parts, one job each:
:mod:`.readahead` (the next batch), :mod:`.pausing` (slow or failing batches),
:mod:`.failure_policy` (what a failure leads to), :mod:`.rebalance` (the callbacks),
:mod:`.members` (heartbeat, lag, fingerprint), :mod:`.store` (the loop's own reads and writes).
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import Engine

from services.core.db.engine import make_session_factory
from services.core.kafka.consumer import consumer_conf, is_cooperative, make_consumer
from services.core.kafka.dlq import DeadLetterPublisher
from services.core.settings import Settings
from services.projector.batch_loop import BatchLoop, batch_fields
from services.projector.failure_policy import is_transient
from services.projector.members import config_fingerprint
from services.projector.service import BatchApplier
from services.projector.stop_event import StopEvent
from services.projector.store import GroupStore, SqlGroupStore
from services.projector.wiring import AfterDbCommit, Applier, ConsumerFactory, LoopHealth, Wiring

__all__ = ["AfterDbCommit", "LoopHealth", "ProjectorLoop", "batch_fields", "is_transient"]


class ProjectorLoop:
    """Consumes ``match-events`` and projects them into PostgreSQL. ``run`` blocks until ``stop``.

    Constructing it does no I/O; each ``run`` creates the consumer (a :class:`BatchLoop`).
    ``after_db_commit`` (fault tests) is called between a batch's DB commit and its Kafka commit.
    """

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        dlq: DeadLetterPublisher | None = None,
        applier: Applier | None = None,
        consumer_factory: ConsumerFactory = make_consumer,
        store: GroupStore | None = None,
        after_db_commit: AfterDbCommit | None = None,
    ) -> None:
        self.settings = settings
        ps = settings.projector
        self.group = ps.group_id
        self.topic = settings.kafka.topic
        sessions = make_session_factory(engine)
        self._dlq = dlq or DeadLetterPublisher(settings.kafka, self.group, delivery_timeout_s=ps.dlq_flush_timeout_s)
        self.applier = applier or BatchApplier(
            sessions, self._dlq, self.group, dlq_flush_timeout_s=ps.dlq_flush_timeout_s
        )
        self._store = store or SqlGroupStore(sessions, self.group, self.topic)
        self._consumer_factory = consumer_factory
        self.after_db_commit = after_db_commit
        self._conf = consumer_conf(settings.kafka, self.group, ps.consumer)
        self.fingerprint, self.effective_config = config_fingerprint(
            self._conf, batch_size=ps.consumer.batch_size, ruleset=ps.ruleset
        )
        self.health = LoopHealth()
        self.rebalances: Counter[str] = Counter()
        self._stop = StopEvent()
        self._assigned: set[int] = set()
        self._max_silence_s = max(30.0, ps.consumer.max_poll_interval_ms / 1000)

    def stop(self) -> None:
        """Ask the loop to finish the in-flight batch, commit, leave the group and return (signal-safe)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def assigned(self) -> set[int]:
        return set(self._assigned)

    def live(self) -> bool:
        return self.health.live(self._max_silence_s)

    def run(self) -> None:
        wiring = Wiring(
            settings=self.settings,
            applier=self.applier,
            dlq=self._dlq,
            store=self._store,
            consumer_factory=self._consumer_factory,
            after_db_commit=self.after_db_commit,
            fingerprint=self.fingerprint,
            config=self.effective_config,
            cooperative=is_cooperative(self._conf),
            health=self.health,
            rebalances=self.rebalances,
            stop=self._stop,
            assigned=self._assigned,
        )
        BatchLoop(wiring).run()
