"""The .deb installs, its program passes --self-check, and uninstalling leaves nothing behind (slow).

The package is installed into a throwaway root with ``dpkg --root`` (its own dpkg database; the
maintainer scripts run without chroot and see ``DPKG_ROOT``), so the machine running the test is
not modified and no root login or container is needed beyond what dpkg itself wants. With
``RWKV_DEB_SYSTEM=1`` (CI on a fresh Ubuntu runner) the package is instead installed for real
with ``apt-get install ./file.deb``, which also proves that its Depends resolve, and purged after.

The .deb comes from ``RWKV_DEB`` when set (``.ci/run-slow`` builds it first); otherwise this test
builds it with ``packaging/build_linux.sh`` (about ten minutes on two cores).
"""

from __future__ import annotations

import configparser
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux") or shutil.which("dpkg-deb") is None,
                       reason="needs Linux with dpkg"),
]

ROOT = Path(__file__).resolve().parents[2]
INSTALL = "opt/rwkv-desktop"
OK_LINE = re.compile(r"^self-check OK: .+ replied \d+ tokens", re.M)
# Files a package may install: everything else (user folders, /etc, /usr/lib) is a mistake.
ALLOWED_PREFIXES = ("./opt/rwkv-desktop/", "./usr/bin/rwkv-desktop", "./usr/share/applications/rwkv-desktop.desktop",
                    "./usr/share/icons/hicolor/", "./usr/share/doc/rwkv-desktop")


@pytest.fixture(scope="module")
def deb() -> Path:
    given = os.environ.get("RWKV_DEB")
    if given:
        path = Path(given)
        assert path.is_file(), f"RWKV_DEB={given} does not exist"
        return path
    out = subprocess.run([str(ROOT / "packaging" / "build_linux.sh")], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, f"build_linux.sh failed:\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}"
    debs = sorted((ROOT / "dist").glob("rwkv-desktop_*.deb"), key=lambda p: p.stat().st_mtime)
    assert debs, "build_linux.sh made no .deb"
    return debs[-1]


def _field(deb: Path, name: str) -> str:
    return subprocess.run(["dpkg-deb", "--field", str(deb), name], check=True, capture_output=True,
                          text=True).stdout.strip()


def _depends(deb: Path) -> set[str]:
    """Every package named in Depends, alternatives included, without version constraints."""
    names = set()
    for group in _field(deb, "Depends").split(","):
        for alt in group.split("|"):
            names.add(re.sub(r"\s*\(.*\)", "", alt).strip())
    return names - {""}


def _dpkg(root: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = ["dpkg", f"--root={root}", "--force-script-chrootless", "--force-not-root",
           f"--log={root.parent / 'dpkg.log'}", *args]
    return subprocess.run(cmd, capture_output=True, text=True)


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _run_self_check(command: list[str], home: Path) -> str:
    """Run the installed program's self-check offscreen, with every user folder in a temp dir."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "QT_", "PYTHON"))}
    env.update(HOME=str(home), XDG_DATA_HOME=str(home / "data"), XDG_CONFIG_HOME=str(home / "config"),
               XDG_CACHE_HOME=str(home / "cache"), QT_QPA_PLATFORM="offscreen")
    t0 = time.perf_counter()
    out = subprocess.run([*command, "--self-check", "--data-dir", str(home / "rwkv-data")], env=env,
                         capture_output=True, text=True, timeout=600)
    took = time.perf_counter() - t0
    assert out.returncode == 0, f"self-check exited {out.returncode}:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    assert OK_LINE.search(out.stdout), f"no self-check line:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    print(f"installed self-check ({took:.1f} s): {OK_LINE.search(out.stdout).group(0)}")
    if platform.machine() in ("x86_64", "AMD64"):  # the compiled kernels must load from the bundle
        assert re.search(r"with cpu-\S+ kernels", out.stdout), f"compiled CPU kernels not in use:\n{out.stdout}"
    return out.stdout


def _desktop_exec(desktop_file: Path) -> list[str]:
    entry = configparser.ConfigParser(interpolation=None)
    entry.read(desktop_file, encoding="utf-8")
    section = entry["Desktop Entry"]
    assert section["Type"] == "Application" and section["Icon"] == "rwkv-desktop"
    argv = shlex.split(section["Exec"])
    assert not [a for a in argv if a.startswith("%")], "the app takes no file arguments from the launcher"
    return argv


def test_package_metadata_and_contents(deb: Path) -> None:
    assert _field(deb, "Package").startswith("rwkv-desktop")
    assert _depends(deb), "Depends is empty: the Qt xcb libraries must be declared"
    listing = subprocess.run(["dpkg-deb", "--contents", str(deb)], check=True, capture_output=True,
                             text=True).stdout.splitlines()
    paths, owners = [], set()
    for line in listing:
        perms, owner, *_rest = line.split(None, 5)
        path = line.split(" ./", 1)[1].split(" -> ")[0]
        paths.append("./" + path)
        owners.add(owner)
    assert owners == {"root/root"}
    stray = [p for p in paths if p.rstrip("/") not in ("./", ".", "./opt", "./usr", "./usr/bin", "./usr/share",
                                                        "./usr/share/applications", "./usr/share/icons",
                                                        "./usr/share/doc")
             and not p.startswith(ALLOWED_PREFIXES)]
    assert not stray, f"files outside the package's own places: {stray[:10]}"
    for needed in ("./opt/rwkv-desktop/rwkv-desktop", "./usr/bin/rwkv-desktop",
                   "./usr/share/applications/rwkv-desktop.desktop",
                   "./usr/share/icons/hicolor/256x256/apps/rwkv-desktop.png",
                   "./opt/rwkv-desktop/_internal/resources/models/demo/model.safetensors",
                   "./opt/rwkv-desktop/_internal/resources/catalog.json"):
        assert needed in paths, f"{needed} missing from the package"
    assert not [p for p in paths if "/triton/" in p] or _field(deb, "Package") != "rwkv-desktop", \
        "Triton must not ship in the CPU package"
    if (ROOT / "setup.py").is_file():  # the compiled CPU kernels are part of the build
        assert [p for p in paths if p.startswith("./opt/rwkv-desktop/_internal/kernels/cpu/_rwkv_cpu")], \
            "the compiled CPU kernels (kernels/cpu/_rwkv_cpu*) are missing from the package"


def test_install_self_check_and_purge_in_throwaway_root(deb: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "var/lib/dpkg/info").mkdir(parents=True)
    (root / "var/lib/dpkg/updates").mkdir()
    (root / "var/lib/dpkg/status").touch()
    empty = _tree(root)
    package = _field(deb, "Package")

    # Depends name system libraries the throwaway root does not have; the host provides them.
    out = _dpkg(root, "--force-depends", "--install", str(deb))
    assert out.returncode == 0, out.stdout + out.stderr
    status = _dpkg(root, "--status", package)
    assert "Status: install ok installed" in status.stdout, status.stdout + status.stderr
    assert (root / INSTALL / "rwkv-desktop").is_file()

    # Start it the way the desktop menu does: the .desktop file's Exec line, found on PATH.
    argv = _desktop_exec(root / "usr/share/applications/rwkv-desktop.desktop")
    program = shutil.which(argv[0], path=str(root / "usr/bin"))
    assert program == str(root / "usr/bin" / argv[0])
    before = _tree(root / INSTALL)
    _run_self_check([program, *argv[1:]], tmp_path / "home")
    assert _tree(root / INSTALL) == before, "running the app wrote into its install folder"

    out = _dpkg(root, "--purge", package)
    assert out.returncode == 0, out.stdout + out.stderr
    left = _tree(root) - empty
    # dpkg's own bookkeeping (locks, status backups, trigger files) is all that may remain.
    left = {p for p in left if not p.startswith("var/lib/dpkg/")}
    assert not left, f"left behind after purge: {sorted(left)[:20]}"


def _elf_files(folder: Path) -> list[Path]:
    found = []
    for p in folder.rglob("*"):
        if p.is_file() and not p.is_symlink():
            with open(p, "rb") as f:
                if f.read(4) == b"\x7fELF":
                    found.append(p)
    return found


def _needed(elf: Path) -> list[str]:
    out = subprocess.run(["objdump", "-p", str(elf)], capture_output=True, text=True)
    return [line.split()[1] for line in out.stdout.splitlines() if line.strip().startswith("NEEDED")]


def _ld_cache() -> dict[str, str]:
    """soname -> path, from ``ldconfig -p``, for this machine's word size."""
    arch = {"x86_64": "x86-64", "aarch64": "AArch64"}.get(platform.machine(), "")
    found: dict[str, str] = {}
    out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines()[1:]:
        m = re.match(r"\s*(\S+) \(([^)]*)\) => (\S+)", line)
        if m and (not arch or arch in m.group(2)):
            found.setdefault(m.group(1), m.group(3))
    return found


def _owner(path: str) -> str | None:
    real = os.path.realpath(path)
    candidates = {path, real}
    for p in list(candidates):
        candidates |= {p.replace("/usr/lib/", "/lib/", 1), p.replace("/lib/", "/usr/lib/", 1)}
    out = subprocess.run(["dpkg", "-S", *sorted(candidates)], capture_output=True, text=True)
    pkgs = sorted({line.split(":", 1)[0].strip() for line in out.stdout.splitlines() if ": " in line})
    return pkgs[0] if pkgs else None


def test_depends_cover_every_system_library(deb: Path, tmp_path: Path) -> None:
    """Every library an ELF file of the bundle asks for (NEEDED) and the bundle does not carry must
    come from a package named in Depends (owners looked up in this machine's dpkg database)."""
    if shutil.which("objdump") is None or shutil.which("ldconfig") is None:
        pytest.skip("needs objdump (binutils) and ldconfig")
    subprocess.run(["dpkg-deb", "--extract", str(deb), str(tmp_path)], check=True)
    bundle = tmp_path / INSTALL
    carried = {p.name for p in bundle.rglob("*")}
    wanted: dict[str, str] = {}
    for elf in _elf_files(bundle):
        for lib in _needed(elf):
            if lib not in carried:
                wanted.setdefault(lib, str(elf.relative_to(bundle)))
    cache = _ld_cache()
    # Qt loads a plugin (and the Wayland / EGLFS libraries that only plugins use) only if its
    # libraries are there; the engine, Python and Qt's core must resolve everything.
    missing = {lib: user for lib, user in wanted.items() if lib not in cache and not any(
        part in user for part in ("/plugins/", "libQt6Wayland", "libQt6WlShell", "libQt6EglFS", "libQt6EglFs"))}
    assert not missing, f"libraries found neither in the bundle nor on this system: {missing}"
    declared = _depends(deb)
    undeclared = []
    for lib, user in sorted(wanted.items()):
        if lib not in cache:
            continue
        owner = _owner(cache[lib])
        assert owner, f"{cache[lib]} (needed by {user}) belongs to no package"
        if owner not in declared:
            undeclared.append(f"{owner}: {lib} for {user}")
    assert not undeclared, "packages missing from Depends:\n" + "\n".join(undeclared)


def test_cold_start_to_visible_window(deb: Path, tmp_path: Path) -> None:
    """From launching the installed program to its main window on an X server, with the install
    folder evicted from the page cache first (as after a reboot), then once warm."""
    if shutil.which("Xvfb") is None or shutil.which("xwininfo") is None:
        pytest.skip("needs Xvfb and xwininfo (x11-utils)")
    from tests.packaging.startup import measure

    subprocess.run(["dpkg-deb", "--extract", str(deb), str(tmp_path / "root")], check=True)
    times = measure([str(tmp_path / "root/usr/bin/rwkv-desktop")], runs=2, cold=True,
                    install_dir=tmp_path / "root" / INSTALL)
    print(f"main window visible after {times[0]:.2f} s cold, {times[1]:.2f} s warm")
    assert times[0] < 120 and times[1] < 60


@pytest.mark.skipif(os.environ.get("RWKV_DEB_SYSTEM") != "1", reason="set RWKV_DEB_SYSTEM=1 to install system-wide")
def test_system_install_with_apt_then_purge(deb: Path, tmp_path: Path) -> None:
    """CI only (a fresh runner with sudo): apt resolves Depends, the menu entry starts the app."""
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run([*sudo, "apt-get", "install", "-y", str(deb.resolve())], check=True, env=env)
    try:
        assert Path("/" + INSTALL, "rwkv-desktop").is_file()
        _run_self_check(_desktop_exec(Path("/usr/share/applications/rwkv-desktop.desktop")), tmp_path / "home")
    finally:
        subprocess.run([*sudo, "apt-get", "purge", "-y", _field(deb, "Package")], check=True, env=env)
    for path in ("/" + INSTALL, "/usr/bin/rwkv-desktop", "/usr/share/applications/rwkv-desktop.desktop",
                 "/usr/share/icons/hicolor/256x256/apps/rwkv-desktop.png"):
        assert not os.path.lexists(path), f"{path} is still there after purge"
