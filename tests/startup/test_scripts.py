"""scripts/setup skips the install when nothing it installs changed; scripts/run opens the last
model unless given one; scripts/install_torch picks the CPU build. Each runs for real in a copy of
the files it reads, with a stand-in ``.venv/bin/python`` that records what it was asked to do."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32" or shutil.which("bash") is None, reason="needs bash")

ROOT = Path(__file__).resolve().parents[2]

# Records its arguments; fails when they contain $FAIL_ON; answers the torch version query.
FAKE_PYTHON = """#!/usr/bin/env bash
echo "$*" >> "$CALLS"
if [ -n "${FAIL_ON:-}" ] && [[ "$*" == *"$FAIL_ON"* ]]; then exit 1; fi
case "$*" in *"m.version('torch')"*) [ -n "${NO_TORCH:-}" ] && exit 1; echo 2.13.0+cpu ;; esac
exit 0
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The files setup reads, the scripts, and a .venv whose python is the stand-in."""
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    for name in ("setup", "run", "install_torch"):
        shutil.copy2(ROOT / "scripts" / name, root / "scripts" / name)
    for name in ("pyproject.toml", "setup.py"):
        shutil.copy2(ROOT / name, root / name)
    shutil.copytree(ROOT / "kernels" / "cpu" / "src", root / "kernels" / "cpu" / "src")
    (root / ".venv" / "bin").mkdir(parents=True)
    python = root / ".venv" / "bin" / "python"
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    return root


def _run(repo: Path, *args: str, **env: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    calls = repo / "calls.log"
    calls.write_text("")
    out = subprocess.run(["bash", *args], cwd=repo, capture_output=True, text=True,
                         env={**os.environ, "CALLS": str(calls), **env})
    return out, calls.read_text().splitlines()


def _installs(calls: list[str]) -> list[str]:
    return [c for c in calls if c.startswith("-m pip install")]


def test_setup_installs_once_then_skips_until_an_input_changes(repo: Path):
    out, calls = _run(repo, "scripts/setup")
    assert out.returncode == 0, out.stderr
    assert _installs(calls) == ["-m pip install --quiet -e ."]
    assert (repo / ".venv" / ".setup-stamp").is_file()

    out, calls = _run(repo, "scripts/setup")                      # second run: nothing at all
    assert out.returncode == 0 and calls == [] and out.stdout == ""

    (repo / "app.py").write_text("x = 1\n")                       # Python code: editable, no reinstall
    assert _run(repo, "scripts/setup")[1] == []

    src = repo / "kernels" / "cpu" / "src" / "rwkv7.cpp"          # kernel source: rebuild
    src.write_text(src.read_text() + "\n// changed\n")
    assert _installs(_run(repo, "scripts/setup")[1]) == ["-m pip install --quiet -e ."]
    assert _run(repo, "scripts/setup")[1] == []

    (repo / "kernels" / "cpu" / "src" / "new.h").write_text("")   # a new kernel file
    assert _installs(_run(repo, "scripts/setup")[1]) == ["-m pip install --quiet -e ."]

    with open(repo / "pyproject.toml", "a") as f:                 # dependencies
        f.write("\n# changed\n")
    assert _installs(_run(repo, "scripts/setup")[1]) == ["-m pip install --quiet -e ."]
    assert _run(repo, "scripts/setup")[1] == []


def test_test_extras_cover_the_plain_install_but_not_the_reverse(repo: Path):
    assert _installs(_run(repo, "scripts/setup")[1]) == ["-m pip install --quiet -e ."]
    assert _installs(_run(repo, "scripts/setup", "--test")[1]) == ["-m pip install --quiet -e .[test]"]
    assert _run(repo, "scripts/setup", "--test")[1] == []
    assert _run(repo, "scripts/setup")[1] == []


def test_a_failed_install_leaves_no_stamp(repo: Path):
    _run(repo, "scripts/setup")
    with open(repo / "setup.py", "a") as f:
        f.write("\n# changed\n")
    out, _ = _run(repo, "scripts/setup", FAIL_ON="-e .")
    assert out.returncode != 0
    assert not (repo / ".venv" / ".setup-stamp").exists()
    assert _installs(_run(repo, "scripts/setup")[1]) == ["-m pip install --quiet -e ."]


def test_setup_installs_torch_only_when_missing(repo: Path):
    _, calls = _run(repo, "scripts/setup", NO_TORCH="1")
    assert _installs(calls)[0].startswith("-m pip install --quiet --no-index --no-deps torch==2.13.0+cpu")
    (repo / ".venv" / ".setup-stamp").unlink()
    _, calls = _run(repo, "scripts/setup")
    assert not [c for c in calls if "torch" in c and "install" in c]


def _app_call(calls: list[str]) -> str:
    [call] = [c for c in calls if c.startswith("-m app") and not c.startswith("-m app.")]
    return call


def test_run_opens_the_last_model_unless_given_one(repo: Path):
    out, calls = _run(repo, "scripts/run")
    assert out.returncode == 0, out.stderr
    assert "-m app.system_libs --install" in calls
    assert calls.index("-m app.system_libs --install") < calls.index(_app_call(calls))
    assert _app_call(calls) == "-m app"                           # the app reopens the last model
    assert _app_call(_run(repo, "scripts/run", "model.pth")[1]) == "-m app --model model.pth"
    assert _app_call(_run(repo, "scripts/run", "demo", "--data-dir", "d")[1]) == "-m app --model demo --data-dir d"
    assert _app_call(_run(repo, "scripts/run", "--data-dir", "d")[1]) == "-m app --data-dir d"


def test_run_stops_when_system_libraries_are_missing(repo: Path):
    out, calls = _run(repo, "scripts/run", FAIL_ON="app.system_libs")
    assert out.returncode != 0
    assert not [c for c in calls if c.startswith("-m app ") or c == "-m app"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the CPU index is the Linux default")
def test_install_torch_tries_a_local_cpu_wheel_then_the_cpu_index(repo: Path):
    py = str(repo / ".venv" / "bin" / "python")
    out, calls = _run(repo, "scripts/install_torch", py)
    assert out.returncode == 0 and calls == ["-m pip install --quiet --no-index --no-deps torch==2.13.0+cpu"]

    out, calls = _run(repo, "scripts/install_torch", py, FAIL_ON="--no-index")
    assert out.returncode == 0
    assert calls[1] == ("-m pip install --quiet --no-deps --index-url https://download.pytorch.org/whl/cpu "
                        "torch==2.13.0+cpu")

    out, calls = _run(repo, "scripts/install_torch", py, FAIL_ON="torch==2.13.0+cpu")
    assert out.returncode == 1 and len(calls) == 2 and "TORCH_SPEC" in out.stderr

    spec = "torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"
    out, calls = _run(repo, "scripts/install_torch", py, TORCH_SPEC=spec)
    assert out.returncode == 0 and calls == [f"-m pip install --quiet {spec}"]


def test_setup_refuses_a_python_torch_has_no_wheels_for(repo: Path, tmp_path: Path):
    old = tmp_path / "python3.9"
    old.write_text('#!/usr/bin/env bash\n[ "$1" = --version ] && echo "Python 3.9.18"\nexit 1\n')
    old.chmod(0o755)
    shutil.rmtree(repo / ".venv")
    out, _ = _run(repo, "scripts/setup", PYTHON=str(old))
    assert out.returncode == 1
    assert "needs Python 3.10 to 3.14" in out.stderr and "Python 3.9.18" in out.stderr
    assert not (repo / ".venv").exists()
