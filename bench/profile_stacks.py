"""Summaries of py-spy ``--format raw`` (collapsed) stacks: top functions and files by share of samples.

    python bench/profile_stacks.py FILE.collapsed [--top 20]

Each line of a collapsed file is ``frame;frame;...;leaf COUNT`` with frames ``function (path:line)``
(outermost first; a ``process``/``thread`` prefix frame when sampled with ``--threads``). "self" is
the share of samples with the function as the leaf, "incl" the share with it anywhere on the stack.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from collections import Counter
from pathlib import Path


def py_spy() -> str:
    """Path of the py-spy binary (on PATH or next to this interpreter)."""
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("py-spy not found: pip install py-spy")
    return found


_FRAME = re.compile(r"^(?P<func>.*?) \((?P<path>[^()]*?)(?::\d+)?\)$")
_SITE = re.compile(r".*/(site-packages|lib/python3\.\d+)/")


def short(frame: str) -> tuple[str, str]:
    """``func (path:line)`` -> (``func (short/path.py)``, ``short/path.py``)."""
    m = _FRAME.match(frame.strip())
    if m is None:
        return frame.strip(), frame.strip()
    path = _SITE.sub("", m.group("path"))
    path = re.sub(r"^.*/work/main/", "", path)
    return f"{m.group('func')} ({path})", path


def parse(text: str) -> list[tuple[list[str], int]]:
    stacks = []
    for line in text.splitlines():
        line = line.rstrip()
        if not line:
            continue
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        stacks.append((stack.split(";"), int(count)))
    return stacks


def summarize(text: str, *, title: str = "", top: int = 20) -> tuple[str, dict[str, object]]:
    stacks = parse(text)
    total = sum(n for _, n in stacks) or 1
    self_fn: Counter[str] = Counter()
    self_file: Counter[str] = Counter()
    incl_fn: Counter[str] = Counter()
    for frames, n in stacks:
        named = [short(f) for f in frames if f.strip() and not f.startswith(("process ", "thread "))]
        if not named:
            continue
        leaf_fn, leaf_file = named[-1]
        self_fn[leaf_fn] += n
        self_file[leaf_file] += n
        for fn in {fn for fn, _ in named}:
            incl_fn[fn] += n
    pct = lambda n: 100.0 * n / total  # noqa: E731
    lines = [f"# {title}", f"# samples: {total}", "", "## self (leaf) by function"]
    lines += [f"{pct(n):6.1f} %  {fn}" for fn, n in self_fn.most_common(top)]
    lines += ["", "## self (leaf) by file"]
    lines += [f"{pct(n):6.1f} %  {f}" for f, n in self_file.most_common(top)]
    lines += ["", "## inclusive by function"]
    lines += [f"{pct(n):6.1f} %  {fn}" for fn, n in incl_fn.most_common(top * 2)]
    shares: dict[str, object] = {
        "samples": total,
        "top_self": [[fn, round(pct(n), 1)] for fn, n in self_fn.most_common(8)],
        "top_self_files": [[f, round(pct(n), 1)] for f, n in self_file.most_common(8)],
    }
    return "\n".join(lines) + "\n", shares


# The steps of BatchApplier.apply, in order; a sample is charged to the first one on its stack.
STEPS = [
    "Pool.connect",
    "BatchApplier.load_state",
    "plan_batch",
    "BatchApplier._dead_letter",
    "insert_revisions",
    "set_effective",
    "insert_conflicts",
    "recompute_standings",
    "bump_divisions",
    "update_tournament_status",
    "apply_ranking_effects",
    "save_positions",
    "SessionTransaction.commit",
    "BatchApplier.apply",
]


def step_table(text: str, thread: str) -> tuple[str, dict[str, float]]:
    """Share of a thread's samples per batch step, and how much of it is waiting on PostgreSQL."""
    stacks = [(f, n) for f, n in parse(text) if f and f[0].endswith(f": {thread}")]
    total = sum(n for _, n in stacks) or 1
    share: Counter[str] = Counter()
    pg: Counter[str] = Counter()
    for frames, n in stacks:
        names = [short(f)[0].split(" (")[0] for f in frames[1:]]
        present = set(names)
        step = next((s for s in STEPS if s in present), "idle (waiting for a batch)")
        share[step] += n
        if "Connection.wait" in present:
            pg[step] += n
    lines = [f"# {thread}: share of wall time per batch step (PG = waiting on PostgreSQL)", f"# samples: {total}"]
    lines += [f"{100 * n / total:6.1f} %  (PG {100 * pg[s] / total:5.1f} %)  {s}" for s, n in share.most_common()]
    return "\n".join(lines) + "\n", {s: round(100 * n / total, 1) for s, n in share.most_common()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    report, _ = summarize(args.file.read_text(), title=str(args.file), top=args.top)
    sys.stdout.write(report)


if __name__ == "__main__":
    main()
