"""Read API benchmark: standings GET (200 and 304) against a bare FastAPI endpoint, plus poll latency.

    python bench/read_api.py --quick        # < 1 minute
    python bench/read_api.py                # longer runs

Starts an embedded PostgreSQL, seeds a 50-athlete division with real standings rows, then runs
the real app and a bare FastAPI app (one constant JSON route) one after the other, each in its
own uvicorn subprocess with the same settings (uvloop + httptools when installed, one worker,
access log off). Throughput comes from wrk (``apt-get install -y wrk``) or, without it, from an
asyncio keep-alive client in a separate process. Then 200 pollers at 4 Hz each revalidate with
If-None-Match while the division changes every second, for the p99 latency an overlay sees.
The last line printed is ONE JSON object with the results.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

T, D = "bench-cup", "m-73kg"
PATH = f"/v1/tournaments/{T}/divisions/{D}/standings"
BARE_PATH = "/bare"


# --- server subprocess ---------------------------------------------------------------------------


def serve(kind: str, db_url: str, port: int) -> None:
    import uvicorn

    from services.core.logging import configure_logging

    configure_logging("WARNING", json=True)
    if kind == "bare":
        from fastapi import FastAPI

        app = FastAPI()

        @app.get(BARE_PATH)
        async def bare() -> dict[str, str]:
            return {"status": "ok"}

    else:
        from services.api.app import create_app
        from services.core.settings import DatabaseSettings, Settings

        app = create_app(Settings(environment="test", log_json=True, database=DatabaseSettings(url=db_url)))
    loop = "uvloop" if _has("uvloop") else "asyncio"
    http = "httptools" if _has("httptools") else "h11"
    uvicorn.run(app, host="127.0.0.1", port=port, loop=loop, http=http, log_config=None, access_log=False)


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


class Server:
    def __init__(self, kind: str, db_url: str) -> None:
        from services.embedded.waiting import free_port

        self.port = free_port()
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve", kind, "--db-url", db_url, "--port", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def wait_ready(self, path: str, timeout: float = 30.0) -> None:
        import httpx

        from services.embedded.waiting import wait_until

        def up() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited: {self.proc.stderr.read().decode()[-2000:] if self.proc.stderr else ''}"
                )
            try:
                return httpx.get(f"http://127.0.0.1:{self.port}{path}", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, timeout, f"server on port {self.port}", interval=0.1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


# --- load generators -----------------------------------------------------------------------------


def wrk(url: str, seconds: int, connections: int, headers: dict[str, str]) -> float:
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for k, v in headers.items():
        args += ["-H", f"{k}: {v}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, timeout=seconds + 30, check=True).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if non2xx:
        raise RuntimeError(f"wrk saw errors:\n{out}")
    return float(m.group(1))


async def _closed_loop(port: int, path: str, seconds: float, connections: int, headers: dict[str, str]) -> int:
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    ).encode()
    deadline = time.monotonic() + seconds
    done = 0

    async def conn() -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.monotonic() < deadline:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                m = re.search(rb"(?i)content-length: (\d+)", head)
                if m:
                    await reader.readexactly(int(m.group(1)))
                done += 1
        finally:
            writer.close()

    await asyncio.gather(*(conn() for _ in range(connections)))
    return done


def _run_client(coro: Any) -> Any:
    """Run a load-generator coroutine as lean as possible: uvloop when installed, no GC pauses (the
    measuring client must not be where the latency tail comes from)."""
    import gc

    gc.disable()
    if _has("uvloop"):
        import uvloop

        return uvloop.run(coro)
    return asyncio.run(coro)


def python_load(port: int, path: str, seconds: int, connections: int, headers: dict[str, str]) -> float:
    """Closed-loop keep-alive load in a separate process (so it does not share the server's GIL)."""
    code = (
        f"import json,sys;sys.path.insert(0,{str(REPO)!r});from bench.read_api import _run_client, _closed_loop;"
        f"print(_run_client(_closed_loop({port},{path!r},{seconds},{connections},json.loads({json.dumps(headers)!r}))))"
    )
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=seconds + 60, check=True)
    return int(out.stdout.strip()) / max(time.monotonic() - started - 0.3, seconds)


def throughput(port: int, path: str, seconds: int, headers: dict[str, str] | None = None) -> tuple[float, str]:
    headers = headers or {}
    if shutil.which("wrk"):
        return wrk(f"http://127.0.0.1:{port}{path}", seconds, 32, headers), "wrk -t2 -c32"
    return python_load(port, path, seconds, 32, headers), "python asyncio -c32"


async def _pollers(port: int, seconds: float, pollers: int, hz: float, path: str = PATH) -> list[float]:
    """Each poller: one keep-alive connection, GET with If-None-Match every 1/hz s; latency per request."""
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def poller() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        etag = ""
        next_at = time.monotonic() + random.random() / hz  # spread the start
        try:
            while next_at < deadline:
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                inm = f"If-None-Match: {etag}\r\n" if etag else ""
                started = time.perf_counter()
                writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{inm}\r\n".encode())
                head = await reader.readuntil(b"\r\n\r\n")
                m = re.search(rb"(?i)content-length: (\d+)", head)
                if m:
                    await reader.readexactly(int(m.group(1)))
                latencies.append(time.perf_counter() - started)
                tag = re.search(rb"(?i)etag: (\S+)", head)
                if tag:
                    etag = tag.group(1).decode()
                next_at += 1 / hz
        finally:
            writer.close()

    await asyncio.gather(*(poller() for _ in range(pollers)))
    return latencies


def poll_latency(port: int, seconds: int, pollers: int = 200, hz: float = 4.0, path: str = PATH) -> list[float]:
    """200 pollers in a separate process; their latencies come back through a file.

    A file, not stdout: a >128 KiB JSON line on a pipe came back cut once under heavy load.
    """
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "latencies.json"
        code = (
            f"import json,sys,pathlib;sys.path.insert(0,{str(REPO)!r});from bench.read_api import _run_client, _pollers;"
            f"pathlib.Path({str(target)!r}).write_text("
            f"json.dumps(_run_client(_pollers({port},{seconds},{pollers},{hz},{path!r}))))"
        )
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=seconds + 60, check=True)
        latencies: list[float] = json.loads(target.read_text())
    return latencies


# --- the run -------------------------------------------------------------------------------------


def seed(db_url: str) -> None:
    from services.core.db.engine import make_engine
    from services.core.settings import DatabaseSettings
    from tests.read_api_helpers import (
        StoredResult,
        apply_results,
        division_bout_list,
        registration_doc,
        result_payload,
        seed_registration,
    )

    engine = make_engine(DatabaseSettings(url=db_url))
    try:
        seed_registration(engine, registration_doc(T, {D: 50}))
        rng = random.Random(7)
        bouts = division_bout_list(engine, T, D)
        results = [StoredResult(b.bout_id, 1, "result", result_payload(rng), i) for i, b in enumerate(bouts[:400])]
        apply_results(engine, T, D, results, partition=0)
    finally:
        engine.dispose()


def bump(db_url: str, stop_at: float) -> int:
    """Change the division once a second until ``stop_at`` (what a live show does)."""
    from services.core.db.engine import make_engine
    from services.core.settings import DatabaseSettings
    from tests.read_api_helpers import bump_version

    engine = make_engine(DatabaseSettings(url=db_url))
    n = 0
    try:
        while time.monotonic() < stop_at:
            bump_version(engine, T, D)
            n += 1
            time.sleep(1.0)  # the pace of changes, not a synchronisation
    finally:
        engine.dispose()
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short runs (< 2 minutes in total)")
    parser.add_argument("--serve", choices=["real", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--db-url", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.db_url, args.port)
        return

    import threading

    import httpx

    from services.embedded.postgres import EmbeddedPostgres
    from tests.read_api_helpers import create_database

    seconds = 6 if args.quick else 20
    poll_seconds = 10 if args.quick else 30
    with tempfile.TemporaryDirectory(prefix="bench-read-api-") as tmp:
        pg = EmbeddedPostgres.start(Path(tmp) / "pg")
        try:
            db_url = create_database(pg, "bench")
            seed(db_url)
            results: dict[str, Any] = {}

            bare = Server("bare", db_url)
            try:
                bare.wait_ready(BARE_PATH)
                throughput(bare.port, BARE_PATH, 2)  # warm-up
                results["bare_rps"], loadgen = throughput(bare.port, BARE_PATH, seconds)
            finally:
                bare.stop()

            real = Server("real", db_url)
            try:
                real.wait_ready(PATH)
                etag = httpx.get(f"http://127.0.0.1:{real.port}{PATH}", timeout=5).headers["etag"]
                throughput(real.port, PATH, 2)  # warm-up
                results["standings_rps"], _ = throughput(real.port, PATH, seconds)
                results["standings_304_rps"], _ = throughput(real.port, PATH, seconds, {"If-None-Match": etag})
                # A query string skips the ASGI fast path: the same cached bytes through FastAPI's routing.
                results["standings_routed_rps"], _ = throughput(real.port, PATH + "?via=router", seconds)
                stop_at = time.monotonic() + poll_seconds
                changes: list[int] = []
                changer = threading.Thread(target=lambda: changes.append(bump(db_url, stop_at)), daemon=True)
                changer.start()
                latencies = poll_latency(real.port, poll_seconds)
                changer.join(15)
            finally:
                real.stop()
        finally:
            pg.stop()

    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    summary = {
        "bench": "read_api",
        "quick": args.quick,
        "loadgen": loadgen,
        "division_rows": 50,
        "standings_rps": round(results["standings_rps"], 1),
        "standings_304_rps": round(results["standings_304_rps"], 1),
        "standings_routed_rps": round(results["standings_routed_rps"], 1),
        "bare_rps": round(results["bare_rps"], 1),
        "ratio_to_bare": round(results["standings_rps"] / results["bare_rps"], 3),
        "ratio_304_to_bare": round(results["standings_304_rps"] / results["bare_rps"], 3),
        "ratio_routed_to_bare": round(results["standings_routed_rps"] / results["bare_rps"], 3),
        "poll_clients": 200,
        "poll_hz": 4,
        "poll_requests": len(latencies),
        "poll_changes": changes[0] if changes else 0,
        "poll_p50_ms": round(p(0.50), 2),
        "poll_p99_ms": round(p(0.99), 2),
        "poll_max_ms": round(latencies[-1] * 1000, 2),
        "poll_mean_ms": round(statistics.fmean(latencies) * 1000, 2),
        "cpus": os.cpu_count(),
    }
    summary["targets_met"] = (
        summary["ratio_to_bare"] >= 0.8 and summary["ratio_304_to_bare"] >= 0.9 and summary["poll_p99_ms"] <= 20
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
