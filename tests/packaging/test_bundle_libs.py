"""What the Linux bundle carries and what its .deb Depends on (packaging/linux/bundle_libs.py), with
the build machine's ld.so cache and dpkg database stood in for. Fast: no build."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("bundle_libs", ROOT / "packaging" / "linux" / "bundle_libs.py")
B = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(B)

PLUGIN = "PySide6/Qt/plugins/platformthemes/libqgtk3.so"
# Who links what in a bundle built where GTK 3 is installed (trimmed from a real build).
LINKS = {
    "/venv/qgtk3.so": ["libQt6Gui.so.6", "libgtk-3.so.0", "libgdk-3.so.0", "libX11.so.6", "libc.so.6"],
    "/venv/qxcb.so": ["libQt6XcbQpa.so.6", "libX11.so.6", "libxcb-icccm.so.4"],
    "/venv/QtGui.so": ["libQt6Gui.so.6", "libpyside6.abi3.so.6.11"],
    "/venv/lib/libQt6Gui.so.6": ["libfontconfig.so.1", "libc.so.6"],
    "/venv/libpyside6.abi3.so.6.11": ["libQt6Core.so.6"],
    "/usr/lib/libgtk-3.so.0": ["libgdk-3.so.0", "libepoxy.so.0", "libatk-1.0.so.0", "libXi.so.6"],
    "/usr/lib/libgdk-3.so.0": ["libepoxy.so.0", "libXi.so.6", "libX11.so.6", "libcairo.so.2"],
    "/usr/lib/libepoxy.so.0": [],
    "/usr/lib/libXi.so.6": ["libX11.so.6"],
    "/usr/lib/libX11.so.6": ["libxcb.so.1"],
    "/usr/lib/libxcb.so.1": [],
    "/usr/lib/libxcb-icccm.so.4": ["libxcb.so.1"],
    "/usr/lib/libfontconfig.so.1": ["libexpat.so.1"],
    "/usr/lib/libexpat.so.1": [],
    "/usr/lib/libz.so.1": [],
    "/usr/lib/libpython3.11.so.1.0": ["libz.so.1"],      # loaded by the bootloader: nothing links it
}
BEFORE = [
    (PLUGIN, "/venv/qgtk3.so", "BINARY"),
    ("PySide6/Qt/plugins/platforms/libqxcb.so", "/venv/qxcb.so", "BINARY"),
    ("PySide6/QtGui.abi3.so", "/venv/QtGui.so", "EXTENSION"),
    ("PySide6/Qt/lib/libQt6Gui.so.6", "/venv/lib/libQt6Gui.so.6", "BINARY"),
    ("libQt6Gui.so.6", "PySide6/Qt/lib/libQt6Gui.so.6", "SYMLINK"),
    ("libpyside6.abi3.so.6.11", "/venv/libpyside6.abi3.so.6.11", "BINARY"),
    ("libgtk-3.so.0", "/usr/lib/libgtk-3.so.0", "BINARY"),
    ("libgdk-3.so.0", "/usr/lib/libgdk-3.so.0", "BINARY"),
    ("libepoxy.so.0", "/usr/lib/libepoxy.so.0", "BINARY"),
    ("libXi.so.6", "/usr/lib/libXi.so.6", "BINARY"),
    ("libX11.so.6", "/usr/lib/libX11.so.6", "BINARY"),
    ("libxcb.so.1", "/usr/lib/libxcb.so.1", "BINARY"),
    ("libxcb-icccm.so.4", "/usr/lib/libxcb-icccm.so.4", "BINARY"),
    ("libfontconfig.so.1", "/usr/lib/libfontconfig.so.1", "BINARY"),
    ("libexpat.so.1", "/usr/lib/libexpat.so.1", "BINARY"),
    ("libz.so.1", "/usr/lib/libz.so.1", "BINARY"),
    ("libpython3.11.so.1.0", "/usr/lib/libpython3.11.so.1.0", "BINARY"),
]


def _links(src: str) -> list[str]:
    return LINKS[src]


def _without(entries, *dests):
    return [e for e in entries if e[0] not in dests]


def test_libraries_only_a_dropped_plugin_linked_are_left_out():
    after = _without(BEFORE, PLUGIN, "libgtk-3.so.0")            # the spec's filter, GTK by name
    assert B.unneeded(BEFORE, after, _links) == {"libgdk-3.so.0", "libepoxy.so.0", "libXi.so.6"}


def test_what_kept_files_still_link_stays():
    after = _without(BEFORE, PLUGIN)
    gone = B.unneeded(BEFORE, after, _links)
    assert "libX11.so.6" not in gone and "libxcb.so.1" not in gone   # the xcb plugin links them too
    assert "libfontconfig.so.1" not in gone and "libexpat.so.1" not in gone   # through a symlinked Qt library
    assert "libz.so.1" not in gone and "libpython3.11.so.1.0" not in gone    # nothing links libpython
    assert gone == {"libgtk-3.so.0", "libgdk-3.so.0", "libepoxy.so.0", "libXi.so.6"}


def test_nothing_dropped_means_nothing_left_out():
    assert B.unneeded(BEFORE, BEFORE, _links) == set()


@pytest.mark.skipif(not sys.platform.startswith("linux") or shutil.which("objdump") is None,
                    reason="needs Linux ELF files and objdump")
def test_the_elf_reader_agrees_with_objdump():
    files = [Path(sys.executable).resolve(), Path("/bin/sh").resolve()]
    files += sorted(Path(sys.base_prefix).glob("lib/python3*/lib-dynload/_ssl*.so"))[:1]
    for path in files:
        out = subprocess.run(["objdump", "-p", str(path)], capture_output=True, text=True).stdout
        expected = [line.split()[1] for line in out.splitlines() if line.strip().startswith("NEEDED")]
        assert B.needed(path) == expected, path
    assert B.needed(ROOT / "pyproject.toml") == []
    assert B.needed(ROOT / "no-such-file") == []


def _bundle(tmp_path: Path, files: dict[str, list[str]]) -> tuple[Path, dict[Path, list[str]]]:
    bundle = tmp_path / "rwkv-desktop"
    table = {}
    for rel, links in files.items():
        path = bundle / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\x7fELF" + rel.encode())
        table[path] = links
    return bundle, table


def test_system_needs_are_what_the_bundle_links_and_does_not_carry(tmp_path):
    bundle, table = _bundle(tmp_path, {
        "rwkv-desktop": ["libpython3.11.so.1.0", "libc.so.6"],
        "_internal/libpython3.11.so.1.0": ["libz.so.1", "libc.so.6"],
        "_internal/libz.so.1": ["libc.so.6"],
        "_internal/PySide6/Qt/plugins/platforms/libqxcb.so": ["libxcb-icccm.so.4", "libGL.so.1"],
    })
    (bundle / "_internal" / "notes.txt").write_text("not ELF")
    needs = B.system_needs(bundle, table.get)
    assert needs == {"libc.so.6": "_internal/libpython3.11.so.1.0", "libxcb-icccm.so.4":
                     "_internal/PySide6/Qt/plugins/platforms/libqxcb.so",
                     "libGL.so.1": "_internal/PySide6/Qt/plugins/platforms/libqxcb.so"}


CACHE = {"libc.so.6": "/lib/x86_64-linux-gnu/libc.so.6", "libGL.so.1": "/lib/x86_64-linux-gnu/libGL.so.1",
         "libcairo.so.2": "/lib/x86_64-linux-gnu/libcairo.so.2"}
OWNERS = {"/lib/x86_64-linux-gnu/libc.so.6": "libc6", "/lib/x86_64-linux-gnu/libGL.so.1": "libgl1",
          "/lib/x86_64-linux-gnu/libcairo.so.2": "libcairo2"}


def test_depends_are_the_declared_packages_then_the_derived_ones(tmp_path):
    needs = {"libc.so.6": "_internal/libz.so.1", "libcairo.so.2": "_internal/libgdk-3.so.0",
             "libGL.so.1": "_internal/PySide6/Qt/lib/libQt6Gui.so.6",
             "libwayland-egl.so.1": "_internal/PySide6/Qt/plugins/platforms/libqwayland.so"}
    got = B.depends(tmp_path, ["libc6", "libgl1", "xkb-data"], needs=needs, cache=CACHE, owner=OWNERS.get)
    assert got == ["libc6", "libgl1", "xkb-data", "libcairo2"]     # a plugin's missing library is optional


def test_a_library_found_nowhere_stops_the_build(tmp_path):
    needs = {"libmissing.so.1": "_internal/torch/lib/libtorch_cpu.so"}
    with pytest.raises(SystemExit, match="libmissing.so.1 .needed by _internal/torch/lib/libtorch_cpu.so"):
        B.depends(tmp_path, [], needs=needs, cache=CACHE, owner=OWNERS.get)
    with pytest.raises(SystemExit, match="belongs to no package"):
        B.depends(tmp_path, [], needs={"libc.so.6": "x"}, cache=CACHE, owner=lambda path: None)


def test_ldconfig_and_dpkg_output_are_read():
    ldconfig = ("3 libs found in cache `/etc/ld.so.cache'\n"
                "\tlibcairo.so.2 (libc6,x86-64) => /lib/x86_64-linux-gnu/libcairo.so.2\n"
                "\tlibcairo.so.2 (libc6) => /lib/i386-linux-gnu/libcairo.so.2\n"
                "\tlibz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1\n")
    assert B.ld_cache(ldconfig, "x86_64") == {"libcairo.so.2": "/lib/x86_64-linux-gnu/libcairo.so.2",
                                              "libz.so.1": "/lib/x86_64-linux-gnu/libz.so.1"}
    assert B.owner_from_dpkg_search("libcairo2:amd64: /usr/lib/x86_64-linux-gnu/libcairo.so.2\n") == "libcairo2"
    assert B.owner_from_dpkg_search("diversion by x from: /lib/y\nlibb, liba:amd64: /lib/y\n") == "liba"
    assert B.owner_from_dpkg_search("") is None


def test_the_declared_list_reads_commas_lines_and_comments(tmp_path):
    declared = B.read_declared(ROOT / "packaging" / "linux" / "depends.txt")
    assert declared[0] == "libc6" and "libxcb-cursor0" in declared and "xkb-data" in declared
    assert not [d for d in declared if " " in d or "#" in d or "," in d]
    path = tmp_path / "d.txt"
    path.write_text("# comment, with a comma\na, b,\nc  # why\n\n")
    assert B.read_declared(path) == ["a", "b", "c"]
