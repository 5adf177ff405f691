"""Before the first window: are the system libraries that Qt's X11 (xcb) platform plugin loads there?

PySide6's wheels carry Qt but not the X11 libraries Qt's xcb plugin links (libxcb-cursor,
libxcb-icccm, libxcb-keysyms, ...). On a minimal Debian/Ubuntu install several are missing, and Qt
then aborts before any window with a message that names only one of them (and not its package).
This module runs ``ldd`` on the plugin inside the installed PySide6, lists every library it cannot
find, and names the packages that provide them on Debian/Ubuntu, Fedora, Arch and openSUSE.

    python -m app.system_libs            # exit 0 if Qt can open a window, else print what to install, exit 1
    python -m app.system_libs --install  # as root: say what will be installed, install it, check again

``scripts/run`` runs it with ``--install`` before starting the app; ``python -m app`` runs the check
(never the install) before creating its QApplication. Only the standard library is used, and
PySide6 is located, not imported.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

MANAGERS = ("apt", "dnf", "pacman", "zypper")
DISTROS = {"apt": "Debian/Ubuntu", "dnf": "Fedora", "pacman": "Arch", "zypper": "openSUSE"}

# soname -> package per manager (apt, dnf, pacman, zypper): every library in the closure of Qt's
# xcb plugin that a minimal system may lack (the C/C++ runtime, zlib and the like are everywhere).
# On Ubuntu 24.04 and Debian 13 some are renamed with a t64 suffix; apt takes the old names.
PACKAGES: dict[str, tuple[str, str, str, str]] = {
    "libxcb.so.1": ("libxcb1", "libxcb", "libxcb", "libxcb1"),
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor", "xcb-util-cursor", "libxcb-cursor0"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm", "xcb-util-wm", "libxcb-icccm4"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image", "xcb-util-image", "libxcb-image0"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms", "xcb-util-keysyms", "libxcb-keysyms1"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil", "xcb-util-renderutil",
                                "libxcb-render-util0"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util", "xcb-util", "libxcb-util1"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb", "libxcb", "libxcb-randr0"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb", "libxcb", "libxcb-render0"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb", "libxcb", "libxcb-shape0"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb", "libxcb", "libxcb-shm0"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb", "libxcb", "libxcb-sync1"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb", "libxcb", "libxcb-xfixes0"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb", "libxcb", "libxcb-xkb1"),
    "libxcb-glx.so.0": ("libxcb-glx0", "libxcb", "libxcb", "libxcb-glx0"),
    "libX11.so.6": ("libx11-6", "libX11", "libx11", "libX11-6"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb", "libx11", "libX11-xcb1"),
    "libXau.so.6": ("libxau6", "libXau", "libxau", "libXau6"),
    "libXdmcp.so.6": ("libxdmcp6", "libXdmcp", "libxdmcp", "libXdmcp6"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon", "libxkbcommon", "libxkbcommon0"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11", "libxkbcommon-x11", "libxkbcommon-x11-0"),
    "libGL.so.1": ("libgl1", "libglvnd-glx", "libglvnd", "libGL1"),
    "libGLX.so.0": ("libglx0", "libglvnd-glx", "libglvnd", "libGLX0"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl", "libglvnd", "libEGL1"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl", "libglvnd", "libOpenGL0"),
    "libGLdispatch.so.0": ("libglvnd0", "libglvnd", "libglvnd", "libGLdispatch0"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig", "fontconfig", "libfontconfig1"),
    "libfreetype.so.6": ("libfreetype6", "freetype", "freetype2", "libfreetype6"),
    "libpng16.so.16": ("libpng16-16", "libpng", "libpng", "libpng16-16"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs", "dbus", "libdbus-1-3"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2", "glib2", "libglib-2_0-0"),
    "libgthread-2.0.so.0": ("libglib2.0-0", "glib2", "glib2", "libgthread-2_0-0"),
}

# How each manager installs non-interactively, as root.
INSTALL = {
    "apt": ["apt-get", "install", "-y", "--no-install-recommends"],
    "dnf": ["dnf", "install", "-y"],
    "pacman": ["pacman", "-S", "--needed", "--noconfirm"],
    "zypper": ["zypper", "--non-interactive", "install"],
}
# What a person types (not root).
SHOWN = {"apt": "sudo apt-get install", "dnf": "sudo dnf install", "pacman": "sudo pacman -S --needed",
         "zypper": "sudo zypper install"}


def xcb_plugin() -> Path | None:
    """``libqxcb.so`` inside the installed PySide6, or None (not installed, or not Linux)."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    plugin = Path(next(iter(spec.submodule_search_locations))) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.is_file() else None


def missing_from_ldd(output: str) -> list[str]:
    """The sonames ``ldd`` reported as ``=> not found``, in its order, each once."""
    missing: list[str] = []
    for line in output.splitlines():
        name, sep, where = line.strip().partition("=>")
        if sep and where.strip() == "not found" and name.strip() not in missing:
            missing.append(name.strip())
    return missing


def manager_for(os_release: str) -> str | None:
    """The package manager of the distribution described by ``/etc/os-release`` text."""
    fields = {}
    for line in os_release.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip()] = value.strip().strip("\"'")
    ids = [fields.get("ID", "").lower(), *fields.get("ID_LIKE", "").lower().split()]
    for ident in ids:
        if ident in ("debian", "ubuntu", "linuxmint", "pop", "raspbian"):
            return "apt"
        if ident in ("fedora", "rhel", "centos", "rocky", "almalinux"):
            return "dnf"
        if ident in ("arch", "manjaro", "endeavouros"):
            return "pacman"
        if ident.startswith(("opensuse", "suse", "sles")):
            return "zypper"
    return None


def packages(missing: list[str], manager: str) -> tuple[list[str], list[str]]:
    """(packages to install, sonames no package is known for) for one package manager."""
    column = MANAGERS.index(manager)
    found: list[str] = []
    unknown: list[str] = []
    for lib in missing:
        if lib in PACKAGES:
            pkg = PACKAGES[lib][column]
            if pkg not in found:
                found.append(pkg)
        else:
            unknown.append(lib)
    return found, unknown


def message(missing: list[str], manager: str | None) -> str:
    """What to tell a person whose system lacks ``missing``: the packages, per distribution."""
    lines = ["RWKV Desktop cannot open its window: Qt's X11 (xcb) platform plugin needs system libraries",
             "that are not installed:", "    " + " ".join(missing), ""]
    order = [manager] if manager else []
    order += [m for m in MANAGERS if m != manager]
    for m in order:
        pkgs, unknown = packages(missing, m)
        label = f"{DISTROS[m]}{' (this system)' if m == manager else ''}:"
        lines.append(f"  {label:<30} {SHOWN[m]} {' '.join(pkgs)}" if pkgs else f"  {label:<25} (see below)")
    _, unknown = packages(missing, MANAGERS[0])
    if unknown:
        lines += ["", "No package is known here for: " + " ".join(unknown) + " (search your distribution for it)."]
    lines += ["", "Then start RWKV Desktop again. Without a display, QT_QPA_PLATFORM=offscreen works with no",
              "X libraries (python -m app --self-check)."]
    return "\n".join(lines)


def wants_xcb(env: dict[str, str]) -> bool:
    """Will Qt use its xcb plugin? Not when another platform is asked for, nor in a Wayland session
    (Qt then uses its Wayland plugin)."""
    asked = env.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    if asked:
        return asked == "xcb"
    return not env.get("WAYLAND_DISPLAY")


def _ldd(path: Path) -> str | None:
    if shutil.which("ldd") is None:
        return None
    out = subprocess.run(["ldd", str(path)], capture_output=True, text=True)
    return out.stdout + out.stderr


def missing_libraries(plugin: Path | None = None, ldd: Callable[[Path], str | None] = _ldd) -> list[str]:
    """The libraries Qt's xcb plugin would not find; empty when all are there or it cannot be told."""
    plugin = plugin or xcb_plugin()
    if plugin is None:
        return []
    output = ldd(plugin)
    return missing_from_ldd(output) if output else []


def _os_release() -> str:
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        try:
            return Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
    return ""


def _run(cmd: list[str]) -> int:
    return subprocess.run(cmd).returncode


def check(install: bool = False, *, env: dict[str, str] | None = None, plugin: Path | None = None,
          ldd: Callable[[Path], str | None] = _ldd, os_release: str | None = None,
          is_root: bool | None = None, run: Callable[[list[str]], int] = _run,
          out: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True)) -> int:
    """0 when Qt can open a window (after installing what is missing, if ``install`` and root), else 1
    with the message printed. The keyword arguments stand in for the system in tests."""
    env = os.environ if env is None else env
    if not sys.platform.startswith("linux") or not wants_xcb(env):
        return 0
    missing = missing_libraries(plugin, ldd)
    if not missing:
        return 0
    manager = manager_for(_os_release() if os_release is None else os_release)
    root = (os.geteuid() == 0) if is_root is None else is_root
    if install and root and manager is not None:
        pkgs, unknown = packages(missing, manager)
        if pkgs and not unknown:
            out(f"Qt's X11 (xcb) platform plugin needs {' '.join(missing)}.\n"
                f"Installing them now as root: {' '.join(INSTALL[manager] + pkgs)}")
            status = run(INSTALL[manager] + pkgs)
            if status != 0 and manager == "apt":     # a fresh system may have no package lists yet
                run(["apt-get", "update"])
                run(INSTALL[manager] + pkgs)
            missing = missing_libraries(plugin, ldd)
            if not missing:
                return 0
    out(message(missing, manager))
    return 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m app.system_libs", description=__doc__.splitlines()[0])
    p.add_argument("--install", action="store_true",
                   help="when run as root, install what is missing with the system's package manager (says so first)")
    return check(p.parse_args(argv).install)


if __name__ == "__main__":
    sys.exit(main())
