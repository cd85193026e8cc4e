"""Where the standings GET spends its time: py-spy on the API process under wrk load.

    python bench/profile_read_api.py [--seconds 8] [--rate 250] [--native] [--out bench/results/profiles]

Same setup as ``bench/read_api.py`` (embedded PostgreSQL, a seeded 50-athlete division, the real
app in its own uvicorn process, uvloop + httptools, one worker). Then, for each scenario, ``py-spy
record`` samples the server process while ``wrk -t2 -c32`` loads it:

- ``fast_200``:   ``GET .../standings`` - answered by the ASGI fast path (services/api/fastpath.py);
- ``fast_304``:   the same with ``If-None-Match`` = the current ETag;
- ``routed_200``: ``GET .../standings?via=router`` - any query string skips the fast path, so the
  same cached bytes go through FastAPI routing, parameter validation and ``division_standings``
  (standings_routes.py). ``?as_of_offset=N`` would NOT be comparable: it recomputes from the DB.

Writes, per scenario, ``api-<scenario>.txt``: top functions by self and inclusive share of the event
loop thread's samples (the request path; other threads are the LISTEN connection and idle workers)
and prints one JSON line with the shares and the req/s measured while being sampled (sampling
pauses the process ~``rate`` times a second: the req/s here are lower than bench/read_api.py's).
Needs py-spy (``pip install py-spy``) and wrk, and permission to ptrace (root, or
``kernel.yama.ptrace_scope=0``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.profile_stacks import parse, py_spy, summarize  # noqa: E402
from bench.read_api import PATH, Server, seed, wrk  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--native", action="store_true", help="include native (C) frames")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "profiles")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found: apt-get install -y wrk")
    import httpx

    from services.embedded.postgres import EmbeddedPostgres
    from tests.read_api_helpers import create_database

    args.out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, object] = {"bench": "profile_read_api", "py_spy_rate_hz": args.rate, "native": args.native}
    with tempfile.TemporaryDirectory(prefix="profile-read-api-") as tmp:
        pg = EmbeddedPostgres.start(Path(tmp) / "pg")
        try:
            db_url = create_database(pg, "bench")
            seed(db_url)
            server = Server("real", db_url)
            try:
                server.wait_ready(PATH)
                etag = httpx.get(f"http://127.0.0.1:{server.port}{PATH}", timeout=5).headers["etag"]
                wrk(f"http://127.0.0.1:{server.port}{PATH}", 2, 32, {})  # warm-up
                scenarios = {
                    "fast_200": (PATH, {}),
                    "fast_304": (PATH, {"If-None-Match": etag}),
                    "routed_200": (PATH + "?via=router", {}),
                }
                for name, (path, headers) in scenarios.items():
                    raw = Path(tmp) / f"{name}.collapsed"
                    cmd = [py_spy(), "record", "--pid", str(server.proc.pid), "--rate", str(args.rate), "--threads"]
                    cmd += ["--duration", str(args.seconds + 1), "--format", "raw", "--output", str(raw)]
                    cmd += ["--native"] if args.native else []
                    spy = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                    try:
                        rps = wrk(f"http://127.0.0.1:{server.port}{path}", args.seconds, 32, headers)
                    finally:
                        _, err = spy.communicate(timeout=args.seconds + 60)
                    if spy.returncode != 0 or not raw.exists():
                        raise RuntimeError(f"py-spy failed: {err.decode()[-2000:]}")
                    text = raw.read_text()
                    # The event loop thread only: the LISTEN thread and idle anyio workers are not the
                    # request path (py-spy's idle detection misses threads waiting in psycopg/Condition).
                    loop_lines = [ln for ln in text.splitlines() if ln.split(";", 1)[0].endswith(": MainThread")]
                    all_samples = sum(n for _, n in parse(text))
                    report, shares = summarize(
                        "\n".join(loop_lines), title=f"{name}: GET {path} {headers or ''} (event loop thread)"
                    )
                    loop_samples = sum(n for _, n in parse("\n".join(loop_lines)))
                    shares["loop_thread_share_of_samples"] = round(loop_samples / max(1, all_samples), 3)
                    suffix = "-native" if args.native else ""
                    (args.out / f"api-{name}{suffix}.txt").write_text(
                        f"# wrk -t2 -c32 while sampled: {rps:,.0f} req/s\n" + report
                    )
                    summary[name] = {"rps_while_sampled": round(rps, 1), **shares}
            finally:
                server.stop()
        finally:
            pg.stop()
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
