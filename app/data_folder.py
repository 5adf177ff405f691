"""Where conversations and settings live, and what happens when that folder cannot be used.

A damaged database (random bytes, a file cut short) is set aside, never overwritten or deleted,
and the user is told where it went before the app starts with an empty one, or picks another
folder. A folder that cannot be written asks for another folder (remembered for next time) or
quits; the window never opens half broken and nothing ends in a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QCoreApplication

from engine.service import DamagedStoreError, EngineService, UnwritableFolderError, set_aside

from .i18n import error_text

# ask(kind, folder, message) -> "fresh" | "another" | "quit": what the user chose in a dialog.
Ask = Callable[[str, Path, str], str]
# choose() -> a folder the user picked, or None.
Choose = Callable[[], Path | None]


def default_folder() -> Path:
    """The folder chosen last time the usual one could not be used, else the user data folder."""
    from platformdirs import user_config_dir, user_data_dir

    pointer = Path(user_config_dir("RWKV Desktop", "RWKV Desktop")) / "data-folder"
    try:
        chosen = Path(pointer.read_text(encoding="utf-8").strip())
        if chosen.is_dir():
            return chosen
    except OSError:
        pass
    return Path(user_data_dir("RWKV Desktop", "RWKV Desktop"))


def remember(folder: Path) -> None:
    from platformdirs import user_config_dir

    from engine.atomic import atomic_write_bytes

    pointer = Path(user_config_dir("RWKV Desktop", "RWKV Desktop")) / "data-folder"
    try:
        atomic_write_bytes(pointer, str(folder).encode())
    except OSError:
        pass                # the choice then holds for this run only


def open_service(folder: Path, ask: Ask, choose: Choose, on_moved: Callable[[Path], None] = remember
                 ) -> tuple[EngineService, Path] | None:
    """The engine service on ``folder``, or on the folder the user picks instead; None to quit."""
    while True:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            return EngineService(folder), folder
        except DamagedStoreError as e:
            moved = set_aside(folder)
            answer = ask("damaged", folder, QCoreApplication.translate("DataFolder",
                "{error}\n\nIt has been set aside, unchanged, as\n{moved}\n(with its states beside it), so nothing "
                "in it is lost.\n\nStart with an empty conversation list here, or choose another folder?"
            ).format(error=error_text(e), moved=moved))
        except UnwritableFolderError as e:
            answer = ask("unwritable", folder, QCoreApplication.translate("DataFolder",
                "{error}\n\nChoose another folder for your conversations, or quit.").format(error=error_text(e)))
        except OSError as e:
            answer = ask("unwritable", folder, QCoreApplication.translate("DataFolder",
                "The data folder '{folder}' cannot be written ({error}).\n\nChoose another folder for your "
                "conversations, or quit.").format(folder=folder, error=e.strerror or e))
        if answer == "quit":
            return None
        if answer == "another":
            picked = choose()
            if picked is None:
                continue
            folder = Path(picked)
            on_moved(folder)


def qt_ask(kind: str, folder: Path, message: str) -> str:
    """The dialog of :func:`open_service`, shown before the main window exists."""
    from PySide6.QtWidgets import QMessageBox

    translate = QCoreApplication.translate
    box = QMessageBox(QMessageBox.Warning, translate("DataFolder", "RWKV Desktop: conversations"), message)
    fresh = box.addButton(translate("DataFolder", "Start fresh"), QMessageBox.AcceptRole) if kind == "damaged" else None
    another = box.addButton(translate("DataFolder", "Choose another folder…"), QMessageBox.ActionRole)
    box.addButton(translate("DataFolder", "Quit"), QMessageBox.RejectRole)
    box.exec()
    clicked = box.clickedButton()
    return "fresh" if fresh is not None and clicked is fresh else "another" if clicked is another else "quit"


def qt_choose() -> Path | None:
    from PySide6.QtWidgets import QFileDialog

    title = QCoreApplication.translate("DataFolder", "A folder for your conversations")
    folder = QFileDialog.getExistingDirectory(None, title, str(Path.home()))
    return Path(folder) if folder else None
