"""Where the CPU of a measured interval went, per event: this process's threads by name, the
embedded PostgreSQL (postmaster and backends), the broker, the kernel's worker threads.

The machine has 2 cores: a projector that is slower than its SQL alone is either waiting (on
PostgreSQL, on the GIL) or short of CPU because something else on the box is using it. This tells
the two apart. User + system CPU time (psutil), read before and after the interval.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import psutil


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far."""
    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


def _threads() -> dict[str, float]:
    """CPU seconds of this process's Python threads, by thread name (same-named threads summed)."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    out: dict[str, float] = {}
    for t in psutil.Process().threads():
        name = names.get(t.id)
        if name is not None:
            out[name] = out.get(name, 0.0) + t.user_time + t.system_time
    return out


def _tree(pid: int | None) -> float:
    """CPU seconds of ``pid`` and its live descendants (ended children's time is lost; PostgreSQL's
    backends live as long as their connections)."""
    if pid is None:
        return 0.0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for p in procs:
        try:
            total += cpu_seconds(p.pid)
        except psutil.NoSuchProcess:
            continue  # ended since it was listed
    return total


def _kernel_workers() -> float:
    total = 0.0
    for p in psutil.process_iter(["name", "cpu_times"]):
        name = p.info["name"] or ""
        if name.startswith(("kworker", "ksoftirqd", "kswapd", "kdamond")) and p.info["cpu_times"] is not None:
            total += p.info["cpu_times"].user + p.info["cpu_times"].system
    return total


@dataclass
class CpuSnapshot:
    threads: dict[str, float]
    processes: dict[str, float]


class CpuAccount:
    """``start()`` before the interval, ``per_event(n)`` after it: µs of CPU per event by consumer."""

    def __init__(self, processes: dict[str, int | None], threads: Iterable[str]) -> None:
        self._pids = processes
        self._thread_names = set(threads)
        self._start: CpuSnapshot | None = None

    def _snapshot(self) -> CpuSnapshot:
        procs = {name: _tree(pid) for name, pid in self._pids.items()}
        procs["kernel_workers"] = _kernel_workers()
        procs["this_process"] = cpu_seconds(os.getpid())
        return CpuSnapshot(_threads(), procs)

    def start(self) -> None:
        self._start = self._snapshot()

    def per_event(self, events: int) -> dict[str, float]:
        assert self._start is not None, "start() first"
        end = self._snapshot()
        out: dict[str, float] = {}
        for name in sorted(self._thread_names):
            out[f"thread {name}"] = end.threads.get(name, 0.0) - self._start.threads.get(name, 0.0)
        for name, seconds in end.processes.items():
            out[name] = seconds - self._start.processes.get(name, 0.0)
        return {name: round(seconds / events * 1e6, 1) for name, seconds in out.items()}
