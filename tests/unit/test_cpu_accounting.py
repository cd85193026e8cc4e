"""The bench's CPU accounting (bench/cpu_accounting.py) charges CPU to the thread and the process
tree that used it, not to the others."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

from bench.cpu_accounting import CpuAccount, cpu_seconds

CHILD = """
import sys, time
sys.stdin.readline()
end = time.process_time() + 0.3
while time.process_time() < end:
    pass
print("burnt", flush=True)
time.sleep(30)
"""


def _burn_then_wait(seconds: float, done: threading.Event, burnt: threading.Event) -> None:
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass
    burnt.set()
    done.wait(10)  # alive at the snapshot: an ended thread's CPU is no longer in /proc


def test_a_busy_thread_and_a_busy_child_are_charged_to_themselves() -> None:
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    done, burnt = threading.Event(), threading.Event()
    burner = threading.Thread(target=_burn_then_wait, args=(0.3, done, burnt), name="burner")
    idle = threading.Thread(target=done.wait, args=(10,), name="idle")
    try:
        account = CpuAccount({"child": child.pid, "gone": None}, threads=("burner", "idle"))
        account.start()
        burner.start()
        idle.start()
        assert child.stdin is not None and child.stdout is not None
        child.stdin.write(b"go\n")
        child.stdin.flush()
        assert child.stdout.readline() == b"burnt\n"
        assert burnt.wait(10)
        usage = account.per_event(2)  # µs per "event": the interval's CPU seconds x 1e6 / 2
        assert usage["thread burner"] >= 125_000
        assert usage["thread idle"] < 25_000
        assert usage["child"] >= 125_000
        assert usage["this_process"] >= usage["thread burner"]
        assert usage["gone"] == 0.0
        assert cpu_seconds(child.pid) >= 0.25  # the intake's CPU per post is read this way
    finally:
        done.set()
        burner.join(10)
        idle.join(10)
        child.kill()
        child.wait(10)
