"""The dependency locks: the venv holds exactly the locked versions, the check catches drift, the SBOM
lists the release image's Python set."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
import shlex
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("lock_tool", ROOT / "scripts" / "lock.py")
assert _spec is not None and _spec.loader is not None
lock_tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lock_tool)

# Installed next to the locked set by pip and the editable install itself, never by a lock.
NOT_LOCKED = {"live-standings", "pip", "setuptools", "wheel"}


def _locked(name: str) -> dict[str, str]:
    pins = lock_tool.read_pins(ROOT / "locks" / f"{name}.txt")
    return {n: version for n, (version, marker) in pins.items() if lock_tool.applies(marker)}


def _installed() -> dict[str, str]:
    found = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    return {n: v for n, v in found.items() if n not in NOT_LOCKED}


def test_the_venv_holds_exactly_a_locked_set() -> None:
    installed = _installed()
    matches = {name: _locked(name) == installed for name in ("dev", "bench")}
    if not any(matches.values()):
        dev = _locked("dev")
        extra = sorted(set(installed) - set(dev))
        differ = sorted(f"{n} {installed.get(n)} != {v}" for n, v in dev.items() if installed.get(n) != v)
        pytest.fail(f"pip freeze differs from locks/dev.txt: not locked {extra}; differing {differ}")


def test_the_locks_match_pyproject() -> None:
    project = lock_tool.project_table()
    for name, extras in lock_tool.SETS.items():
        assert lock_tool.lock_problems(name, extras, project) == [], name


def test_a_changed_dependency_makes_the_check_fail() -> None:
    project = copy.deepcopy(lock_tool.project_table())
    project["dependencies"].append("left-pad==1.0")
    problems = lock_tool.lock_problems("runtime", (), project)
    assert any("other pyproject.toml dependencies" in p for p in problems)
    assert any("lacks left-pad" in p for p in problems)


def test_a_pin_outside_the_range_makes_the_check_fail() -> None:
    project = copy.deepcopy(lock_tool.project_table())
    deps = project["dependencies"]
    deps[:] = ["fastapi>=999" if d.startswith("fastapi") else d for d in deps]
    problems = lock_tool.lock_problems("runtime", (), project)
    assert any("pins fastapi==" in p and "outside >=999" in p for p in problems)


def test_the_check_command_exits_zero_on_this_tree() -> None:
    done = subprocess.run([sys.executable, "scripts/lock.py", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "locks match pyproject.toml"


def test_the_sbom_lists_the_runtime_lock(tmp_path: Path) -> None:
    assert shutil.which("cyclonedx-py") is not None, "cyclonedx-py is in the dev lock"
    shown = [s for s in re.findall(r"`([^`\n]+)`", (ROOT / "README.md").read_text()) if s.startswith("cyclonedx-py ")]
    assert len(shown) == 1, shown
    argv = shlex.split(shown[0])
    assert argv[-2:] == ["-o", "sbom.cdx.json"]
    out = tmp_path / "sbom.cdx.json"
    # the README's command as shown, writing to tmp instead of the checkout
    subprocess.run([*argv[:-1], str(out)], cwd=ROOT, check=True, capture_output=True)
    bom = json.loads(out.read_text())
    assert bom["bomFormat"] == "CycloneDX"
    assert bom["metadata"]["component"]["name"] == "live-standings"
    listed = {canonicalize_name(c["name"]): c["version"] for c in bom["components"]}
    runtime = {n: v for n, (v, _) in lock_tool.read_pins(ROOT / "locks" / "runtime.txt").items()}
    assert listed == runtime
    assert "fastapi" in listed and "pytest" not in listed
