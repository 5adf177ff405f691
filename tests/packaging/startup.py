"""Time from starting an installed RWKV Desktop to its main window being visible on an X server.

    python tests/packaging/startup.py PROGRAM [--runs 3] [--cold]

Starts a private Xvfb, launches PROGRAM (e.g. ``/usr/bin/rwkv-desktop``) with a throwaway HOME,
and polls the X server until a top-level window titled "RWKV Desktop..." is viewable. ``--cold``
first evicts the program's files from the page cache (posix_fadvise DONTNEED, no root needed), as
after a reboot, so the first run also measures reading ~800 MB of libraries from disk. Prints one
line per run and returns the times; needs Xvfb and xwininfo (x11-utils).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TITLE = re.compile(r'^\s*(0x[0-9a-f]+) "RWKV Desktop[^"]*"', re.M)


def evict(folder: Path) -> int:
    """Drop every file under ``folder`` from the page cache; returns how many files."""
    count = 0
    for p in folder.rglob("*"):
        if p.is_file() and not p.is_symlink():
            fd = os.open(p, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                count += 1
            finally:
                os.close(fd)
    return count


def _free_display() -> int:
    for n in range(90, 200):
        if not Path(f"/tmp/.X{n}-lock").exists() and not Path(f"/tmp/.X11-unix/X{n}").exists():
            return n
    raise RuntimeError("no free X display number")


def _viewable(display: str) -> bool:
    env = dict(os.environ, DISPLAY=display)
    tree = subprocess.run(["xwininfo", "-root", "-tree"], env=env, capture_output=True, text=True).stdout
    for wid in TITLE.findall(tree):
        info = subprocess.run(["xwininfo", "-id", wid], env=env, capture_output=True, text=True).stdout
        if "IsViewable" in info:
            return True
    return False


def time_to_window(program: list[str], display: str, home: Path, timeout: float = 180) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QT_", "XDG_", "WAYLAND"))}
    env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb", HOME=str(home), XDG_DATA_HOME=str(home / "data"),
               XDG_CONFIG_HOME=str(home / "config"), XDG_CACHE_HOME=str(home / "cache"))
    t0 = time.perf_counter()
    proc = subprocess.Popen(program, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        while time.perf_counter() - t0 < timeout:
            if proc.poll() is not None:
                out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
                raise RuntimeError(f"the program exited ({proc.returncode}) before showing a window:\n{out[-2000:]}")
            if _viewable(display):
                return time.perf_counter() - t0
            time.sleep(0.01)
        raise TimeoutError(f"no window after {timeout:.0f} s")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def measure(program: list[str], runs: int = 3, cold: bool = False, install_dir: Path | None = None) -> list[float]:
    for tool in ("Xvfb", "xwininfo"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} is not installed")
    n = _free_display()
    display = f":{n}"
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(500):
            if Path(f"/tmp/.X11-unix/X{n}").exists():
                break
            time.sleep(0.01)
        times = []
        with tempfile.TemporaryDirectory(prefix="rwkv-startup-") as tmp:
            for i in range(runs):
                if cold and i == 0 and install_dir is not None:
                    evict(install_dir)
                times.append(time_to_window(program, display, Path(tmp) / f"home{i}"))
        return times
    finally:
        xvfb.terminate()
        xvfb.wait()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("program", help="the installed launcher, e.g. /usr/bin/rwkv-desktop")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--cold", action="store_true", help="evict the install folder from the page cache first")
    p.add_argument("--install-dir", type=Path, help="folder to evict with --cold (default: the launcher's bundle)")
    args = p.parse_args(argv)
    program = os.path.realpath(args.program)
    install_dir = args.install_dir
    if install_dir is None:
        guess = Path(program).parent.parent.parent / "opt" / "rwkv-desktop"
        install_dir = guess if guess.is_dir() else Path(program).parent
    times = measure([args.program], args.runs, args.cold, install_dir)
    for i, t in enumerate(times):
        kind = "cold (page cache evicted)" if args.cold and i == 0 else "warm"
        print(f"run {i + 1}: main window visible after {t:.2f} s ({kind})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
