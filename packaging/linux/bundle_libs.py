"""Which shared libraries the Linux bundle carries, and which it takes from the system (Depends).

The bundle must not depend on what the build machine happens to have installed. PyInstaller
collects every library a collected file links, from wherever the build machine has it: with GTK 3
installed, Qt's GTK 3 theme plugin drags in libgtk-3, libgdk-3, libepoxy, libatk-bridge and a
dozen X extension libraries. The spec drops that plugin, but its libraries stayed in the bundle,
linking cairo, pango, atk and harfbuzz from the system, which the package did not declare. So:

- ``unneeded(before, after)``: the spec's filter leaves out files (plugins, tests); the top-level
  libraries that only what was left out needed go too. Libraries nothing links (loaded by name at
  run time, e.g. libpython) are never touched.
- ``system_needs(bundle)``: every library an ELF file of the finished bundle links (DT_NEEDED) and
  the bundle does not carry: what the system must provide.
- ``depends(bundle, declared)``: the Debian packages providing those, found in the build machine's
  ld.so cache and dpkg database, added to the ones declared by hand (``depends.txt``: what the
  bundle loads without linking it, or what plugins link that the build machine may lack).

    python3 packaging/linux/bundle_libs.py depends BUNDLE_DIR packaging/linux/depends.txt

prints the Depends list (without libc6's version, which make_deb.sh adds). Standard library only:
the spec (in the build venv) and make_deb.sh (system python3) both use it.
"""

from __future__ import annotations

import os
import platform
import re
import struct
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

# A PyInstaller TOC entry: (destination in the bundle, source path, typecode). For SYMLINK entries
# the source is the link's target, relative to the destination's folder.
Entry = tuple[str, str, str]

SHT_DYNAMIC, DT_NULL, DT_NEEDED = 6, 0, 1


def needed(path: str | os.PathLike) -> list[str]:
    """The DT_NEEDED sonames of an ELF file, in order; [] for anything else (or an unreadable file)."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if len(head) < 52 or head[:4] != b"\x7fELF":
                return []
            end = "<" if head[5] == 1 else ">"
            if head[4] == 2:        # ELF64
                (shoff,) = struct.unpack_from(end + "Q", head, 0x28)
                shentsize, shnum = struct.unpack_from(end + "HH", head, 0x3A)
                section, dyn = end + "IIQQQQIIQQ", end + "qQ"
            else:                   # ELF32
                (shoff,) = struct.unpack_from(end + "I", head, 0x20)
                shentsize, shnum = struct.unpack_from(end + "HH", head, 0x2E)
                section, dyn = end + "IIIIIIIIII", end + "iI"
            if shoff == 0 or shentsize < struct.calcsize(section):
                return []
            f.seek(shoff)
            if shnum == 0:          # more than 0xff00 sections: the count is in section 0's size
                shnum = struct.unpack_from(section, f.read(shentsize))[5]
                f.seek(shoff)
            table = f.read(shentsize * shnum)
            sections = [struct.unpack_from(section, table, i * shentsize) for i in range(len(table) // shentsize)]
            for _name, kind, _flags, _addr, offset, size, link, *_ in sections:
                if kind != SHT_DYNAMIC or link >= len(sections):
                    continue
                f.seek(offset)
                entries = f.read(size)
                strtab = sections[link]
                f.seek(strtab[4])
                strings = f.read(strtab[5])
                names = []
                step = struct.calcsize(dyn)
                for pos in range(0, len(entries) - step + 1, step):
                    tag, value = struct.unpack_from(dyn, entries, pos)
                    if tag == DT_NULL:
                        break
                    if tag == DT_NEEDED:
                        names.append(strings[value:strings.index(b"\0", value)].decode())
                return names
    except (OSError, struct.error, ValueError, IndexError):
        return []
    return []


def _top_level(dest: str) -> bool:
    return "/" not in dest.replace("\\", "/")


def unneeded(before: Iterable[Entry], after: Iterable[Entry],
             needed: Callable[[str], list[str]] = needed) -> set[str]:
    """Top-level libraries in ``after`` that something in ``before`` linked and nothing in ``after``
    still links (directly or through other top-level libraries): what only the left-out files needed.

    PyInstaller puts the libraries it collects as dependencies at the top level; everything else
    (extension modules, Qt's and torch's libraries, plugins) sits in its package's folder and is a
    root. A top-level library that no file links at all was collected on purpose and is a root too.
    """
    before, after = list(before), list(after)
    by_dest = {e[0]: e for e in before}
    cache: dict[str, list[str]] = {}

    def links(entry: Entry) -> list[str]:
        dest, src, kind = entry
        if kind == "SYMLINK":       # read the file the link points to
            target = os.path.normpath(os.path.join(os.path.dirname(dest), src)).replace("\\", "/")
            if target not in by_dest or by_dest[target][2] == "SYMLINK":
                return []
            src = by_dest[target][1]
        if src not in cache:
            cache[src] = needed(src)
        return cache[src]

    linked_by_any = {lib for e in before for lib in links(e)}

    def reach(entries: list[Entry]) -> set[str]:
        top = {e[0]: e for e in entries if _top_level(e[0])}
        todo = [e for e in entries if not _top_level(e[0]) or e[0] not in linked_by_any]
        seen: set[str] = set()
        while todo:
            for lib in links(todo.pop()):
                if lib in top and lib not in seen:
                    seen.add(lib)
                    todo.append(top[lib])
        return seen

    kept_top = {e[0] for e in after if _top_level(e[0])}
    return (reach(before) - reach(after)) & kept_top


def elf_files(folder: Path) -> list[Path]:
    found = []
    for p in sorted(folder.rglob("*")):
        if p.is_file() and not p.is_symlink():
            with open(p, "rb") as f:
                if f.read(4) == b"\x7fELF":
                    found.append(p)
    return found


def system_needs(bundle: Path, needed: Callable[[Path], list[str]] = needed) -> dict[str, str]:
    """soname -> the first file (relative to ``bundle``) that links it, for every library an ELF file
    of the bundle links and the bundle does not carry."""
    carried = {p.name for p in bundle.rglob("*")}
    wanted: dict[str, str] = {}
    for elf in elf_files(bundle):
        for lib in needed(elf):
            if lib not in carried:
                wanted.setdefault(lib, str(elf.relative_to(bundle)))
    return wanted


def ld_cache(text: str | None = None, machine: str | None = None) -> dict[str, str]:
    """soname -> path from ``ldconfig -p`` (its output may be given), for this machine's word size."""
    if text is None:
        text = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    arch = {"x86_64": "x86-64", "aarch64": "AArch64"}.get(machine or platform.machine(), "")
    found: dict[str, str] = {}
    for line in text.splitlines()[1:]:
        m = re.match(r"\s*(\S+) \(([^)]*)\) => (\S+)", line)
        if m and (not arch or arch in m.group(2)):
            found.setdefault(m.group(1), m.group(3))
    return found


def dpkg_owner(path: str) -> str | None:
    """The package that installed ``path`` (either side of the /usr merge), or None."""
    real = os.path.realpath(path)
    candidates = {path, real}
    for p in list(candidates):
        candidates |= {p.replace("/usr/lib/", "/lib/", 1), p.replace("/lib/", "/usr/lib/", 1)}
    out = subprocess.run(["dpkg", "-S", *sorted(candidates)], capture_output=True, text=True)
    return owner_from_dpkg_search(out.stdout)


def owner_from_dpkg_search(text: str) -> str | None:
    """``dpkg -S`` prints ``pkg:arch: /path`` (or ``pkg1, pkg2: /path``); the first package by name."""
    pkgs = set()
    for line in text.splitlines():
        if ": " not in line or line.startswith("diversion "):
            continue
        for pkg in line.split(": ", 1)[0].split(","):
            pkgs.add(pkg.strip().split(":", 1)[0])
    return sorted(pkgs)[0] if pkgs else None


# Libraries only plugins link (Wayland, EGLFS): Qt loads such a plugin only when its libraries are
# there, so the build machine may lack them; depends.txt declares the ones the package wants.
OPTIONAL_USERS = ("/plugins/", "libQt6Wayland", "libQt6WlShell", "libQt6EglFS", "libQt6EglFs")


def depends(bundle: Path, declared: Iterable[str], *, needs: dict[str, str] | None = None,
            cache: dict[str, str] | None = None, owner: Callable[[str], str | None] = dpkg_owner) -> list[str]:
    """The Depends packages: ``declared`` (in its order) then every package providing a library the
    bundle links but does not carry (sorted). Raises SystemExit when a library the app needs is
    found nowhere, or belongs to no package."""
    needs = system_needs(bundle) if needs is None else needs
    cache = ld_cache() if cache is None else cache
    result = [d for d in declared if d]
    problems = []
    derived = set()
    for lib, user in sorted(needs.items()):
        if lib not in cache:
            if not any(part in user for part in OPTIONAL_USERS):
                problems.append(f"{lib} (needed by {user}) is neither in the bundle nor on this system")
            continue
        pkg = owner(cache[lib])
        if pkg is None:
            problems.append(f"{cache[lib]} (needed by {user}) belongs to no package")
        elif pkg not in result:
            derived.add(pkg)
    if problems:
        raise SystemExit("cannot derive Depends:\n  " + "\n  ".join(problems))
    return result + sorted(derived)


def read_declared(path: Path) -> list[str]:
    """Package names from a depends.txt: separated by commas or new lines, '#' starts a comment."""
    text = "\n".join(line.split("#", 1)[0] for line in path.read_text(encoding="utf-8").splitlines())
    return [name.strip() for name in re.split(r"[,\n]", text) if name.strip()]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3 or args[0] != "depends":
        print("usage: bundle_libs.py depends BUNDLE_DIR DEPENDS_TXT", file=sys.stderr)
        return 2
    print(", ".join(depends(Path(args[1]), read_declared(Path(args[2])))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
