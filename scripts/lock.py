"""The dependency locks: write them from pyproject.toml with uv, or check they still match it.

Three locks, each with every version pinned and every file's hash:

- ``locks/runtime.txt``: the runtime set (the release image installs exactly this);
- ``locks/dev.txt``: runtime + embedded stack + dev tools (``scripts/bootstrap`` and CI install this);
- ``locks/bench.txt``: the dev set + the profilers of ``bench/``.

Each lock's first line records the sha256 of the dependency tables of pyproject.toml it was made from,
so ``--check`` needs no network: it fails when pyproject.toml's dependencies changed since the lock
was written, or when a lock no longer satisfies a requirement of pyproject.toml.

    python scripts/lock.py           # re-lock (needs the package index)
    python scripts/lock.py --check   # offline: do the locks still match pyproject.toml?
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCKS = ROOT / "locks"
SETS: dict[str, tuple[str, ...]] = {"runtime": (), "dev": ("embedded", "dev"), "bench": ("embedded", "dev", "bench")}
HEADER = "# pyproject-dependencies-sha256: "


def project_table() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def dependencies_digest(project: dict) -> str:
    """The sha256 of what a lock is made from: requires-python, dependencies and the extras."""
    wanted = {
        "requires-python": project.get("requires-python"),
        "dependencies": project.get("dependencies", []),
        "optional-dependencies": project.get("optional-dependencies", {}),
    }
    return hashlib.sha256(json.dumps(wanted, sort_keys=True).encode()).hexdigest()


def read_pins(path: Path) -> dict[str, tuple[str, Marker | None]]:
    """name -> (version, marker) of a lock written by ``uv pip compile``."""
    pins: dict[str, tuple[str, Marker | None]] = {}
    for line in path.read_text().splitlines():
        if not line or line[0] in "# " or "==" not in line:
            continue
        spec = line.rstrip(" \\")
        requirement = Requirement(spec)
        (version,) = [s.version for s in requirement.specifier]
        pins[canonicalize_name(requirement.name)] = (version, requirement.marker)
    return pins


def applies(marker: Marker | None, extras: tuple[str, ...] = ()) -> bool:
    if marker is None:
        return True
    return any(marker.evaluate({"extra": extra}) for extra in (extras or ("",)))


def requirements_of(project: dict, extras: tuple[str, ...]) -> list[Requirement]:
    texts = list(project.get("dependencies", []))
    for extra in extras:
        texts += project.get("optional-dependencies", {}).get(extra, [])
    return [Requirement(text) for text in texts]


def lock_problems(name: str, extras: tuple[str, ...], project: dict) -> list[str]:
    path = LOCKS / f"{name}.txt"
    if not path.exists():
        return [f"{path.relative_to(ROOT)} is missing"]
    problems = []
    first = path.read_text().splitlines()[0]
    if first != HEADER + dependencies_digest(project):
        problems.append(f"{path.relative_to(ROOT)} was made from other pyproject.toml dependencies")
    pins = read_pins(path)
    for requirement in requirements_of(project, extras):
        if not applies(requirement.marker, extras):
            continue
        pin = pins.get(canonicalize_name(requirement.name))
        if pin is None:
            problems.append(f"{path.relative_to(ROOT)} lacks {requirement.name}")
        elif not requirement.specifier.contains(pin[0], prereleases=True):
            problems.append(f"{path.relative_to(ROOT)} pins {requirement.name}=={pin[0]}, outside {requirement.specifier}")
    return problems


def write_locks(project: dict) -> None:
    LOCKS.mkdir(exist_ok=True)
    digest = dependencies_digest(project)
    for name, extras in SETS.items():
        out = LOCKS / f"{name}.txt"
        args = ["uv", "pip", "compile", "pyproject.toml", "--generate-hashes", "--universal", "--python-version", "3.11"]
        args += [f"--extra={extra}" for extra in extras]
        args += ["--no-header", "--quiet", "-o", str(out)]
        subprocess.run(args, cwd=ROOT, check=True)
        body = out.read_text()
        regenerate = "# regenerate: python scripts/lock.py"
        out.write_text(f"{HEADER}{digest}\n{regenerate}\n{body}")


def main(argv: list[str]) -> int:
    project = project_table()
    if "--check" not in argv:
        write_locks(project)
    problems = [p for name, extras in SETS.items() for p in lock_problems(name, extras, project)]
    for problem in problems:
        print(f"lock: {problem}; run: python scripts/lock.py", file=sys.stderr)
    if not problems:
        print("locks match pyproject.toml")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
