"""A projector member as a real process (``python -m services.projector.main``, or another entry
module that wires the same projector) with its JSON log in a file, for the fault tests that
SIGKILL it or run several members of one group."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from services.core.settings import Settings

REPO = Path(__file__).resolve().parents[1]
MAIN = "services.projector.main"
# The real projector with a 0.3 s pause between each batch's DB commit and its Kafka commit.
PAUSE_AFTER_DB_COMMIT = "tests.projector_pause_entry"


def projector_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The subprocess's environment: the same settings, as ``STANDINGS_*`` variables."""
    ps, cs = settings.projector, settings.projector.consumer
    env = {k: v for k, v in os.environ.items() if not k.startswith("STANDINGS_")}
    env.update(
        {
            "STANDINGS_ENVIRONMENT": "test",
            "STANDINGS_LOG_JSON": "true",
            "STANDINGS_LOG_LEVEL": "INFO",
            "STANDINGS_DATABASE__URL": settings.database.url.get_secret_value(),
            "STANDINGS_KAFKA__BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
            "STANDINGS_KAFKA__TOPIC": settings.kafka.topic,
            "STANDINGS_KAFKA__DLQ_TOPIC": settings.kafka.dlq_topic,
            "STANDINGS_KAFKA__PARTITIONS": str(settings.kafka.partitions),
            "STANDINGS_PROJECTOR__GROUP_ID": ps.group_id,
            "STANDINGS_PROJECTOR__HTTP_PORT": "0",
            "STANDINGS_PROJECTOR__CONSUMER__MAX_POLL_INTERVAL_MS": str(cs.max_poll_interval_ms),
            "STANDINGS_PROJECTOR__CONSUMER__SESSION_TIMEOUT_MS": str(cs.session_timeout_ms),
            "STANDINGS_PROJECTOR__CONSUMER__BATCH_SIZE": str(cs.batch_size),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


class Projector:
    """``python -m <module>`` (default: the projector's main) with its stderr (JSON log lines) in a file."""

    def __init__(self, env: dict[str, str], log: Path, *, module: str = MAIN) -> None:
        self.log = log
        self._file = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module], cwd=REPO, env=env, stdout=self._file, stderr=self._file
        )

    def lines(self) -> list[dict[str, object]]:
        out = []
        for raw in self.log.read_text(errors="replace").splitlines():
            if raw.startswith("{"):
                try:
                    out.append(json.loads(raw))
                except ValueError:
                    continue
        return out

    def saw(self, event: str) -> bool:
        return any(line.get("event") == event for line in self.lines())

    def wait_for(self, event: str, timeout: float) -> None:
        self.wait_for_line(lambda line: line.get("event") == event, timeout, repr(event))

    def wait_for_line(self, matches: Callable[[dict[str, object]], bool], timeout: float, what: str) -> None:
        """Until a log line ``matches`` (bounded); fails at once if the process exits."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(matches(line) for line in self.lines()):
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"projector exited ({self.proc.returncode}); log:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.02)
        raise TimeoutError(f"no {what} within {timeout}s; log:\n{self.log.read_text()[-3000:]}")

    def alive(self) -> None:
        if self.proc.poll() is not None:
            raise AssertionError(f"projector exited ({self.proc.returncode}); log:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._file.close()

    def terminate(self, timeout: float = 30) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self._file.close()
        return code
