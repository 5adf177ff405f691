"""The check before the first window: Qt's xcb plugin and the system libraries it needs, with ldd's
output, /etc/os-release and the package manager stood in for."""

from __future__ import annotations

from pathlib import Path

from app import system_libs as S

# ldd on PySide6's libqxcb.so on a minimal Debian 12 (three xcb helpers missing; trimmed).
LDD_MINIMAL = """\
\tlinux-vdso.so.1 (0x00007ffd6b1f5000)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/plugins/platforms/../../lib/libQt6XcbQpa.so.6 (0x00007f1)
\tlibGL.so.1 => /lib/x86_64-linux-gnu/libGL.so.1 (0x00007f2)
\tlibxkbcommon-x11.so.0 => /lib/x86_64-linux-gnu/libxkbcommon-x11.so.0 (0x00007f3)
\tlibxcb-cursor.so.0 => not found
\tlibxcb-icccm.so.4 => not found
\tlibxcb-image.so.0 => /lib/x86_64-linux-gnu/libxcb-image.so.0 (0x00007f4)
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-icccm.so.4 => not found
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f5)
\t/lib64/ld-linux-x86-64.so.2 (0x00007f6)
"""
LDD_COMPLETE = "\n".join(line for line in LDD_MINIMAL.splitlines() if "not found" not in line)
DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n'
UBUNTU = 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\n'
X11 = {"DISPLAY": ":0"}


def test_ldd_output_gives_each_missing_library_once_in_order():
    assert S.missing_from_ldd(LDD_MINIMAL) == ["libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    assert S.missing_from_ldd(LDD_COMPLETE) == []


def test_distributions_map_to_their_package_manager():
    assert S.manager_for(DEBIAN) == "apt"
    assert S.manager_for(UBUNTU) == "apt"
    assert S.manager_for('ID="linuxmint"\nID_LIKE="ubuntu debian"') == "apt"
    assert S.manager_for("ID=fedora\n") == "dnf"
    assert S.manager_for('ID="rocky"\nID_LIKE="rhel centos fedora"') == "dnf"
    assert S.manager_for("ID=arch\n") == "pacman"
    assert S.manager_for('ID="opensuse-tumbleweed"\nID_LIKE="opensuse suse"') == "zypper"
    assert S.manager_for("ID=nixos\n") is None
    assert S.manager_for("") is None


def test_every_library_has_a_package_on_every_distribution():
    for lib, names in S.PACKAGES.items():
        assert len(names) == len(S.MANAGERS) and all(names), lib


def test_the_message_names_the_packages_for_each_distribution():
    missing = S.missing_from_ldd(LDD_MINIMAL)
    text = S.message(missing, "apt")
    assert "libxcb-cursor.so.0 libxcb-icccm.so.4 libxcb-keysyms.so.1" in text
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in text
    assert "sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-keysyms" in text
    assert "sudo pacman -S --needed xcb-util-cursor xcb-util-wm xcb-util-keysyms" in text
    assert "sudo zypper install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in text
    assert text.index("Debian/Ubuntu (this system)") < text.index("Fedora")
    # this distribution first
    fedora = S.message(missing, "dnf")
    assert fedora.index("Fedora (this system)") < fedora.index("Debian/Ubuntu")


def test_an_unknown_library_is_named_not_dropped():
    text = S.message(["libxcb-icccm.so.4", "libweird.so.3"], None)
    assert "libweird.so.3" in text and "search your distribution" in text
    assert "sudo apt-get install libxcb-icccm4" in text


class System:
    """Stands in for the machine: ldd answers from a list, the package manager records commands."""

    def __init__(self, *ldd_outputs: str, install_status: int = 0):
        self.ldd_outputs, self.commands, self.said, self.install_status = list(ldd_outputs), [], [], install_status

    def ldd(self, path: Path) -> str:
        return self.ldd_outputs.pop(0) if len(self.ldd_outputs) > 1 else self.ldd_outputs[0]

    def run(self, cmd: list[str]) -> int:
        self.commands.append(cmd)
        return self.install_status if cmd[:2] != ["apt-get", "update"] else 0

    def check(self, install: bool, *, root: bool, env=X11, os_release=DEBIAN) -> int:
        return S.check(install, env=env, plugin=Path("/venv/libqxcb.so"), ldd=self.ldd, os_release=os_release,
                       is_root=root, run=self.run, out=self.said.append)


def test_nothing_missing_says_nothing():
    system = System(LDD_COMPLETE)
    assert system.check(True, root=True) == 0
    assert system.said == [] and system.commands == []


def test_not_root_stops_with_the_message_and_installs_nothing():
    system = System(LDD_MINIMAL)
    assert system.check(True, root=False) == 1
    assert system.commands == []
    [said] = system.said
    assert "sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in said


def test_root_says_what_it_installs_then_installs_it():
    system = System(LDD_MINIMAL, LDD_COMPLETE)
    assert system.check(True, root=True) == 0
    assert system.commands == [["apt-get", "install", "-y", "--no-install-recommends",
                                "libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1"]]
    [said] = system.said
    assert said.startswith("Qt's X11 (xcb) platform plugin needs") and "Installing them now as root" in said


def test_root_on_a_fresh_system_updates_apt_lists_when_the_install_fails():
    system = System(LDD_MINIMAL, LDD_MINIMAL, install_status=100)
    assert system.check(True, root=True) == 1
    assert [c[:2] for c in system.commands] == [["apt-get", "install"], ["apt-get", "update"], ["apt-get", "install"]]
    assert "sudo apt-get install" in system.said[-1]      # still missing: the message, exit 1


def test_root_without_install_only_reports():
    system = System(LDD_MINIMAL)
    assert system.check(False, root=True) == 1
    assert system.commands == []


def test_root_on_an_unknown_distribution_installs_nothing():
    system = System(LDD_MINIMAL)
    assert system.check(True, root=True, os_release="ID=nixos\n") == 1
    assert system.commands == []


def test_other_platforms_are_not_checked():
    for env in ({"QT_QPA_PLATFORM": "offscreen"}, {"QT_QPA_PLATFORM": "wayland"},
                {"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}):
        system = System(LDD_MINIMAL)
        assert system.check(True, root=True, env=env) == 0, env
        assert system.commands == []
    assert S.wants_xcb({"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"})
    assert S.wants_xcb({"QT_QPA_PLATFORM": "xcb:nomitshm"})
    assert S.wants_xcb({})


def test_the_installed_pyside6_has_an_xcb_plugin_that_this_check_reads():
    import sys

    if not sys.platform.startswith("linux"):
        return
    plugin = S.xcb_plugin()
    assert plugin is not None and plugin.name == "libqxcb.so"
    assert S.missing_libraries(plugin, lambda p: "\tlibxcb-icccm.so.4 => not found\n") == ["libxcb-icccm.so.4"]
